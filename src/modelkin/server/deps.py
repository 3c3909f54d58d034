"""Request-scoped access to the server state (FastAPI dependency)."""

from __future__ import annotations

from fastapi import Request

from modelkin.server.state import ServerState


def get_state(request: Request) -> ServerState:
    """The app's :class:`ServerState`."""
    state: ServerState = request.app.state.modelkin
    return state
