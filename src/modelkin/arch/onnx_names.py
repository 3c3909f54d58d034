"""ONNX initializer names -> canonical roles.

The ONNX reader recovers an HF-style name for each weight (``TensorInfo.extra["hf_name"]``:
the initializer's own name when the exporter kept it, else one traced from the graph: the
bias it is added to, or the consuming node's name). Those names are mapped with the HF
tables (:mod:`modelkin.arch.hf_names`) after stripping sentence-transformers wrappers
(``0.auto_model.``, ``model.0.auto_model.``), and the roles point back at the real
initializer names.

Orientation: the reader already returns every matrix ``[out, in]``, so refs are never
``transposed``. For gpt2 (whose HF ``Conv1D`` weights are ``[in, out]``) the HF tables are
given the ``[in, out]`` shape so they split fused QKV rows correctly, and the transpose
flag they set is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from modelkin.arch import hf_names
from modelkin.arch.rolemap import RoleMap
from modelkin.arch.roles import RoleRef
from modelkin.io.base import TensorInfo

_ST_WRAPPER = re.compile(r"^(?:model\.)?(?:\d+\.)?auto_model\.")


def _hf_name(t: TensorInfo) -> str:
    hint = t.extra.get("hf_name") if t.extra else None
    name = hint if isinstance(hint, str) and hint else t.name
    return _ST_WRAPPER.sub("", name)


def map_names(tensors: list[TensorInfo], config: Mapping[str, Any]) -> RoleMap:
    """Map ONNX initializers to roles through their recovered HF-style names."""
    renamed: list[TensorInfo] = []
    back: dict[str, str] = {}
    notes: list[str] = []
    buffers: list[str] = []
    for t in tensors:
        if t.dtype.upper().startswith(("INT64", "INT32", "BOOL")) and not t.quantized:
            buffers.append(t.name)  # shape/index constants, not weights
            continue
        hf = _hf_name(t)
        if hf in back:  # two initializers claim one name: keep the first
            notes.append(f"{t.name} and {back[hf]} both look like {hf}; kept {back[hf]}")
            hf = t.name
        back[hf] = t.name
        renamed.append(replace(t, name=hf))
    rm = hf_names.map_names(renamed, config)
    if rm.family == "gpt2":
        flipped = [
            replace(t, shape=(t.shape[1], t.shape[0])) if len(t.shape) == 2 else t for t in renamed
        ]
        rm = hf_names.map_names(flipped, config)
    roles = {
        role: RoleRef(
            back.get(ref.name, ref.name), ref.row_start, ref.row_stop, False, ref.row_period
        )
        for role, ref in rm.roles.items()
    }
    traced = sum(1 for t in tensors if t.extra and t.extra.get("hf_name") not in (None, t.name))
    if traced:
        notes.append(f"{traced} weight names recovered from the graph (bias or node names)")
    return RoleMap(
        family=rm.family,
        roles=roles,
        unmapped=sorted(back.get(n, n) for n in rm.unmapped),
        notes=rm.notes + notes,
        buffers=sorted(buffers + [back.get(n, n) for n in rm.buffers]),
    )
