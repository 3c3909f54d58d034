"""Shape-independent index vectors of a fingerprint (what the 1:N index stores).

A derivative rarely keeps its parent's shape: layers are removed or duplicated, the
vocabulary is changed, units, heads or the whole residual stream are permuted, weights
are quantized, noised or fine-tuned. So a model is not one vector but a bag of *items*
in a few *channels*, each item an L2-normalised float vector; the search scores a
candidate per channel by how well the query's items find a close item of the candidate
(mean over query items of the best cosine), see :mod:`modelkin.search.index`.

Channels (each survives a different set of transforms):

``layer``
    One item per layer: every role's seeded sample (positions depend only on
    ``(seed, kind, param, shape)``, never on the layer index, see
    :mod:`modelkin.fingerprint.sampling`), centred and unit-scaled, feature-hashed into
    :data:`DIMS` ``["layer"]`` buckets keyed by the role. One more item holds the roles
    outside layers (embeddings, final norm, head). Survives quantization, noise,
    fine-tuning, layer removal and duplication and vocabulary changes (other layers).
``hvec``
    One item per layer from its 1-D roles of hidden width (norm gains and biases of the
    residual stream): unchanged by MLP-unit and attention-head permutations.
``tok``
    The whole-model vector: cosines between the token-keyed embedding rows (tokens are
    picked by a seeded hash of their *text*, so two vocabularies pick the same ones),
    feature-hashed by the pair of token hashes. A Gram matrix is invariant to any
    orthogonal change of the residual basis (hence to hidden permutations), and keyed by
    token text it survives vocabulary changes. Independent models trained on the same
    data share much of this geometry (measured: cosine ~0.58 between tiny llama seeds,
    ~0.94 between tiny BERT seeds, vs ~1.0 for a hidden-permuted copy), so it ranks
    well but proves nothing; the full comparison decides.

Known blind spot: a copy whose residual basis is permuted AND that carries no tokenizer
(e.g. a bare ONNX file) is seen by no channel.

Feature hashing (Weinberger et al. 2009): coordinate ``i`` of an input keyed ``k`` adds
``sign(k, i) * x_i`` to bucket ``h(k, i) mod D``; inner products are preserved in
expectation, and inputs under different keys land on independent random buckets, so
they are near-orthogonal. Everything here is a pure function of the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from modelkin.errors import ModelkinError
from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import unpack

#: Channel name -> vector dimension. Changing any of these (or the hashing) changes
#: :data:`FEATURES_VERSION`, and indexes are rebuilt.
DIMS: dict[str, int] = {"layer": 64, "hvec": 32, "tok": 256}
CHANNELS = tuple(DIMS)
FEATURES_VERSION = 1
#: Token rows used for the token Gram (the fingerprint keeps up to 128).
TOKEN_ROWS = 128
_EPS = 1e-12


@dataclass
class Items:
    """A fingerprint's index items: channel -> float32 array ``[n_items, DIMS[ch]]``,
    rows L2-normalised; plus the structure fields used as filters and boosts."""

    vectors: dict[str, np.ndarray]
    family: str | None = None
    num_layers: int | None = None
    hidden_size: int | None = None
    tokenizer_digest: str | None = None

    def meta(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "tokenizer": self.tokenizer_digest,
        }


@lru_cache(maxsize=8192)
def _hash_plan(key: str, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(bucket, sign) of each of ``n`` input coordinates under ``key`` (cached: every
    model of one shape family reuses the same plan)."""
    seed = int.from_bytes(hashlib.sha256(f"{key}|{n}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    bucket = rng.integers(0, dim, size=n).astype(np.intp)
    sign = rng.choice(np.array([-1.0, 1.0]), size=n)
    bucket.flags.writeable = sign.flags.writeable = False
    return bucket, sign


def hashed(z: np.ndarray, key: str, dim: int) -> np.ndarray:
    """Rows of ``z`` ``[batch, n]`` feature-hashed under ``key`` into ``[batch, dim]``
    (one bincount over all rows: row ``b`` uses bins ``b * dim + bucket``)."""
    batch, n = z.shape
    bucket, sign = _hash_plan(key, n, dim)
    bins = (bucket[None, :] + dim * np.arange(batch)[:, None]).reshape(-1)
    out = np.bincount(bins, weights=(z * sign[None, :]).reshape(-1), minlength=batch * dim)
    return out.reshape(batch, dim)


def _standardised(samples: np.ndarray) -> np.ndarray:
    """Each row (one model's sample, flattened) centred and scaled to unit norm; rows
    carrying nothing become zero. The cosine of two such rows is their Pearson
    correlation, blind to the scale a conversion or a norm folding may change."""
    x = np.nan_to_num(samples.reshape(len(samples), -1).astype(np.float64))
    x = x - x.mean(axis=1, keepdims=True)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(n > _EPS, x / np.maximum(n, _EPS), 0.0)


def _unit_rows(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows scaled to unit norm, mask of rows that carry anything)."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    ok = (n[..., 0] > _EPS) & np.isfinite(n[..., 0])
    return np.where(n > _EPS, v / np.maximum(n, _EPS), 0.0), ok


def _role_key(r: dict[str, Any]) -> str:
    return f"{r.get('kind')}|{r.get('param')}|{'x'.join(str(s) for s in r.get('shape', []))}"


def _sample(name: str, r: dict[str, Any], where: str) -> np.ndarray | None:
    s = r.get("sample")
    if s is None:
        return None
    return unpack(s, f"{where}: role {name}")


@dataclass(frozen=True)
class RoleSample:
    """One role's seeded sample as the features see it: ``key`` names the sampled
    positions (kind, param, shape), ``layer`` is None outside layers, ``hidden_1d`` marks
    1-D roles of hidden width (the ``hvec`` channel). ``sample`` is one model's sample,
    or, in :func:`items_batch`, ``[models, *sample_shape]``."""

    key: str
    layer: int | None
    hidden_1d: bool
    sample: np.ndarray


def role_samples(fp: Fingerprint, where: str = "fingerprint") -> list[RoleSample]:
    """The role samples of a fingerprint (unpacked and validated)."""
    hidden = fp.structure.get("hidden_size")
    out = []
    for name, r in fp.roles.items():
        x = _sample(name, r, where)
        if x is None:
            continue
        layer = r.get("layer")
        shape = r.get("shape") or []
        out.append(
            RoleSample(
                key=_role_key(r),
                layer=layer if isinstance(layer, int) else None,
                hidden_1d=len(shape) == 1 and shape[0] == hidden,
                sample=x,
            )
        )
    return out


def _layer_items(roles: list[RoleSample], batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Summed hashed role vectors: ``layer`` ``[batch, items, D]`` (items: layers in
    first-seen order, the non-layer roles among them) and ``hvec`` likewise."""
    dl, dh = DIMS["layer"], DIMS["hvec"]
    layers: dict[int | None, np.ndarray] = {}
    hvecs: dict[int, np.ndarray] = {}
    for r in roles:
        x = r.sample.reshape(batch, -1)
        if x.shape[1] < 4:
            continue
        z = _standardised(x)
        acc = layers.setdefault(r.layer, np.zeros((batch, dl)))
        acc += hashed(z, r.key, dl)
        if r.layer is not None and r.hidden_1d:
            acc_h = hvecs.setdefault(r.layer, np.zeros((batch, dh)))
            acc_h += hashed(z, r.key, dh)
    lay = np.stack(list(layers.values()), axis=1) if layers else np.zeros((batch, 0, dl))
    hv = np.stack(list(hvecs.values()), axis=1) if hvecs else np.zeros((batch, 0, dh))
    return lay, hv


def _pair_keys(hashes: np.ndarray) -> np.ndarray:
    """A 64-bit key per unordered pair of token hashes (upper triangle, row-major)."""
    h = hashes.astype(np.uint64)
    i, j = np.triu_indices(h.size, k=1)
    lo, hi = np.minimum(h[i], h[j]), np.maximum(h[i], h[j])
    with np.errstate(over="ignore"):
        x = (lo << np.uint64(32)) | hi
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return np.asarray(x ^ (x >> np.uint64(31)))


def token_rows(fp: Fingerprint, where: str = "fingerprint") -> tuple[np.ndarray, np.ndarray] | None:
    """(rows, 32-bit token-text hashes) of the token-keyed embedding rows, if stored."""
    tok = fp.tokens
    if not isinstance(tok, dict):
        return None
    rows = unpack(tok.get("rows"), f"{where}: tokens.rows")
    try:
        hashes = np.asarray(tok.get("hashes") or [], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise ModelkinError(where, "malformed fingerprint: token hashes") from None
    if rows.ndim != 2 or hashes.ndim != 1 or rows.shape[0] != hashes.size:
        raise ModelkinError(where, "malformed fingerprint: token rows and hashes disagree")
    return rows, hashes & 0xFFFFFFFF


def _token_items(rows: np.ndarray, hashes: np.ndarray) -> np.ndarray | None:
    """``[batch, D]`` hashed token-Gram vectors of ``rows`` ``[batch, tokens, hidden]``
    (None when fewer than 8 token rows)."""
    n = min(TOKEN_ROWS, hashes.size)
    if n < 8:
        return None
    x = np.nan_to_num(rows[:, :n].astype(np.float64))
    x = x - x.mean(axis=1, keepdims=True)  # the direction every embedding shares
    x = x / np.maximum(np.linalg.norm(x, axis=2, keepdims=True), _EPS)
    gram = x @ x.transpose(0, 2, 1)
    i, j = np.triu_indices(n, k=1)
    vals = gram[:, i, j]
    vals = vals - vals.mean(axis=1, keepdims=True)
    keys = _pair_keys(hashes[:n])
    dim = DIMS["tok"]
    bucket = (keys % np.uint64(dim)).astype(np.intp)
    sign = np.where((keys >> np.uint64(63)) == 1, -1.0, 1.0)
    return np.stack([np.bincount(bucket, weights=sign * v, minlength=dim) for v in vals])


def items_batch(
    roles: list[RoleSample],
    tokens: tuple[np.ndarray, np.ndarray] | None,
    structure: dict[str, Any],
    tokenizer_digest: str | None,
    batch: int,
) -> list[Items]:
    """Index items of ``batch`` models that share role keys, token hashes and structure
    fields (``sample`` and token rows carry a leading model axis). :func:`index_items`
    is this with a batch of one, so both paths compute the same vectors."""
    lay, hv = _layer_items(roles, batch)
    tok = _token_items(tokens[0], tokens[1]) if tokens is not None else None
    lay, lay_ok = _unit_rows(lay)
    hv, hv_ok = _unit_rows(hv)
    if tok is not None:
        tok, tok_ok = _unit_rows(tok)
    nl, hs, fam = (structure.get(k) for k in ("num_layers", "hidden_size", "family"))
    out = []
    for b in range(batch):
        vec = {
            "layer": np.asarray(lay[b][lay_ok[b]], dtype=np.float32),
            "hvec": np.asarray(hv[b][hv_ok[b]], dtype=np.float32),
            "tok": np.zeros((0, DIMS["tok"]), dtype=np.float32),
        }
        if tok is not None and tok_ok[b]:
            vec["tok"] = np.asarray(tok[b : b + 1], dtype=np.float32)
        out.append(
            Items(
                vectors=vec,
                family=str(fam) if fam is not None else None,
                num_layers=nl if isinstance(nl, int) else None,
                hidden_size=hs if isinstance(hs, int) else None,
                tokenizer_digest=tokenizer_digest,
            )
        )
    return out


def items_from_parts(
    roles: list[RoleSample],
    tokens: tuple[np.ndarray, np.ndarray] | None,
    structure: dict[str, Any],
    tokenizer_digest: str | None,
) -> Items:
    """Index items from one fingerprint's parts (what :func:`index_items` reads)."""
    one = [RoleSample(r.key, r.layer, r.hidden_1d, r.sample[None]) for r in roles]
    tok = (tokens[0][None], tokens[1]) if tokens is not None else None
    return items_batch(one, tok, structure, tokenizer_digest, 1)[0]


def index_items(fp: Fingerprint, where: str = "fingerprint") -> Items:
    """The index items of ``fp`` (see the module docstring). Raises ModelkinError when a
    packed array in the fingerprint is malformed."""
    tokd = fp.tokenizer.get("digest") if isinstance(fp.tokenizer, dict) else None
    return items_from_parts(
        role_samples(fp, where),
        token_rows(fp, where),
        fp.structure,
        json.dumps(tokd, sort_keys=True) if tokd is not None else None,
    )
