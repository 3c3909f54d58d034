"""Reading the operator's API-token file (``{"<token>": "<organisation>", ...}``).

The tokens are bearer secrets: whoever reads the file can write as every organisation in
it. So the file must be private to the server's user (like an SSH key): a file that the
group or others may read is refused, with the command that fixes it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from modelkin.errors import ModelkinError

MAX_TOKEN_FILE = 1 << 20


def load_tokens(path: Path) -> dict[str, str]:
    """Token -> organisation; refuses anything but a private, small JSON object of strings."""
    try:
        info = path.stat()
        if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            mode = stat.S_IMODE(info.st_mode)
            raise ModelkinError(
                path,
                f"token file is readable or writable by other users (mode {mode:04o}); "
                f"make it private with `chmod 600 {path}`",
            )
        if info.st_size > MAX_TOKEN_FILE:
            raise ModelkinError(path, "token file is larger than 1 MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelkinError(path, "token file not found") from None
    except ModelkinError:
        raise
    except (OSError, ValueError) as exc:
        raise ModelkinError(path, f"unreadable token file: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) >= 16 for k, v in data.items()
    ):
        raise ModelkinError(path, "expected a JSON object of token (>= 16 chars) -> organisation")
    return dict(data)
