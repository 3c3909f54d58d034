"""The on-disk 1:N index: every model's index items, one file, atomically replaced.

Layout (one uncompressed ``.npz`` written by :func:`numpy.savez`, read with
``allow_pickle=False``): per channel ``v_<ch>`` (float16 ``[items, DIMS[ch]]``) and
``o_<ch>`` (int32 owner model of each item, non-decreasing), plus ``meta``: UTF-8 JSON
bytes holding the format and feature versions, the registry ledger size the index
reflects, and per model its key and descriptive fields. float16 halves memory; cosines
of unit vectors lose < 1e-3 to it.

A query scores each model, per channel, by the mean over the query's items of the best
cosine among the model's items, then fuses the per-channel rankings by reciprocal rank
fusion (Cormack, Clarke & Buettcher, SIGIR 2009): a derivative that only one channel
recognises (a hidden-permuted copy is seen only by the token Gram) still reaches the top
ranks, while one recognised by every channel comes first. Same family and tokenizer
digest add a small boost (structure filters as tie-breakers).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelkinError
from modelkin.fsio import atomic_writer
from modelkin.search.features import CHANNELS, DIMS, FEATURES_VERSION, Items

INDEX_VERSION = 1
INDEX_FILE = "index.npz"
#: Reciprocal-rank-fusion constant: small, because only the very top ranks matter here.
RRF_K = 1.0
#: Models taken from each channel's ranking into the fusion.
PER_CHANNEL = 64
#: Boosts (in RRF units: 1/(RRF_K + 1) is a first rank) for a shared family / tokenizer.
FAMILY_BOOST = 0.05
TOKENIZER_BOOST = 0.05
#: Items scored per matrix product (bounds the float32 working set to ~70 MB).
_CHUNK = 1 << 18
#: Largest index file read (a 100k-model index is ~150 MB).
MAX_INDEX_BYTES = 8 << 30


@dataclass(frozen=True)
class Match:
    """One model as ranked by the index: position ``model`` in the index, its key and
    stored fields, the fused score and the per-channel mean best cosines."""

    model: int
    key: str
    info: dict[str, Any]
    score: float
    channels: dict[str, float]


@dataclass
class SearchIndex:
    """Index items of many models (see the module docstring)."""

    keys: list[str] = field(default_factory=list)
    infos: list[dict[str, Any]] = field(default_factory=list)
    applied_size: int = 0
    _vec: dict[str, list[np.ndarray]] = field(default_factory=lambda: {c: [] for c in CHANNELS})
    _own: dict[str, list[np.ndarray]] = field(default_factory=lambda: {c: [] for c in CHANNELS})

    def __len__(self) -> int:
        return len(self.keys)

    # -- building --------------------------------------------------------------------
    def add(self, key: str, items: Items, info: dict[str, Any] | None = None) -> int:
        """Append one model; returns its position."""
        pos = len(self.keys)
        self.keys.append(key)
        self.infos.append(dict(info or {}) | items.meta())
        for ch in CHANNELS:
            v = items.vectors.get(ch)
            if v is None or len(v) == 0:
                continue
            self._vec[ch].append(np.asarray(v, dtype=np.float16))
            self._own[ch].append(np.full(len(v), pos, dtype=np.int32))
        return pos

    def remove(self, keys: set[str]) -> None:
        """Drop the models whose key is in ``keys`` (positions are renumbered)."""
        if not keys:
            return
        keep = np.array([k not in keys for k in self.keys], dtype=bool)
        new_pos = np.cumsum(keep) - 1
        for ch in CHANNELS:
            v, o = self.matrix(ch)
            m = keep[o] if len(o) else np.zeros(0, dtype=bool)
            self._vec[ch] = [v[m]]
            self._own[ch] = [new_pos[o[m]].astype(np.int32)]
        self.keys = [k for k, kept in zip(self.keys, keep, strict=True) if kept]
        self.infos = [i for i, kept in zip(self.infos, keep, strict=True) if kept]

    def matrix(self, ch: str) -> tuple[np.ndarray, np.ndarray]:
        """(float16 items, int32 owners) of one channel (chunks joined on first use)."""
        vs, os_ = self._vec[ch], self._own[ch]
        if len(vs) != 1:
            v = np.concatenate(vs) if vs else np.zeros((0, DIMS[ch]), dtype=np.float16)
            o = np.concatenate(os_) if os_ else np.zeros(0, dtype=np.int32)
            self._vec[ch], self._own[ch] = [v], [o]
        return self._vec[ch][0], self._own[ch][0]

    def nbytes(self) -> int:
        return sum(a.nbytes for ch in CHANNELS for a in self.matrix(ch))

    # -- querying --------------------------------------------------------------------
    def channel_scores(self, ch: str, q: np.ndarray) -> np.ndarray:
        """Per model: mean over query items of the best cosine with the model's items
        (NaN for models without items in ``ch``)."""
        out = np.full(len(self.keys), np.nan)
        v, o = self.matrix(ch)
        if len(q) == 0 or len(o) == 0:
            return out
        best = np.full((len(q), len(self.keys)), -np.inf, dtype=np.float32)
        qf = np.asarray(q, dtype=np.float32)
        for start in range(0, len(o), _CHUNK):
            vv = v[start : start + _CHUNK].astype(np.float32)
            oo = o[start : start + _CHUNK]
            s = qf @ vv.T
            first = np.flatnonzero(np.r_[True, oo[1:] != oo[:-1]])
            owners = oo[first]
            red = np.maximum.reduceat(s, first, axis=1)
            best[:, owners] = np.maximum(best[:, owners], red)
        has = np.isfinite(best[0])
        out[has] = best[:, has].mean(axis=0)
        return out

    def query(self, items: Items, top: int = 10) -> list[Match]:
        """The ``top`` models most likely related to the model with ``items``."""
        n = len(self.keys)
        if n == 0 or top <= 0:
            return []
        fused = np.zeros(n)
        scores: dict[str, np.ndarray] = {}
        for ch in CHANNELS:
            q = items.vectors.get(ch)
            if q is None or len(q) == 0:
                continue
            s = self.channel_scores(ch, q)
            scores[ch] = s
            valid = np.flatnonzero(np.isfinite(s))
            if len(valid) == 0:
                continue
            k = min(PER_CHANNEL, len(valid))
            part = valid[np.argpartition(-s[valid], k - 1)[:k]]
            order = part[np.argsort(-s[part], kind="stable")]
            fused[order] += 1.0 / (RRF_K + 1.0 + np.arange(len(order)))
        meta = items.meta()
        cand = np.flatnonzero(fused > 0)
        for i in cand:
            info = self.infos[i]
            if meta["family"] is not None and info.get("family") == meta["family"]:
                fused[i] += FAMILY_BOOST
            if meta["tokenizer"] is not None and info.get("tokenizer") == meta["tokenizer"]:
                fused[i] += TOKENIZER_BOOST
        best_cos = np.nanmax(np.vstack(list(scores.values())), axis=0) if scores else fused
        ranked = sorted(cand.tolist(), key=lambda i: (-fused[i], -float(best_cos[i])))[:top]
        return [
            Match(
                model=i,
                key=self.keys[i],
                info=self.infos[i],
                score=float(fused[i]),
                channels={c: float(s[i]) for c, s in scores.items() if np.isfinite(s[i])},
            )
            for i in ranked
        ]

    # -- persistence -----------------------------------------------------------------
    def save(self, path: Path) -> Path:
        """Write to ``path`` atomically (temporary file in the same directory, fsync,
        rename): readers see the old or the new index, never a torn one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": "modelkin-search-index",
            "version": INDEX_VERSION,
            "features_version": FEATURES_VERSION,
            "dims": DIMS,
            "applied_size": self.applied_size,
            "keys": self.keys,
            "infos": self.infos,
        }
        arrays: dict[str, np.ndarray] = {
            "meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
        }
        for ch in CHANNELS:
            arrays[f"v_{ch}"], arrays[f"o_{ch}"] = self.matrix(ch)
        try:
            with atomic_writer(path) as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]
        except OSError as exc:
            raise ModelkinError(path, f"cannot write search index: {exc.strerror or exc}") from None
        return path

    @classmethod
    def load(cls, path: Path) -> SearchIndex:
        """Read and validate an index file; ModelkinError naming the file when it is
        missing, corrupt, or of another version (callers that own the registry rebuild)."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_INDEX_BYTES:
                raise ModelkinError(path, "search index file too large")
            with np.load(path, allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
        except ModelkinError:
            raise
        except FileNotFoundError:
            raise ModelkinError(path, "no search index here") from None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
            raise ModelkinError(path, f"corrupt search index ({exc})") from None
        return cls._from_arrays(arrays, path)

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], path: Path) -> SearchIndex:
        def bad(why: str) -> ModelkinError:
            return ModelkinError(path, f"corrupt search index ({why}); delete it to rebuild")

        raw = arrays.get("meta")
        if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
            raise bad("no metadata")
        try:
            meta = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise bad("metadata is not JSON") from None
        if not isinstance(meta, dict) or meta.get("format") != "modelkin-search-index":
            raise bad("not a modelkin search index")
        if meta.get("version") != INDEX_VERSION or meta.get("features_version") != FEATURES_VERSION:
            raise ModelkinError(
                path,
                f"search index version {meta.get('version')}/{meta.get('features_version')} "
                f"(this modelkin writes {INDEX_VERSION}/{FEATURES_VERSION}); rebuild it",
            )
        keys, infos, applied = meta.get("keys"), meta.get("infos"), meta.get("applied_size")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise bad("keys")
        if not isinstance(infos, list) or len(infos) != len(keys):
            raise bad("model fields")
        if not all(isinstance(i, dict) for i in infos) or type(applied) is not int:
            raise bad("model fields")
        idx = cls(keys=keys, infos=infos, applied_size=applied)
        for ch in CHANNELS:
            v, o = arrays.get(f"v_{ch}"), arrays.get(f"o_{ch}")
            if v is None or o is None:
                raise bad(f"channel {ch} missing")
            if v.dtype != np.float16 or v.ndim != 2 or v.shape[1] != DIMS[ch]:
                raise bad(f"channel {ch} vectors")
            if o.dtype != np.int32 or o.shape != (v.shape[0],):
                raise bad(f"channel {ch} owners")
            if len(o) and (o.min() < 0 or o.max() >= len(keys) or np.any(np.diff(o) < 0)):
                raise bad(f"channel {ch} owners out of order or range")
            if not np.all(np.isfinite(v)):
                raise bad(f"channel {ch} has non-finite values")
            idx._vec[ch], idx._own[ch] = [v], [o]
        return idx


def build(entries: Sequence[tuple[str, Items, dict[str, Any]]]) -> SearchIndex:
    """An index of ``(key, items, info)`` entries, in order."""
    idx = SearchIndex()
    for key, items, info in entries:
        idx.add(key, items, info)
    return idx
