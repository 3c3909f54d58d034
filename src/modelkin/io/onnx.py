"""ONNX reader: initializers as float32 weights in HF orientation.

The model is parsed with ``onnx.load(path, load_external_data=False)``; initializer data
is then read here:

* in-protobuf data with ``onnx.numpy_helper.to_array`` (pure data). A protobuf holds at
  most 2 GB and ``onnx.load`` keeps all of it in memory: acceptable because models larger
  than that must use external data, which is never loaded up front;
* external data (``data_location = EXTERNAL``, ONNX ``external_data`` keys ``location``,
  ``offset``, ``length``) straight from the data file, one tensor at a time. The location
  must be a relative path that stays inside the model's directory (``../`` escapes,
  absolute paths and symlinks pointing outside are refused) and ``offset + length`` must
  lie inside that file.

How each initializer is used is found by tracing the graph
(:mod:`modelkin.io._onnx_graph`): ``MatMul`` weights (``[in, out]``) are transposed to
``[out, in]``; int8/uint8 weights of ``DequantizeLinear`` / ``MatMulInteger`` /
``QLinearMatMul`` are dequantized, ``(q - zero_point) * scale``, per tensor or per axis.
Their scale and zero-point initializers are folded into the weight and not listed as
tensors of their own. ``TensorInfo.extra["hf_name"]`` carries the HF-style name recovered
from the graph, which :mod:`modelkin.arch.onnx_names` maps to roles.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto, helper, numpy_helper

from modelkin.errors import ModelFormatError
from modelkin.io._onnx_graph import GraphIndex, WeightUse, strip_quant_suffix
from modelkin.io.base import MAX_RANK, TensorInfo, TensorSource
from modelkin.io.tokenizer import Tokenizer, find_tokenizer

#: Bound on the size of an ``.onnx`` protobuf we are willing to parse in memory (the
#: protobuf format itself cannot exceed 2 GiB).
MAX_PROTOBUF_BYTES = 2 * 1024**3
_QUANT_TYPES = {TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16}
_HF_LIKE = re.compile(r"^[A-Za-z_][\w.]*\.(weight|bias)$")
_LAYER_IDX = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks|block)\.(\d+)\.")


class ONNXSource(TensorSource):
    """An ``.onnx`` file (plus its external data files) as a :class:`TensorSource`."""

    format = "onnx"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            raise ModelFormatError(self.path, f"cannot read: {exc.strerror or exc}") from None
        if size == 0:
            raise ModelFormatError(self.path, "empty file")
        if size > MAX_PROTOBUF_BYTES:
            raise ModelFormatError(self.path, f"{size} bytes is larger than any ONNX protobuf")
        try:
            self._model = onnx.load(str(self.path), load_external_data=False)
        except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError, OSError) as exc:
            raise ModelFormatError(self.path, f"not a valid ONNX protobuf ({exc})") from None
        graph = self._model.graph
        if not graph.node and not graph.initializer:
            raise ModelFormatError(self.path, "not an ONNX model: the graph is empty")
        self._dir = self.path.parent.resolve()
        self._inits: dict[str, TensorProto] = {t.name: t for t in graph.initializer}
        index = GraphIndex(graph)
        self._uses: dict[str, WeightUse] = index.weight_uses()
        aux = {u.scale for u in self._uses.values()} | {u.zero_point for u in self._uses.values()}
        self._aux = {a for a in aux if a is not None} | index.aux_initializers()
        self._problems: list[str] = []
        self._infos = self._build_infos()

    # -- listing ------------------------------------------------------------------------
    def _build_infos(self) -> list[TensorInfo]:
        infos = []
        for name, t in self._inits.items():
            if name in self._aux and name not in self._uses:
                continue
            dims = tuple(int(d) for d in t.dims)
            if len(dims) > MAX_RANK or any(d < 0 for d in dims):
                raise ModelFormatError(self.path, f"initializer {name!r} has shape {list(dims)}")
            use = self._uses.get(name)
            shape = dims
            if use is not None and use.transposed and len(dims) == 2:
                shape = (dims[1], dims[0])
            quantized = use is not None and use.scale is not None
            if use is not None and t.data_type in _QUANT_TYPES and use.scale is None:
                self._problems.append(
                    f"initializer {name!r} is quantized but its scale was not found in the graph"
                )
            hint = use.hint if use is not None else None
            if _HF_LIKE.match(strip_quant_suffix(name)):
                hint = strip_quant_suffix(name)
            infos.append(
                TensorInfo(
                    name=name,
                    shape=shape,
                    dtype=helper.tensor_dtype_to_string(t.data_type).removeprefix("TensorProto."),
                    nbytes=self._nbytes(t),
                    quantized=quantized,
                    extra={
                        "hf_name": hint,
                        "transposed": bool(use and use.transposed and len(dims) == 2),
                        "op": use.op if use else "",
                        "external": t.data_location == TensorProto.EXTERNAL,
                    },
                )
            )
        return infos

    @staticmethod
    def _nbytes(t: TensorProto) -> int:
        if t.data_location == TensorProto.EXTERNAL:
            ext = {e.key: e.value for e in t.external_data}
            if ext.get("length", "").isdigit():
                return int(ext["length"])
        if t.raw_data:
            return len(t.raw_data)
        try:
            item = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
        except (KeyError, TypeError, ValueError):
            return 0
        n = 1
        for d in t.dims:
            n *= int(d)
        return n * item

    def tensors(self) -> list[TensorInfo]:
        return list(self._infos)

    # -- reading ------------------------------------------------------------------------
    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        t = self._inits.get(name)
        if t is None or (name in self._aux and name not in self._uses):
            raise ModelFormatError(self.path, f"no weight initializer named {name!r}")
        a = self._array(t)
        use = self._uses.get(name)
        if use is not None and use.scale is not None:
            a = self._dequantize(a, use)
        a = a.astype(np.float32, copy=False)
        if use is not None and use.transposed and a.ndim == 2:
            a = a.T
        if rows is not None:
            a = a[rows]
        return np.ascontiguousarray(a, dtype=np.float32)

    def _dequantize(self, q: np.ndarray, use: WeightUse) -> np.ndarray:
        """``(q - zero_point) * scale`` (ONNX DequantizeLinear), per tensor or along
        ``axis`` when the scale is 1-D."""
        assert use.scale is not None
        st = self._inits.get(use.scale)
        if st is None:
            raise ModelFormatError(
                self.path, f"scale {use.scale!r} of {use.name!r} is not an initializer"
            )
        scale = self._array(st).astype(np.float32)
        zp = np.zeros((), dtype=np.float32)
        if use.zero_point is not None:
            zt = self._inits.get(use.zero_point)
            if zt is None:
                raise ModelFormatError(
                    self.path,
                    f"zero point {use.zero_point!r} of {use.name!r} is not an initializer",
                )
            zp = self._array(zt).astype(np.float32)
        x = q.astype(np.float32)
        if scale.size == 1 and zp.size == 1:
            return (x - zp.reshape(())) * scale.reshape(())
        axis = use.axis if use.axis is not None else 1
        if not -x.ndim <= axis < x.ndim:
            raise ModelFormatError(self.path, f"{use.name!r}: quantization axis {axis} invalid")
        axis %= x.ndim
        n = x.shape[axis]
        if scale.size not in (1, n) or zp.size not in (1, n):
            raise ModelFormatError(
                self.path,
                f"{use.name!r}: per-axis scale/zero point of size {scale.size}/{zp.size}"
                f" do not match axis {axis} of length {n} (blocked quantization is not read)",
            )
        bshape = [1] * x.ndim
        bshape[axis] = -1
        return (x - zp.reshape(bshape if zp.size > 1 else [])) * scale.reshape(
            bshape if scale.size > 1 else []
        )

    def _array(self, t: TensorProto) -> np.ndarray:
        if t.data_location != TensorProto.EXTERNAL:
            try:
                return numpy_helper.to_array(t)
            except (ValueError, TypeError, KeyError) as exc:
                raise ModelFormatError(self.path, f"initializer {t.name!r}: {exc}") from None
        return self._external(t)

    def _external(self, t: TensorProto) -> np.ndarray:
        ext = {e.key: e.value for e in t.external_data}
        loc = ext.get("location", "")
        where = f"{self.path} (initializer {t.name!r})"
        rel = Path(loc)
        if not loc or rel.is_absolute() or ".." in rel.parts:
            raise ModelFormatError(
                where,
                f"external data location {loc!r} must be a relative path inside the model directory",
            )
        target = (self._dir / rel).resolve()
        if not target.is_relative_to(self._dir):
            raise ModelFormatError(
                where, f"external data {loc!r} resolves outside the model directory"
            )
        if not target.is_file():
            raise ModelFormatError(where, f"external data file {loc!r} is missing")
        try:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).newbyteorder("<")
        except (KeyError, TypeError, ValueError):
            raise ModelFormatError(where, f"unsupported external data type {t.data_type}") from None
        if dtype.kind not in "biuf":
            raise ModelFormatError(where, f"unsupported external data type {dtype}")
        n = 1
        for d in t.dims:
            n *= int(d)
        need = n * dtype.itemsize
        try:
            offset = int(ext.get("offset", "0"))
            length = int(ext.get("length", str(need)))
        except ValueError:
            raise ModelFormatError(where, "external data offset/length are not integers") from None
        size = target.stat().st_size
        if offset < 0 or length != need or offset + length > size:
            raise ModelFormatError(
                where,
                f"external data [{offset}, {offset + length}) of {loc!r} ({size} bytes) does not"
                f" hold {need} bytes for shape {list(t.dims)}",
            )
        with target.open("rb") as f:
            f.seek(offset)
            buf = f.read(length)
        if len(buf) != length:
            raise ModelFormatError(where, f"external data file {loc!r} is truncated")
        return np.frombuffer(buf, dtype=dtype).reshape(tuple(int(d) for d in t.dims))

    # -- metadata ------------------------------------------------------------------------
    def metadata(self) -> Mapping[str, Any]:
        m = self._model
        out: dict[str, Any] = {p.key: p.value for p in m.metadata_props}
        out.update(
            {
                "onnx.producer_name": m.producer_name,
                "onnx.producer_version": m.producer_version,
                "onnx.ir_version": m.ir_version,
                "onnx.opset": {o.domain or "ai.onnx": o.version for o in m.opset_import},
            }
        )
        return out

    def config(self) -> Mapping[str, Any]:
        """Best effort, from names and shapes (ONNX has no config): ``num_hidden_layers``
        from the layer indices in recovered names, ``vocab_size``/``hidden_size`` from the
        embedding matrix, ``intermediate_size`` from the widest MLP matrix; ``model_type``
        only when ``metadata_props`` names it."""
        cfg: dict[str, Any] = {}
        props = {p.key: p.value for p in self._model.metadata_props}
        if "model_type" in props:
            cfg["model_type"] = props["model_type"]
        names = [(t.extra.get("hf_name") or t.name, t) for t in self._infos]
        layers = {int(m.group(1)) for n, _ in names if (m := _LAYER_IDX.search(n))}
        if layers:
            cfg["num_hidden_layers"] = max(layers) + 1
        emb = [
            t
            for n, t in names
            if len(t.shape) == 2 and "emb" in n.lower() and "position" not in n.lower()
        ]
        if emb:
            best = max(emb, key=lambda t: t.shape[0])
            cfg["vocab_size"], cfg["hidden_size"] = best.shape
        mats = Counter(t.shape for _, t in names if len(t.shape) == 2)
        hidden = cfg.get("hidden_size")
        if hidden:
            widths = [
                s[0]
                for s in mats
                if s[1] == hidden
                and s[0] != hidden
                and s[0] in {r[1] for r in mats if r[0] == hidden}
            ]
            if widths:
                cfg["intermediate_size"] = max(widths)
        return cfg

    def tokenizer(self) -> Tokenizer | None:
        """ONNX files carry no vocabulary; exporters (optimum, sentence-transformers) put
        the tokenizer files beside the model, so look there."""
        return find_tokenizer(self.path.parent)

    def files(self) -> list[Path]:
        out = [self.path]
        for t in self._inits.values():
            if t.data_location == TensorProto.EXTERNAL:
                loc = {e.key: e.value for e in t.external_data}.get("location")
                if loc and ".." not in Path(loc).parts and not Path(loc).is_absolute():
                    p = self.path.parent / loc
                    if p not in out and p.is_file():
                        out.append(p)
        return out

    def problems(self) -> list[str]:
        return list(self._problems)
