"""Everything ``modelkin inspect`` shows about a model, as one JSON-able dict.

Lives in the library (not the CLI) so that the CLI, the HTTP API and tests all see the
same, stable description: keys are fixed, lists are sorted, no timings or absolute
machine-specific values other than the path the caller gave.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelkin.arch.rolemap import role_map, role_shape
from modelkin.arch.structure import structure
from modelkin.io import open_model
from modelkin.io.base import TensorSource

#: Version of the description layout (bump when keys change meaning).
DESCRIBE_VERSION = 1


def describe_source(source: TensorSource) -> dict[str, Any]:
    """Format, files, structure, tokenizer summary, role map and problems of ``source``."""
    rm = role_map(source)
    sig = structure(source, rm)
    infos = {t.name: t for t in source.tensors()}
    tok = source.tokenizer()
    roles = []
    for role, ref in sorted(
        rm.roles.items(),
        key=lambda kv: (kv[0].layer is not None, kv[0].layer or 0, kv[0].kind, kv[0].param),
    ):
        info = infos.get(ref.name)
        entry: dict[str, Any] = {
            "role": str(role),
            "tensor": ref.name,
            "shape": list(role_shape(info, ref)) if info else None,
            "dtype": info.dtype if info else None,
        }
        if ref.row_start is not None:
            entry["rows"] = [ref.row_start, ref.row_stop]
        if ref.row_period is not None:
            entry["row_period"] = ref.row_period
        if ref.transposed:
            entry["transposed"] = True
        roles.append(entry)
    base = source.path if source.path.is_dir() else source.path.parent
    files = []
    for f in source.files():
        try:
            rel = str(f.relative_to(base))
        except ValueError:
            rel = str(f)
        files.append({"path": rel, "bytes": f.stat().st_size})
    return {
        "describe_version": DESCRIBE_VERSION,
        "path": str(source.path),
        "format": source.format,
        "files": files,
        "tensor_count": len(infos),
        "structure": sig.to_dict(),
        "structure_digest": sig.digest(),
        "tokenizer": tok.summary() if tok is not None else None,
        "family": rm.family,
        "roles": roles,
        "unmapped": [
            {"tensor": n, "shape": list(infos[n].shape) if n in infos else None}
            for n in rm.unmapped
        ],
        "notes": list(rm.notes),
        "problems": list(source.problems()),
    }


def describe_model(path: str | Path) -> dict[str, Any]:
    """Open the model at ``path`` and describe it (see :func:`describe_source`)."""
    with open_model(path) as source:
        return describe_source(source)
