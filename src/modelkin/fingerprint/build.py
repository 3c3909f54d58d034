"""Building a :class:`Fingerprint` from a model on disk.

Fast mode reads only what the tests need: seeded row blocks of every role (the reader
touches only the quantized blocks holding them), full MLP matrices of a bounded number of
layers for unit matching, and the embedding rows of a seeded set of tokens. Memory is
bounded by the largest single tensor read. Full mode also hashes every file and the
float32 values of every tensor.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modelkin.arch import Role, RoleMap, read_role, role_map, role_shape, structure
from modelkin.errors import ModelkinError
from modelkin.fingerprint.arrays import pack
from modelkin.fingerprint.invariants import head_circuits, head_spectra
from modelkin.fingerprint.model import FINGERPRINT_VERSION, Fingerprint, is_fingerprint_file
from modelkin.fingerprint.sampling import (
    SAMPLE_1D,
    columns,
    hidden_subset,
    positions_1d,
    rng_for,
    row_blocks,
)
from modelkin.fingerprint.stats import (
    grid_of_blocks,
    grid_positions,
    grid_signature,
    summarize,
)
from modelkin.fingerprint.streamstats import STREAM_ELEMENTS, stream_summary
from modelkin.io import TensorSource, open_model

#: Files up to this size are hashed even in fast mode (cheap, and enables `identical`).
FAST_HASH_LIMIT = 64 * 1024 * 1024
#: Hidden dimensions describing each MLP unit, and the byte budget for unit features.
UNIT_DIMS = 32
UNIT_BUDGET_BYTES = 1_500_000
#: Wider MLPs are not stored (one layer would exceed the budget).
MAX_UNITS = 16384
MAX_UNIT_LAYERS = 8
#: Units per layer also stored over ALL hidden dimensions (fingerprint v2), and the byte
#: budget (float16, up and gate/down) for them: they let compare() re-index the suspect's
#: units after recovering a permutation of the residual stream (the hidden basis).
FULL_UNITS = 256
FULL_BUDGET_BYTES = 1_000_000
#: Hidden dimensions (the first of the unit dimensions) over which each attention head's
#: QK and OV circuits are stored for head matching: 16 x 16 values per circuit and head.
HEAD_DIMS = 16
#: Token-keyed embedding rows kept for the tokenizer/embedding test.
TOKEN_ROWS = 128
_CHUNK = 1 << 20
_ATTN = ("attn_q", "attn_k", "attn_v", "attn_o")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def token_hash32(token: str) -> int:
    """32-bit CRC of a token string (seed-free, so vocabularies can be intersected; fast
    enough for 256k-token vocabularies, and collisions barely move a Jaccard index)."""
    return zlib.crc32(token.encode("utf-8"))


def _mix(h: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 finaliser of ``h`` xor a seed constant: a seeded order of tokens."""
    with np.errstate(over="ignore"):
        x = h.astype(np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) & (2**64 - 1))
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return np.asarray(x ^ (x >> np.uint64(31)))


def _files(source: TensorSource, mode: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in source.files():
        size = f.stat().st_size
        full = mode == "full" or size <= FAST_HASH_LIMIT
        out[f.name] = {"size": size, "sha256": _sha256_file(f) if full else None}
    return out


def _read_sample(
    source: TensorSource, role: Role, ref: Any, shape: tuple[int, ...], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows read, sample) of one role: fast mode's only access to the weights."""
    if len(shape) == 1:
        full = read_role(source, ref).reshape(-1)
        return full, full[positions_1d(seed, role.kind, role.param, shape[0])]
    if ref.rows is None and (ref.transposed or ref.row_period is not None):
        whole = read_role(source, ref).reshape(shape[0], -1)
        blocks = [whole[s] for s in row_blocks(seed, role.kind, role.param, shape)]
    else:
        base = ref.row_start or 0
        blocks = [
            source.read(ref.name, slice(base + s.start, base + s.stop)).reshape(
                s.stop - s.start, -1
            )
            for s in row_blocks(seed, role.kind, role.param, shape)
        ]
    rows = np.concatenate(blocks, axis=0)
    return rows, rows[:, columns(seed, role.kind, role.param, shape)]


def _streamable(ref: Any, shape: tuple[int, ...]) -> bool:
    """Whether full mode reads this role in row chunks: a matrix too large to hold
    comfortably whose rows a reader can address directly."""
    numel = 1
    for d in shape:
        numel *= d
    return (
        len(shape) >= 2
        and numel > STREAM_ELEMENTS
        and not ref.transposed
        and ref.row_period is None
    )


def _stream_role(
    source: TensorSource, role: Role, ref: Any, shape: tuple[int, ...], seed: int
) -> tuple[str, dict[str, Any], dict[str, Any] | None, np.ndarray]:
    """Full mode's digest, statistics, grid trace and sample of a large role, read in row
    chunks (:mod:`modelkin.fingerprint.streamstats`), never whole."""
    base = ref.row_start or 0
    width = int(np.prod(shape[1:]))

    def read_rows(lo: int, hi: int) -> np.ndarray:
        return source.read(ref.name, slice(base + lo, base + hi)).reshape(hi - lo, width)

    digest, stats = stream_summary(read_rows, shape)
    grid = None
    pos = grid_positions(shape[0], width)
    if pos is not None:
        r, cols = pos
        picked = {int(i): read_rows(int(i), int(i) + 1)[0] for i in np.unique(r)}
        grid = grid_of_blocks(np.stack([picked[int(i)][c] for i, c in zip(r, cols, strict=True)]))
    rows = np.concatenate(
        [read_rows(s.start, s.stop) for s in row_blocks(seed, role.kind, role.param, shape)]
    )
    return digest, stats, grid, rows[:, columns(seed, role.kind, role.param, shape)]


def _roles(
    source: TensorSource, rm: RoleMap, mode: str, seed: int, tensors: dict[str, str]
) -> dict[str, dict[str, Any]]:
    infos = {t.name: t for t in source.tensors()}
    out: dict[str, dict[str, Any]] = {}
    for role in sorted(
        rm.roles, key=lambda r: (r.layer is not None, r.layer or 0, r.kind, r.param)
    ):
        ref = rm.roles[role]
        info = infos.get(ref.name)
        if info is None or info.numel == 0 or _is_missing(info):
            continue
        shape = role_shape(info, ref)
        if mode == "full" and _streamable(ref, shape):
            digest, stats, grid, sample = _stream_role(source, role, ref, shape, seed)
            tensors[str(role)] = digest
        elif mode == "full":
            whole = read_role(source, ref)
            digest = hashlib.sha256(np.ascontiguousarray(whole, dtype="<f4").data).hexdigest()
            tensors[str(role)] = digest
            stats = summarize(whole.reshape(shape[0], -1) if whole.ndim > 1 else whole)
            grid = grid_signature(whole.reshape(shape[0], -1)) if whole.ndim > 1 else None
            if whole.ndim == 1:
                sample = whole[positions_1d(seed, role.kind, role.param, shape[0])]
            else:
                w2 = whole.reshape(shape[0], -1)
                rows = np.concatenate(
                    [w2[s] for s in row_blocks(seed, role.kind, role.param, shape)]
                )
                sample = rows[:, columns(seed, role.kind, role.param, shape)]
        else:
            rows, sample = _read_sample(source, role, ref, shape, seed)
            stats = summarize(rows)
            grid = grid_signature(rows) if rows.ndim == 2 else None
        out[str(role)] = {
            "kind": role.kind,
            "layer": role.layer,
            "param": role.param,
            "shape": list(shape),
            "dtype": info.dtype,
            "quantized": bool(info.quantized),
            "stats": stats,
            "sample": pack(sample),
        }
        if grid is not None:  # fingerprint v3: the quantization-grid trace
            out[str(role)]["grid"] = grid
    return out


def _is_missing(info: Any) -> bool:
    """A tensor listed by the file but absent from it (a GGUF truncated inside its tensor
    data): what is readable is still fingerprinted, and the fingerprint says what is not."""
    return bool(info.extra.get("missing")) if info.extra else False


def _missing(source: TensorSource) -> list[str]:
    return sorted(t.name for t in source.tensors() if _is_missing(t))


def _unit_layers(num_layers: int, per_layer_bytes: int) -> list[int]:
    budget = max(1, UNIT_BUDGET_BYTES // max(1, per_layer_bytes))
    k = min(num_layers, MAX_UNIT_LAYERS, budget)
    if k >= num_layers:
        return list(range(num_layers))
    return sorted({round(x) for x in np.linspace(0, num_layers - 1, k)})


def _units(
    source: TensorSource,
    rm: RoleMap,
    seed: int,
    notes: list[str],
    heads: int | None = None,
    kv_heads: int | None = None,
) -> dict[str, Any]:
    """Per-unit features of MLP neurons for the matching test (Zhu et al. 2025).

    Each unit is described twice, by two different matrices: its up-projection row and its
    gate row (gated MLPs) or its down-projection column (BERT/GPT-2), both restricted to a
    seeded subset of hidden dimensions. The first few units of each stored layer are also
    kept over every hidden dimension (``a_full``/``b_full``), within
    :data:`FULL_BUDGET_BYTES`, so that a permuted hidden basis can be undone at compare
    time (see :mod:`modelkin.forensics.hidden`)."""
    infos = {t.name: t for t in source.tensors()}
    up0 = rm.get("mlp_up", 0)
    if up0 is None or up0.name not in infos or _is_missing(infos[up0.name]):
        return {}
    units, hidden = role_shape(infos[up0.name], up0)[:2]
    if units > MAX_UNITS:
        notes.append(f"MLP has {units} units (> {MAX_UNITS}): unit matching features not stored")
        return {}
    dims = hidden_subset(seed, hidden, UNIT_DIMS)
    out: dict[str, Any] = {}
    chosen = _unit_layers(rm.num_layers, units * len(dims) * 4)
    full = min(units, FULL_UNITS, FULL_BUDGET_BYTES // max(1, len(chosen) * hidden * 4))
    for layer in chosen:
        up, gate, down = (
            rm.get("mlp_up", layer),
            rm.get("mlp_gate", layer),
            rm.get("mlp_down", layer),
        )
        refs = [r for r in (up, gate, down, *(rm.get(k, layer) for k in _ATTN)) if r is not None]
        if up is None or any(r.name in infos and _is_missing(infos[r.name]) for r in refs):
            continue
        a = read_role(source, up)
        if a.shape != (units, hidden):
            continue
        if gate is not None:
            b, pair = read_role(source, gate), "up/gate"
        elif down is not None:
            b, pair = read_role(source, down).T, "up/down"
        else:
            continue
        if b.shape != (units, hidden):
            continue
        out[str(layer)] = {"pair": pair, "a": pack(a[:, dims]), "b": pack(b[:, dims])}
        if full >= 8:
            out[str(layer)] |= {"a_full": pack(a[:full]), "b_full": pack(b[:full])}
        attn = _attention(source, rm, layer, heads, kv_heads, dims[:HEAD_DIMS])
        if attn is not None:
            out[str(layer)]["heads"], out[str(layer)]["circuits"] = attn
    return out


def _attention(
    source: TensorSource,
    rm: RoleMap,
    layer: int,
    heads: int | None,
    kv_heads: int | None,
    dims: np.ndarray,
) -> tuple[dict[str, list[list[float]]], dict[str, Any]] | None:
    """Head spectra and head circuits of one layer (None when a projection or the head
    count is missing)."""
    refs = [rm.get(k, layer) for k in _ATTN]
    if not heads or any(r is None for r in refs):
        return None
    q, k, v, o = (read_role(source, r) for r in refs if r is not None)
    if q.ndim != 2 or q.shape[0] % heads or o.shape[1] != q.shape[0]:
        return None
    kvh = kv_heads or heads
    if k.shape[0] % kvh or k.shape[0] // kvh != q.shape[0] // heads:
        return None
    qk, ov = head_circuits(q, k, v, o, heads, kvh, dims)
    return head_spectra(q, k, v, o, heads, kvh), {"qk": pack(qk), "ov": pack(ov)}


def _tokenizer(
    source: TensorSource, rm: RoleMap, seed: int
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    tok = source.tokenizer()
    if tok is None:
        return None, None
    per_id = tok.token_crc32()
    present = tok.nonempty()
    summary = tok.summary()
    summary["token_hashes"] = pack(np.unique(per_id[present]), "u32")
    ref = rm.get("embed_tokens")
    if ref is None:
        return summary, None
    infos = {t.name: t for t in source.tensors()}
    info = infos.get(ref.name)
    if info is None or _is_missing(info):
        return summary, None
    rows_total = role_shape(info, ref)[0]
    # Pick tokens by a seeded hash of their text, so two vocabularies choose the same ones.
    n = min(rows_total, len(per_id))
    ids = np.flatnonzero(present[:n])
    order = ids[np.argsort(_mix(per_id[ids], seed), kind="stable")][:TOKEN_ROWS]
    chosen = [(0, int(i), tok.tokens[int(i)]) for i in order]
    rows = []
    for _, i, _t in chosen:
        base = ref.row_start or 0
        if ref.transposed or ref.row_period is not None:
            return summary, None
        rows.append(source.read(ref.name, slice(base + i, base + i + 1)).reshape(-1))
    if not rows:
        return summary, None
    tokens = {
        "hashes": [token_hash32(t) for _, _, t in chosen],
        "rows": pack(np.stack(rows)),
    }
    return summary, tokens


def fingerprint_source(
    source: TensorSource,
    *,
    mode: Literal["fast", "full"] = "fast",
    seed: int = 0,
    manifest: str | None = None,
) -> Fingerprint:
    """Fingerprint an open :class:`TensorSource`; ``manifest`` (the modelkin-manifest/v1
    digest of the files the source reads, computed by the caller from the same files) binds
    the fingerprint to those exact files."""
    if mode not in ("fast", "full"):
        raise ModelkinError(source.path, f"unknown fingerprint mode {mode!r} (fast or full)")
    rm = role_map(source)
    if not rm.roles:
        raise ModelkinError(source.path, "no tensor could be given a canonical role")
    notes = list(rm.notes) + list(source.problems())
    tensors: dict[str, str] = {}
    roles = _roles(source, rm, mode, seed, tensors)
    tok, tokens = _tokenizer(source, rm, seed)
    sig = structure(source, rm)
    return Fingerprint(
        version=FINGERPRINT_VERSION,
        mode=mode,
        seed=seed,
        format=source.format,
        name=source.path.name,
        files=_files(source, mode),
        structure=sig.to_dict() | {"digest": sig.digest()},
        tokenizer=tok,
        roles=roles,
        tensors=tensors,
        units=_units(source, rm, seed, notes, sig.num_heads, sig.num_kv_heads),
        tokens=tokens,
        notes=notes,
        missing=_missing(source),
        manifest=manifest,
    )


def fingerprint_model(
    path: str | Path,
    *,
    mode: Literal["fast", "full"] = "fast",
    seed: int = 0,
    manifest: str | None = None,
) -> Fingerprint:
    """Fingerprint the model at ``path`` (any format :func:`modelkin.io.open_model` reads).

    ``manifest``: the manifest digest of ``path``'s files, recorded in the fingerprint so a
    registry can refuse it for any other weights."""
    with open_model(path) as source:
        return fingerprint_source(source, mode=mode, seed=seed, manifest=manifest)


def load_or_fingerprint(
    path_or_fp: str | Path | Fingerprint, *, mode: Literal["fast", "full"] = "fast", seed: int = 0
) -> Fingerprint:
    """A fingerprint from a fingerprint object, a fingerprint file or a model path."""
    if isinstance(path_or_fp, Fingerprint):
        return path_or_fp
    p = Path(path_or_fp)
    if is_fingerprint_file(p):
        return Fingerprint.load(p)
    return fingerprint_model(p, mode=mode, seed=seed)


__all__ = ["SAMPLE_1D", "fingerprint_model", "fingerprint_source", "load_or_fingerprint", "rng_for"]
