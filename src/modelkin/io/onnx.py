"""ONNX reader: initializers as float32 weights in HF orientation.

The protobuf is walked lazily (:mod:`modelkin.io._onnx_proto`): the graph, nodes and
initializer metadata are parsed, but initializer *values* stay in the file as byte spans,
so opening a model costs memory for its graph only, never for its weights. Values are
then read here, one initializer at a time:

* in-protobuf data (``raw_data``, or packed ``float_data``/``double_data``) with
  ``pread`` of just its bytes, and of just the requested rows when the stored layout
  allows (a row range of an untransposed, unquantized tensor); other encodings
  (varint-packed ``int32_data`` and the like) by re-parsing that one TensorProto and
  ``onnx.numpy_helper.to_array`` (pure data);
* external data (``data_location = EXTERNAL``, ONNX ``external_data`` keys ``location``,
  ``offset``, ``length``) straight from the data file, one tensor at a time. The location
  must be a relative path that stays inside the model's directory (``../`` escapes,
  absolute paths and symlinks pointing outside are refused) and ``offset + length`` must
  lie inside that file.

How each initializer is used is found by tracing the graph
(:mod:`modelkin.io._onnx_graph`): ``MatMul`` weights (``[in, out]``) are transposed to
``[out, in]``; int8/uint8 weights of ``DequantizeLinear`` / ``MatMulInteger`` /
``QLinearMatMul`` are dequantized, ``(q - zero_point) * scale``, per tensor or per axis,
and those the graph dequantizes itself (``Mul(Cast(q), scale)``) with its broadcasting.
Their scale and zero-point initializers are folded into the weight and not listed as
tensors of their own. ``TensorInfo.extra["hf_name"]`` carries the HF-style name recovered
from the graph, which :mod:`modelkin.arch.onnx_names` maps to roles.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from modelkin.errors import ModelFormatError
from modelkin.io._onnx_graph import GraphIndex, WeightUse, strip_quant_suffix
from modelkin.io._onnx_layout import positional_names
from modelkin.io._onnx_proto import DataSpan, LazyModel, load_lazy
from modelkin.io.base import MAX_RANK, TensorInfo, TensorSource
from modelkin.io.tokenizer import Tokenizer, find_tokenizer

#: Bound on the size of an ``.onnx`` protobuf we are willing to parse in memory (the
#: protobuf format itself cannot exceed 2 GiB).
MAX_PROTOBUF_BYTES = 2 * 1024**3
_QUANT_TYPES = {TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16}
#: Element types whose ``raw_data`` is plain little-endian numpy data (the others, such as
#: bfloat16, float8 and packed int4, go through ``numpy_helper.to_array``).
_PLAIN_TYPES: dict[int, str] = {
    TensorProto.FLOAT: "<f4",
    TensorProto.DOUBLE: "<f8",
    TensorProto.FLOAT16: "<f2",
    TensorProto.INT8: "<i1",
    TensorProto.UINT8: "<u1",
    TensorProto.INT16: "<i2",
    TensorProto.UINT16: "<u2",
    TensorProto.INT32: "<i4",
    TensorProto.UINT32: "<u4",
    TensorProto.INT64: "<i8",
    TensorProto.UINT64: "<u8",
}
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
            self._file = self.path.open("rb")
        except OSError as exc:
            raise ModelFormatError(self.path, f"cannot read: {exc.strerror or exc}") from None
        try:
            self._size = size
            with mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                lazy = load_lazy(mm, self.path)
                if hasattr(mmap, "MADV_DONTNEED"):  # drop the walked pages from our RSS
                    with contextlib.suppress(OSError, ValueError):
                        mm.madvise(mmap.MADV_DONTNEED)
            self._setup(lazy)
        except BaseException:
            self._file.close()
            raise

    def _setup(self, lazy: LazyModel) -> None:
        """Index the lazily parsed model: initializers, how the graph uses them, infos."""
        #: Bytes of tensor data read from the file so far (benchmarks report it).
        self.bytes_read = 0
        self._model = lazy.model
        self._last: tuple[str, np.ndarray] | None = None
        self._spans: dict[str, DataSpan] = lazy.spans
        graph = self._model.graph
        if not graph.node and not graph.initializer:
            raise ModelFormatError(self.path, "not an ONNX model: the graph is empty")
        self._dir = self.path.parent.resolve()
        # proto2 string fields come back as bytes when they are not valid UTF-8
        texts = [t.name for t in graph.initializer]
        for n in graph.node:
            texts.extend((n.name, n.op_type, *n.input, *n.output))
        if not all(isinstance(x, str) for x in texts):
            raise ModelFormatError(self.path, "a tensor or node name is not valid UTF-8 text")
        self._inits: dict[str, TensorProto] = {t.name: t for t in graph.initializer}
        index = GraphIndex(graph)
        self._uses: dict[str, WeightUse] = index.weight_uses()
        aux = {u.scale for u in self._uses.values()} | {u.zero_point for u in self._uses.values()}
        self._aux = {a for a in aux if a is not None} | index.aux_initializers()
        self._problems: list[str] = []
        self._by_position = self._positional(index)
        self._infos = self._build_infos()

    # -- listing ------------------------------------------------------------------------
    def _positional(self, index: GraphIndex) -> dict[str, str]:
        """HF-style names from graph position for weights whose names say nothing (see
        :mod:`modelkin.io._onnx_layout`); only computed when some weight lacks a name."""
        anonymous = [
            n
            for n, u in self._uses.items()
            if u.hint is None and not _HF_LIKE.match(strip_quant_suffix(n))
        ]
        if not anonymous:
            return {}
        shapes = {}
        for n, u in self._uses.items():
            dims = tuple(int(d) for d in self._inits[n].dims)
            shapes[n] = (dims[1], dims[0]) if u.transposed and len(dims) == 2 else dims
        names = positional_names(index, self._uses, shapes)
        if names:
            self._problems.append(
                f"{len(names)} anonymous weights named by their position in the graph"
            )
        return names

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
            elif hint is None:
                hint = self._by_position.get(name)
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

    def _nbytes(self, t: TensorProto) -> int:
        if t.data_location == TensorProto.EXTERNAL:
            ext = {e.key: e.value for e in t.external_data}
            if ext.get("length", "").isdigit():
                return int(ext["length"])
        span = self._spans.get(t.name)
        if span is not None and span.raw:
            return span.length
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
        last = self._last  # one load: another thread may replace it meanwhile
        if last is not None and last[0] != name:
            self._last = last = None  # hold at most one tensor, and never two at once
        use = self._uses.get(name)
        plain = (use is None or (use.scale is None and not use.transposed)) and t.dims
        if rows is not None and plain and rows.step in (None, 1):
            part = self._raw_rows(t, rows)
            if part is not None:
                return np.ascontiguousarray(part, dtype=np.float32)
        if rows is not None and last is not None:
            return np.array(last[1][rows], dtype=np.float32, order="C")  # a copy
        a = self._array(t)
        if use is not None and use.scale is not None:
            a = self._dequantize(a, use)
        a = a.astype(np.float32, copy=False)
        if use is not None and use.transposed and a.ndim == 2:
            a = a.T
        if rows is None:
            return np.ascontiguousarray(a, dtype=np.float32)
        # Rows of a transposed or quantized tensor need all of it: keep it for the next
        # row ranges of the same tensor (a fingerprint reads several blocks in a row).
        self._last = (name, a)
        return np.array(a[rows], dtype=np.float32, order="C")  # a copy, never a view of it

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
        if use.broadcast:  # Mul(Cast(q) - zp, scale): the graph's own broadcasting
            try:
                out = (x - zp) * scale
            except ValueError:
                out = None
            if out is None or out.shape != x.shape:
                raise ModelFormatError(
                    self.path,
                    f"{use.name!r}: scale {list(scale.shape)} / zero point {list(zp.shape)} "
                    f"do not broadcast to the weight's shape {list(x.shape)}",
                )
            return out
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
        if t.data_location == TensorProto.EXTERNAL:
            return self._external(t)
        span = self._spans.get(t.name)
        if span is None:  # no values in the file (an empty tensor)
            full = t
        else:
            plain = self._raw_rows(t, None)
            if plain is not None:
                return plain
            full = TensorProto()
            lo, hi = span.message
            try:
                full.ParseFromString(self._pread(lo, hi - lo, t.name).tobytes())
            except Exception as exc:  # protobuf raises DecodeError, RuntimeError...
                raise ModelFormatError(self.path, f"initializer {t.name!r}: {exc}") from None
        try:
            return numpy_helper.to_array(full)
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelFormatError(self.path, f"initializer {t.name!r}: {exc}") from None

    def _raw_rows(self, t: TensorProto, rows: slice | None) -> np.ndarray | None:
        """Rows ``rows`` (all when None) of an in-file initializer stored as plain
        little-endian values, read straight from the file; None for other encodings."""
        span = self._spans.get(t.name)
        dtype = _PLAIN_TYPES.get(t.data_type)
        if span is None or not span.raw or dtype is None:
            return None
        dims = tuple(int(d) for d in t.dims)
        item = np.dtype(dtype).itemsize
        numel = 1
        for d in dims:
            numel *= d
        if numel * item != span.length:
            raise ModelFormatError(
                self.path,
                f"initializer {t.name!r}: {span.length} bytes of data for shape {list(dims)}"
                f" of {np.dtype(dtype).name}",
            )
        if rows is None or not dims:
            raw = self._pread(span.offset, span.length, t.name)
            return np.frombuffer(raw, dtype=dtype).reshape(dims)
        start, stop, _ = rows.indices(dims[0])
        stop = max(start, stop)
        row_bytes = span.length // dims[0] if dims[0] else 0
        raw = self._pread(span.offset + start * row_bytes, (stop - start) * row_bytes, t.name)
        return np.frombuffer(raw, dtype=dtype).reshape((stop - start, *dims[1:]))

    def _pread(self, offset: int, size: int, name: str) -> np.ndarray:
        """``size`` bytes of the ``.onnx`` file at ``offset`` (a fresh buffer). ``pread``,
        not a memory map: the page cache serves it without mapping pages into us."""
        if offset < 0 or offset + size > self._size:
            raise ModelFormatError(self.path, f"initializer {name!r}: data runs past the file end")
        out = np.empty(size, dtype=np.uint8)
        got = 0
        while got < size:
            try:
                if hasattr(os, "preadv"):
                    n = os.preadv(self._file.fileno(), [out[got:].data], offset + got)
                else:  # pragma: no cover - platforms without preadv (Windows)
                    self._file.seek(offset + got)
                    n = self._file.readinto(out[got:].data) or 0
            except (OSError, ValueError) as exc:
                raise ModelFormatError(
                    self.path, f"initializer {name!r}: cannot read ({exc})"
                ) from None
            if n <= 0:
                raise ModelFormatError(self.path, f"initializer {name!r}: the file is truncated")
            got += n
        self.bytes_read += size
        return out

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
            heads = self._graph_heads(hidden)
            if heads is not None:
                cfg["num_attention_heads"] = heads
        eps = self._graph_norm_eps()
        if eps is not None:
            cfg["layer_norm_eps"] = eps
        return cfg

    def _constant_ints(self) -> dict[str, list[int]]:
        """Small integer constants of the graph (``Constant`` nodes and 1-D initializers
        of at most 8 values), by output name."""
        out: dict[str, list[int]] = {}
        for n in self._model.graph.node:
            if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
                t = n.attribute[0].t
                if t.data_type in (TensorProto.INT64, TensorProto.INT32) and len(t.dims) <= 1:
                    vals = numpy_helper.to_array(t).reshape(-1)
                    if vals.size <= 8:
                        out[n.output[0]] = [int(v) for v in vals]
        return out

    def _graph_heads(self, hidden: int) -> int | None:
        """Attention head count from the graph: exporters split heads with a ``Reshape``
        to ``(batch, seq, heads, head_dim)`` whose shape is a ``Concat`` ending in two
        constants (or one constant shape) with ``heads * head_dim == hidden``. The first
        such reshape is taken; None when no reshape shows it."""
        consts = self._constant_ints()
        producers = {o: n for n in self._model.graph.node for o in n.output}
        for n in self._model.graph.node:
            if n.op_type != "Reshape" or len(n.input) < 2:
                continue
            shape = consts.get(n.input[1])
            if shape is None:
                cat = producers.get(n.input[1])
                if cat is None or cat.op_type != "Concat":
                    continue
                shape = [v for i in cat.input for v in consts.get(i, [-1])]
            if len(shape) >= 2 and shape[-1] > 0 and shape[-2] > 0:
                h, d = shape[-2], shape[-1]
                if h * d == hidden and 1 < h < hidden:
                    return h
        return None

    def _graph_norm_eps(self) -> float | None:
        """``epsilon`` of the graph's first ``LayerNormalization`` node, if any."""
        for n in self._model.graph.node:
            if n.op_type == "LayerNormalization":
                for a in n.attribute:
                    if a.name == "epsilon":
                        return float(a.f)
                return 1e-5  # the operator's default
        return None

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

    def close(self) -> None:
        self._last = None
        f = getattr(self, "_file", None)
        if f is not None:
            f.close()
