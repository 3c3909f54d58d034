"""Role maps: which stored tensor (or part of one) plays each canonical role.

Every format has its own naming module with the same signature,
``map_names(tensors, config) -> RoleMap``: :mod:`modelkin.arch.hf_names` for Hugging Face
names (safetensors, HF directories, PyTorch checkpoints), ``gguf_names`` and
``onnx_names`` for those formats. :func:`role_map` picks one by ``source.format``;
:func:`read_role` reads a role's values in the shared orientation.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelkin.arch.roles import Role, RoleRef
from modelkin.io.base import TensorInfo, TensorSource


@dataclass
class RoleMap:
    """Canonical roles of one model.

    ``family`` is the architecture family the names were read as (``"llama"``,
    ``"gemma3"``, ``"bert"``, ``"gpt2"``, ``"gpt_neox"``..., ``"unknown"``); ``unmapped``
    lists parameter tensors given no role; ``notes`` says what was inferred or ignored and
    why, in sentences; ``buffers`` lists tensors that are not parameters at all (position
    ids, rotary frequencies, causal masks): they are neither mapped nor counted.
    """

    family: str
    roles: dict[Role, RoleRef] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    buffers: list[str] = field(default_factory=list)

    @property
    def num_layers(self) -> int:
        """1 + the highest layer index that has a role (0 if none)."""
        layers = [r.layer for r in self.roles if r.layer is not None]
        return max(layers) + 1 if layers else 0

    def get(self, kind: str, layer: int | None = None, param: str = "weight") -> RoleRef | None:
        return self.roles.get(Role(kind, layer, param))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, roles sorted (layer-less first, then by layer)."""

        def key(r: Role) -> tuple[int, int, str, str]:
            return (0 if r.layer is None else 1, r.layer or 0, r.kind, r.param)

        roles = {}
        for r in sorted(self.roles, key=key):
            ref = self.roles[r]
            d: dict[str, Any] = {"name": ref.name}
            if ref.row_start is not None:
                d["rows"] = [ref.row_start, ref.row_stop]
            if ref.row_period is not None:
                d["row_period"] = ref.row_period
            if ref.transposed:
                d["transposed"] = True
            roles[str(r)] = d
        return {
            "family": self.family,
            "roles": roles,
            "unmapped": list(self.unmapped),
            "notes": list(self.notes),
        }


def role_map(source: TensorSource) -> RoleMap:
    """The role map of ``source``, using the naming scheme of its format."""
    tensors = source.tensors()
    config: Mapping[str, Any] = source.config()
    if source.format == "gguf":
        gguf_names = importlib.import_module("modelkin.arch.gguf_names")
        return gguf_names.map_names(tensors, config)  # type: ignore[no-any-return]
    if source.format == "onnx":
        onnx_names = importlib.import_module("modelkin.arch.onnx_names")
        return onnx_names.map_names(tensors, config)  # type: ignore[no-any-return]
    from modelkin.arch import hf_names

    return hf_names.map_names(tensors, config)


def _select_rows(a: np.ndarray, ref: RoleRef) -> np.ndarray:
    if ref.row_period is not None:
        p = ref.row_period
        start = ref.row_start or 0
        stop = ref.row_stop if ref.row_stop is not None else p
        grouped = a.reshape(-1, p, *a.shape[1:])
        return grouped[:, start:stop].reshape(-1, *a.shape[1:])
    if ref.row_start is not None:
        return a[ref.row_start : ref.row_stop]
    return a


def read_role(source: TensorSource, ref: RoleRef) -> np.ndarray:
    """The values of a role as float32 in HF ``nn.Linear`` orientation ``[out, in]``.

    Only a contiguous, untransposed row range is passed down to ``read`` (so the reader
    touches just those bytes); transposed and interleaved refs read the tensor whole."""
    if not ref.transposed and ref.row_period is None:
        return source.read(ref.name, ref.rows)
    a = source.read(ref.name)
    if ref.transposed and a.ndim == 2:
        a = a.T
    return np.ascontiguousarray(_select_rows(a, ref))


def role_shape(info: TensorInfo, ref: RoleRef) -> tuple[int, ...]:
    """The shape :func:`read_role` returns for ``ref`` on the tensor described by ``info``,
    without reading data."""
    shape = list(info.shape)
    if ref.transposed and len(shape) == 2:
        shape.reverse()
    if ref.row_start is not None and shape:
        n = ref.row_period or shape[0]
        stop = ref.row_stop if ref.row_stop is not None else n
        width = len(range(*slice(ref.row_start, stop).indices(n)))
        shape[0] = width * (shape[0] // n) if ref.row_period else width
    return tuple(shape)
