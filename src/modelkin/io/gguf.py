"""GGUF reader (llama.cpp's model format): metadata, tokenizer and dequantized tensors.

The header is parsed by :mod:`modelkin.io._gguf_header` with every length bounded, from a
read-only memory map whose pages are dropped from the resident set once parsed. Tensor
data is read with ``pread`` into a small reused buffer, only the bytes of the requested
tensor (or row range), so neither the mapped file nor the kernel's fault-around pages ever
count against the process: memory stays the size of what was asked for, whatever the
model size. Quantized types are dequantized with the per-type classes of ``gguf.quants``
(``dequantize_rows``: the same arithmetic as ``gguf.quants.dequantize``, bit for bit, but
on a whole chunk at once instead of 16-row groups), which cover every type the ``gguf``
package knows (F16, BF16, Q4_0..Q8_1, K-quants, IQ*, TQ*, MXFP4...).

Conventions undone so values line up with the Hugging Face checkpoint the file was
converted from (llama.cpp ``convert_hf_to_gguf.py``):

* **Q/K row permutation.** ``LlamaModel.permute`` reorders the rows of ``q_proj`` and
  ``k_proj`` (weights and biases) with ``reshape(n_head, 2, rows//n_head//2, ...)
  .swapaxes(1, 2)`` so llama.cpp's interleaved ("NORM") RoPE computes HF's rotate-half
  RoPE; ``k_proj`` uses the KV head count. The converter applies it for the architectures
  in :data:`PERMUTED_ARCHS` (llama, which HF mistral checkpoints also convert to; deci,
  granite, minicpm, olmo, arctic, deepseek). It does *not* for gemma*/qwen2/qwen3/phi3
  (NEOX RoPE) nor for Mistral's native-format and Llama 4 conversions
  (``undo_permute = False``); a ``llama`` GGUF made from Mistral's native format cannot be
  told apart from its metadata, so its Q/K rows come out permuted: documented limit.
* **Gemma norms.** HF Gemma RMSNorm computes ``x * (1 + w)``; the converter stores
  ``w + 1`` for every ``*norm.weight`` (gemma, gemma2, gemma3), so we subtract 1.

``read`` returns HF orientation: GGUF lists dims fastest-first (``ne[0]`` = row length),
so the logical shape is ``ne`` reversed, which is already ``nn.Linear``'s ``[out, in]``.
"""

from __future__ import annotations

import array
import contextlib
import itertools
import mmap
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gguf.quants
import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from modelkin.errors import ModelFormatError
from modelkin.io._gguf_header import (
    Header,
    LazyArray,
    RawTensor,
    load_numbers,
    load_strings,
    parse_header,
)
from modelkin.io.base import TensorInfo, TensorSource
from modelkin.io.tokenizer import Tokenizer

#: GGUF architectures whose converter applies ``LlamaModel.permute`` to q/k rows.
PERMUTED_ARCHS = frozenset(
    {"llama", "deci", "granite", "granitemoe", "minicpm", "olmo", "arctic", "deepseek"}
)
#: GGUF architectures whose converter stores ``w + 1`` for RMSNorm weights.
GEMMA_NORM_ARCHS = frozenset({"gemma", "gemma2", "gemma3"})
#: Stored bytes decoded per step when reading a tensor (bounds temporaries). The
#: ``gguf.quants`` dequantizers make several full-size intermediates (uint32 bit planes,
#: float32 scales) per chunk: at 8 MB a Q5_K chunk peaked ~70 MB above its output; 256 KiB
#: keeps them to a few MB and is as fast as 1 MiB once the 16-row grouping is bypassed.
CHUNK_BYTES = 256 * 1024
_HAS_PREADV = hasattr(os, "preadv")
#: ``gguf.quants`` class per quantization type (its public ``qtype`` attribute), whose
#: ``dequantize_rows`` decodes a whole chunk in one vectorised pass.
_QUANT_CLASSES: list[Any] = [c for c in vars(gguf.quants).values() if isinstance(c, type)]
_DEQUANT: dict[GGMLQuantizationType, Any] = {
    c.qtype: c
    for c in _QUANT_CLASSES
    if isinstance(getattr(c, "qtype", None), GGMLQuantizationType) and hasattr(c, "dequantize_rows")
}
#: Integer / f64 types that ``gguf.quants`` does not handle: numpy dtype per type.
_PLAIN = {
    GGMLQuantizationType.I8: "<i1",
    GGMLQuantizationType.I16: "<i2",
    GGMLQuantizationType.I32: "<i4",
    GGMLQuantizationType.I64: "<i8",
    GGMLQuantizationType.F64: "<f8",
}
_LOSSLESS = {GGMLQuantizationType.F32, GGMLQuantizationType.F16, GGMLQuantizationType.BF16}
#: ``tokenizer.ggml.model`` -> Tokenizer.kind. llama.cpp's "llama" vocab is SentencePiece
#: BPE with byte fallback; "t5" is SentencePiece Unigram (UGM); "bert" is WordPiece.
_TOKENIZER_KINDS = {"llama": "bpe", "gpt2": "bpe", "bert": "wordpiece", "t5": "unigram"}
_SPECIAL_IDS = ("bos", "eos", "unknown", "padding", "seperator", "separator", "cls", "mask", "eot")
_TOKEN_CONTROL = 3  # llama_token_type CONTROL
#: HF config key -> GGUF ``<arch>.`` key.
_CONFIG_KEYS = {
    "num_hidden_layers": "block_count",
    "hidden_size": "embedding_length",
    "intermediate_size": "feed_forward_length",
    "num_attention_heads": "attention.head_count",
    "num_key_value_heads": "attention.head_count_kv",
    "max_position_embeddings": "context_length",
    "rms_norm_eps": "attention.layer_norm_rms_epsilon",
    "layer_norm_eps": "attention.layer_norm_epsilon",
    "rope_theta": "rope.freq_base",
    "head_dim": "attention.key_length",
    "sliding_window": "attention.sliding_window",
}


class _Entry:
    """A tensor as stored: its table row plus the derived size and type."""

    __slots__ = ("block", "missing", "nbytes", "qtype", "raw", "type_size")

    def __init__(self, raw: RawTensor, path: Path) -> None:
        self.raw = raw
        try:
            self.qtype: GGMLQuantizationType | None = GGMLQuantizationType(raw.ggml_type)
        except ValueError:
            self.qtype = None
        self.block, self.type_size = (
            GGML_QUANT_SIZES.get(self.qtype, (0, 0)) if self.qtype is not None else (0, 0)
        )
        self.nbytes = 0
        if self.block:
            if raw.ne[0] % self.block:
                raise ModelFormatError(
                    path,
                    f"tensor {raw.name!r}: row length {raw.ne[0]} is not a multiple of"
                    f" the {self.qtype.name if self.qtype else '?'} block size {self.block}",
                )
            numel = 1
            for d in raw.ne:
                numel *= d
            self.nbytes = numel // self.block * self.type_size
        self.missing = False

    @property
    def dtype(self) -> str:
        return self.qtype.name if self.qtype is not None else f"ggml_type_{self.raw.ggml_type}"


class GGUFSource(TensorSource):
    """A ``.gguf`` file as a :class:`TensorSource` (see the module docstring)."""

    format = "gguf"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            self._file = self.path.open("rb")
        except OSError as exc:
            raise ModelFormatError(self.path, f"cannot read: {exc.strerror or exc}") from None
        try:
            size = self.path.stat().st_size
            if size == 0:
                raise ModelFormatError(self.path, "empty file")
            self._mm: mmap.mmap | None = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            self._header: Header = parse_header(self._mm, self.path)
            self._release_map()
            self._entries = self._check_entries()
        except BaseException:
            self.close()
            raise
        #: Bytes of tensor data read from the file so far (benchmarks report it).
        self.bytes_read = 0
        self._infos: list[TensorInfo] | None = None
        self._tokenizer: Tokenizer | None = None

    # -- layout checks ----------------------------------------------------------------
    def _check_entries(self) -> dict[str, _Entry]:
        h = self._header
        entries = {t.name: _Entry(t, self.path) for t in h.tensors}
        spans = []
        for e in entries.values():
            if e.qtype is None or not e.block:
                h.problems.append(
                    f"tensor {e.raw.name!r} has GGML type {e.raw.ggml_type}, which cannot be read"
                )
                continue
            end = e.raw.offset + e.nbytes
            if end > h.file_size:
                e.missing = True
                continue
            spans.append((e.raw.offset, end, e.raw.name))
        spans.sort()
        for (a0, a1, an), (b0, _b1, bn) in itertools.pairwise(spans):
            if b0 < a1:
                raise ModelFormatError(
                    self.path, f"tensors {an!r} [{a0}, {a1}) and {bn!r} overlap at {b0}"
                )
        missing = [e.raw.name for e in entries.values() if e.missing]
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            h.problems.append(
                f"file is truncated ({h.file_size} bytes): {len(missing)} tensors missing: {shown}"
            )
        return entries

    # -- listing ------------------------------------------------------------------------
    def tensors(self) -> list[TensorInfo]:
        if self._infos is None:
            self._infos = [
                TensorInfo(
                    name=e.raw.name,
                    shape=tuple(reversed(e.raw.ne)),
                    dtype=e.dtype,
                    nbytes=e.nbytes,
                    quantized=e.qtype not in _LOSSLESS and e.qtype not in _PLAIN,
                    extra={"ggml_type": e.raw.ggml_type, "missing": e.missing},
                )
                for e in self._entries.values()
            ]
        return list(self._infos)

    @property
    def architecture(self) -> str:
        arch = self._header.kv.get("general.architecture")
        return arch if isinstance(arch, str) else ""

    # -- reading ------------------------------------------------------------------------
    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        e = self._entries.get(name)
        if e is None:
            raise ModelFormatError(self.path, f"no tensor named {name!r}")
        if e.missing:
            raise ModelFormatError(
                self.path, f"tensor {name!r} is missing: the file is truncated before its data"
            )
        if e.qtype is None or not e.block or self._mm is None:
            raise ModelFormatError(self.path, f"tensor {name!r} has an unreadable type {e.dtype}")
        shape = tuple(reversed(e.raw.ne))
        n_rows = shape[0]
        perm = self._qk_heads(name)
        if perm is not None and rows is not None and len(shape) >= 2:
            picked = _permuted_rows(rows, n_rows, perm)
            if picked is not None:  # just the stored rows holding the wanted ones
                row_bytes = e.nbytes // n_rows
                parts = [self._decode_rows(e, name, int(r), 1, row_bytes) for r in picked]
                flat = np.concatenate(parts) if parts else np.empty((0, 0), np.float32)
                return np.ascontiguousarray(flat.reshape((len(parts), *shape[1:])))
        # Row slicing maps to a byte range only for >=2-D tensors (rows are whole blocks)
        # and only when no permutation mixes rows across the slice.
        direct = rows is not None and len(shape) >= 2 and perm is None
        start, stop = 0, n_rows
        if direct and rows is not None:
            start, stop, step = rows.indices(n_rows)
            if step != 1:
                direct = False
                start, stop = 0, n_rows
        if len(shape) == 1:  # one stored row (a 1-D quantized tensor is whole blocks)
            out = self._decode_rows(e, name, 0, 1, e.nbytes).reshape(shape)
        else:
            row_bytes = e.nbytes // n_rows
            count = max(stop - start, 0)
            out = self._decode_rows(e, name, start, count, row_bytes)
            out = out.reshape((count, *shape[1:]))
        if perm is not None:
            out = _unpermute(out, perm)
        if self.architecture in GEMMA_NORM_ARCHS and name.endswith("norm.weight"):
            out = out - np.float32(1.0)
        if rows is not None and not direct:
            out = out[rows]
        return np.ascontiguousarray(out, dtype=np.float32)

    def _decode_rows(
        self, e: _Entry, name: str, start: int, count: int, row_bytes: int
    ) -> np.ndarray:
        """Rows ``[start, start+count)`` as float32 ``(count, row_len)``, read in chunks of
        about :data:`CHUNK_BYTES` stored bytes into one buffer (this call's own, so reads
        from several threads do not share it) and decoded into one preallocated array, so
        peak memory is the output plus a chunk and its temporaries (the dequantizers make
        several float32 copies of what they decode)."""
        row_len = row_bytes // e.type_size * e.block if e.type_size else 0
        out = np.empty((count, row_len), dtype=np.float32)
        step = max(1, CHUNK_BYTES // max(row_bytes, 1))
        base = e.raw.offset + start * row_bytes
        buf = np.empty(min(step, count) * row_bytes, dtype=np.uint8)
        for r in range(0, count, step):
            n = min(step, count - r)
            raw = self._pread(buf[: n * row_bytes], base + r * row_bytes, name)
            out[r : r + n] = self._decode(raw.reshape(n, row_bytes), e, name).reshape(n, -1)
        return out

    def _pread(self, view: np.ndarray, offset: int, name: str) -> np.ndarray:
        """Fill ``view`` (uint8) with the bytes at ``offset`` and return it. ``pread``
        instead of the memory map: the page cache serves it without mapping pages (or
        their fault-around neighbours) into this process."""
        size = view.size
        fd = self._file.fileno()
        got = 0
        while got < size:
            try:
                if _HAS_PREADV:
                    n = os.preadv(fd, [view[got:].data], offset + got)
                else:  # pragma: no cover - platforms without preadv (Windows)
                    self._file.seek(offset + got)
                    n = self._file.readinto(view[got:].data) or 0
            except OSError as exc:
                raise ModelFormatError(
                    self.path, f"tensor {name!r}: cannot read: {exc.strerror or exc}"
                ) from None
            if n <= 0:
                raise ModelFormatError(
                    self.path, f"tensor {name!r}: the file ended while reading (truncated?)"
                )
            got += n
        self.bytes_read += size
        return view

    def _decode(self, raw: np.ndarray, e: _Entry, name: str) -> np.ndarray:
        assert e.qtype is not None
        if e.qtype in _PLAIN:
            return raw.view(_PLAIN[e.qtype]).astype(np.float32)
        if e.qtype == GGMLQuantizationType.F32:
            return raw.view("<f4").astype(np.float32)
        if e.qtype == GGMLQuantizationType.F16:
            return raw.view("<f2").astype(np.float32)
        cls = _DEQUANT.get(e.qtype)
        if cls is None:
            raise ModelFormatError(
                self.path, f"tensor {name!r}: the gguf package cannot dequantize {e.dtype}"
            )
        try:
            cls.init_grid()  # lookup grids of the IQ* types, built once per class
            out = cls.dequantize_rows(raw)
        except NotImplementedError:
            raise ModelFormatError(
                self.path, f"tensor {name!r}: the gguf package cannot dequantize {e.dtype}"
            ) from None
        return np.asarray(out, dtype=np.float32)

    def _release_map(self) -> None:
        """Drop the map's pages from the resident set (the page cache keeps them): the
        header is parsed, or a metadata array copied out, and will not be read again."""
        if self._mm is not None and hasattr(mmap, "MADV_DONTNEED"):
            with contextlib.suppress(OSError, ValueError):  # advisory only
                self._mm.madvise(mmap.MADV_DONTNEED)

    def _qk_heads(self, name: str) -> int | None:
        """Head count to undo ``LlamaModel.permute`` with, or None when not permuted."""
        arch = self.architecture
        if arch not in PERMUTED_ARCHS:
            return None
        kv = self._header.kv
        if name.endswith((".attn_q.weight", ".attn_q.bias")):
            heads = kv.get(f"{arch}.attention.head_count")
        elif name.endswith((".attn_k.weight", ".attn_k.bias")):
            heads = kv.get(
                f"{arch}.attention.head_count_kv", kv.get(f"{arch}.attention.head_count")
            )
        else:
            return None
        if isinstance(heads, list):  # per-layer head counts (e.g. deci)
            layer = _layer_of(name)
            heads = heads[layer] if layer is not None and layer < len(heads) else None
        if not isinstance(heads, int) or heads <= 0:
            return None
        return heads

    # -- metadata ------------------------------------------------------------------------
    def metadata(self) -> Mapping[str, Any]:
        """GGUF key/values; the large tokenizer arrays are summarised by their length."""
        out: dict[str, Any] = {}
        for k, v in self._header.kv.items():
            if isinstance(v, list | LazyArray) and len(v) > 64:
                out[k] = f"<array of {len(v)}>"
            else:
                out[k] = v
        out["gguf.version"] = self._header.version
        return out

    def config(self) -> Mapping[str, Any]:
        """An HF-style config derived from ``general.architecture`` and ``<arch>.*`` keys."""
        kv = self._header.kv
        arch = self.architecture
        cfg: dict[str, Any] = {"model_type": arch or "unknown"}
        for hf_key, gkey in _CONFIG_KEYS.items():
            v = kv.get(f"{arch}.{gkey}")
            if isinstance(v, list):  # per-layer values: keep the list (and its max)
                cfg[hf_key + "_per_layer"] = v
                v = max(v) if v and all(isinstance(x, int | float) for x in v) else None
            if v is not None:
                cfg[hf_key] = v
        vocab = kv.get(f"{arch}.vocab_size")
        tokens = kv.get("tokenizer.ggml.tokens")
        if not isinstance(vocab, int) and isinstance(tokens, list | LazyArray):
            vocab = len(tokens)
        if not isinstance(vocab, int):
            emb = self._entries.get("token_embd.weight")
            vocab = emb.raw.ne[-1] if emb is not None else None
        if vocab is not None:
            cfg["vocab_size"] = vocab
        if "num_key_value_heads" not in cfg and "num_attention_heads" in cfg:
            cfg["num_key_value_heads"] = cfg["num_attention_heads"]
        cfg["tie_word_embeddings"] = "output.weight" not in self._entries
        name = kv.get("general.name")
        if isinstance(name, str):
            cfg["_name_or_path"] = name
        return cfg

    def tokenizer(self) -> Tokenizer | None:
        """The vocabulary from ``tokenizer.ggml.*`` (None when the file has none)."""
        if self._tokenizer is not None:
            return self._tokenizer
        kv = self._header.kv
        tokens = self._strings("tokenizer.ggml.tokens")
        if tokens is None:
            return None
        model = kv.get("tokenizer.ggml.model")
        kind = _TOKENIZER_KINDS.get(model, "unknown") if isinstance(model, str) else "unknown"
        merges = self._strings("tokenizer.ggml.merges") or []
        scores = self._numbers("tokenizer.ggml.scores")
        score_list = (
            array.array("f", scores.astype(np.float32).tobytes())
            if scores is not None and len(scores) == len(tokens)
            else None
        )
        specials: dict[str, int] = {}
        for what in _SPECIAL_IDS:
            i = kv.get(f"tokenizer.ggml.{what}_token_id")
            if isinstance(i, int) and 0 <= i < len(tokens):
                specials.setdefault(tokens[i], i)
        types = self._numbers("tokenizer.ggml.token_type")
        if types is not None and len(types) == len(tokens):
            for i in np.flatnonzero(types == _TOKEN_CONTROL).tolist():
                specials.setdefault(tokens[i], i)
        self._tokenizer = Tokenizer(kind, tokens, merges, specials, score_list, self.path.name)
        return self._tokenizer

    def _strings(self, key: str) -> Sequence[str] | None:
        """Metadata ``key`` as a sequence of strings (a large one packed, see
        :class:`PackedStrings`); None when absent or not all strings."""
        v = self._header.kv.get(key)
        if isinstance(v, LazyArray) and self._mm is not None:
            try:
                return load_strings(self._mm, v, self.path)
            except TypeError:
                return None
            finally:
                self._release_map()
        if isinstance(v, list) and all(isinstance(t, str) for t in v):
            return list(v)
        return None

    def _numbers(self, key: str) -> np.ndarray | None:
        """Metadata ``key`` as a 1-D numpy array when it is an array of numbers."""
        v = self._header.kv.get(key)
        if isinstance(v, LazyArray) and self._mm is not None:
            try:
                return load_numbers(self._mm, v)
            except TypeError:
                return None
            finally:
                self._release_map()
        if isinstance(v, list) and v and all(isinstance(x, int | float) for x in v):
            return np.asarray(v)
        return None

    def problems(self) -> list[str]:
        return list(self._header.problems)

    def close(self) -> None:
        mm = getattr(self, "_mm", None)
        if mm is not None:
            # An array may still view the map; then the GC closes it later.
            with contextlib.suppress(BufferError):
                mm.close()
            self._mm = None
        f = getattr(self, "_file", None)
        if f is not None:
            f.close()


def _layer_of(name: str) -> int | None:
    parts = name.split(".")
    if len(parts) > 2 and parts[0] == "blk" and parts[1].isdigit():
        return int(parts[1])
    return None


def _permuted_rows(rows: slice, n_rows: int, n_head: int) -> np.ndarray | None:
    """Stored row of each HF row in ``rows`` of a tensor laid out by ``LlamaModel.permute``
    (HF row ``h*2*half + j*half + k`` is stored at ``h*2*half + 2*k + j``, see
    :func:`_unpermute`); None when ``rows`` has a step or the layout is not permuted."""
    start, stop, step = rows.indices(n_rows)
    if step != 1 or n_rows % (2 * n_head):
        return None
    half = n_rows // n_head // 2
    head, rem = np.divmod(np.arange(start, max(start, stop)), 2 * half)
    j, k = np.divmod(rem, half)
    return np.asarray(head * 2 * half + 2 * k + j)


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of llama.cpp ``LlamaModel.permute`` (``reshape(n_head, 2, r//n_head//2,
    ...).swapaxes(1, 2)``): view the rows as ``(n_head, r//n_head//2, 2)`` and swap back."""
    rows = w.shape[0]
    if rows % (2 * n_head):
        return w
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def permute_like_converter(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's forward ``LlamaModel.permute`` (HF rows -> GGUF rows); tests and
    writers use it to produce files laid out as the converter lays them out."""
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
