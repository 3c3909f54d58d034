"""The registry service: HTTP API (JSON, RFC 9457 errors) and a server-rendered web UI.

Thin by design: every route parses its input, calls :mod:`modelkin.registry`,
:mod:`modelkin.ledger` or :mod:`modelkin.labels`, and shapes the answer. Nothing here
computes a verdict, a digest or a proof itself.
"""

from __future__ import annotations

from modelkin.server.app import create_app
from modelkin.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
