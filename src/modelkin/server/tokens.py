"""Reading the operator's API-token file (``{"<token>": "<organisation>", ...}``)."""

from __future__ import annotations

import json
from pathlib import Path

from modelkin.errors import ModelkinError

MAX_TOKEN_FILE = 1 << 20


def load_tokens(path: Path) -> dict[str, str]:
    """Token -> organisation; refuses anything but a small JSON object of strings."""
    try:
        if path.stat().st_size > MAX_TOKEN_FILE:
            raise ModelkinError(path, "token file is larger than 1 MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelkinError(path, "token file not found") from None
    except (OSError, ValueError) as exc:
        raise ModelkinError(path, f"unreadable token file: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) >= 16 for k, v in data.items()
    ):
        raise ModelkinError(path, "expected a JSON object of token (>= 16 chars) -> organisation")
    return dict(data)
