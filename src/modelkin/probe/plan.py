"""The versioned probe set and how two models read it.

``probe-v<N>.json`` (shipped in :mod:`modelkin.probe` ``data/``) holds short passages
written for modelkin: prose, questions, numbers, error messages and Python code, ASCII
only, each under 100 bytes. Its sha256 goes into every report that uses it, so a result
names exactly the text it was measured on; a new text is a new version, never an edit.

:func:`plan_probe` decides how the two models of a comparison read the probe:

* **shared** mode, when both vocabularies are spelled the same way (same scheme, same case
  handling): each passage is segmented once over the tokens *both* vocabularies contain,
  and every position is comparable (same token, same context) in both models;
* **own** mode otherwise: each model's own vocabulary segments the text, and rows are
  the byte offsets where both segmentations end a token (word ends, mostly), i.e. "the
  state after reading the same prefix of text".

Special tokens are added as each model expects (a BOS for decoders whose tokenizer adds
one, ``[CLS]`` / ``[SEP]`` for encoders) and never used as rows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelkinError
from modelkin.io.base import TensorSource
from modelkin.io.tokenizer import Tokenizer
from modelkin.probe.vocab import Codec, Segment, make_codec, segment, shared_codec

#: Version of the probe text used by default.
PROBE_VERSION = 1
#: At most this many vocabulary rows are compared in output (logit) statistics.
MAX_LOGIT_ROWS = 4096
#: Bytes of a tokenizer.json scanned for its post-processor (no JSON parse of 30 MB).
_SCAN_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ProbeSet:
    """A versioned probe text: ``texts`` and the sha256 of the file they came from."""

    name: str
    version: int
    sha256: str
    texts: tuple[str, ...]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "passages": len(self.texts),
        }


@cache
def load_probe(version: int = PROBE_VERSION) -> ProbeSet:
    """The probe set of ``version`` shipped with modelkin."""
    ref = resources.files("modelkin.probe").joinpath(f"data/probe-v{version}.json")
    try:
        raw = ref.read_bytes()
    except FileNotFoundError:
        raise ModelkinError(f"probe-v{version}", "no such probe version") from None
    obj = json.loads(raw)
    texts = tuple(str(t) for t in obj["texts"])
    return ProbeSet(str(obj["name"]), int(obj["version"]), hashlib.sha256(raw).hexdigest(), texts)


@dataclass
class Reader:
    """How one model reads text: its codec and the special ids around each passage."""

    codec: Codec
    prefix: tuple[int, ...] = ()
    suffix: tuple[int, ...] = ()
    vocab_size: int = 0


@dataclass
class ProbePlan:
    """Token ids for each model and which positions correspond.

    ``seqs_a[k]`` / ``seqs_b[k]`` are passage ``k`` as each model's ids (passages one of
    the models cannot read are dropped: ``passages`` lists the kept indices);
    ``rows_a[r]`` and ``rows_b[r]`` index the same text position in the concatenation of
    the sequences. In shared mode ``next_rows`` are the rows whose next token is also a
    probe token, ``logit_a`` / ``logit_b`` the shared vocabulary rows compared by output
    statistics (same token text at the same index)."""

    mode: str
    probe: ProbeSet
    passages: list[int]
    seqs_a: list[np.ndarray]
    seqs_b: list[np.ndarray]
    rows_a: np.ndarray
    rows_b: np.ndarray
    next_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    next_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    logit_a: np.ndarray | None = None
    logit_b: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "probe": self.probe.describe(),
            "mode": self.mode,
            "passages_used": len(self.passages),
            "rows": int(self.rows_a.shape[0]),
            "tokens_a": int(sum(len(s) for s in self.seqs_a)),
            "tokens_b": int(sum(len(s) for s in self.seqs_b)),
            "logit_rows": 0 if self.logit_a is None else int(self.logit_a.shape[0]),
            "notes": list(self.notes),
        }


def _tokenizer_files(source: TensorSource) -> list[Path]:
    base = source.path if source.path.is_dir() else source.path.parent
    dirs = [getattr(source, "weights_dir", base), base]
    return [d for d in dict.fromkeys(dirs) if isinstance(d, Path)]


def _adds_bos(source: TensorSource) -> bool:
    """Whether the model's tokenizer prepends a BOS token: GGUF ``add_bos_token``, else
    HF ``tokenizer_config.json`` ``add_bos_token``, else a ``tokenizer.json``
    post-processor template (``TemplateProcessing``)."""
    if source.format == "gguf":
        return bool(source.metadata().get("tokenizer.ggml.add_bos_token", False))
    for d in _tokenizer_files(source):
        tc = d / "tokenizer_config.json"
        if tc.is_file() and tc.stat().st_size < 16 * 1024 * 1024:
            try:
                obj = json.loads(tc.read_text(encoding="utf-8"))
            except (OSError, ValueError, UnicodeDecodeError):
                obj = {}
            if isinstance(obj, dict) and isinstance(obj.get("add_bos_token"), bool):
                return bool(obj["add_bos_token"])
        tj = d / "tokenizer.json"
        if tj.is_file():
            with tj.open("rb") as f:
                head = f.read(_SCAN_BYTES)
            at = head.find(b'"post_processor"')
            if at >= 0:
                window = head[at : at + 400].replace(b" ", b"")
                return b'"TemplateProcessing"' in window
    return False


def _special(tok: Tokenizer, *names: str) -> int | None:
    return next((tok.special_tokens[n] for n in names if n in tok.special_tokens), None)


def make_reader(source: TensorSource, tok: Tokenizer, kind: str) -> Reader:
    """The :class:`Reader` of a model whose forward kind is ``kind`` (decoder/encoder)."""
    codec = make_codec(tok)
    prefix: tuple[int, ...] = ()
    suffix: tuple[int, ...] = ()
    if kind == "encoder":
        cls = _special(tok, "[CLS]", "<s>")
        sep = _special(tok, "[SEP]", "</s>")
        prefix = (cls,) if cls is not None else ()
        suffix = (sep,) if sep is not None else ()
    elif _adds_bos(source):
        bos = None
        if source.format == "gguf":
            b = source.metadata().get("tokenizer.ggml.bos_token_id")
            bos = b if isinstance(b, int) else None
        if bos is None:
            b = source.config().get("bos_token_id")
            bos = b if isinstance(b, int) else None
        if bos is None:
            bos = _special(tok, "<bos>", "<s>", "<|begin_of_text|>", "<|endoftext|>")
        prefix = (bos,) if bos is not None else ()
    return Reader(codec, prefix, suffix, tok.vocab_size)


def _ids(reader: Reader, segs: list[Segment]) -> np.ndarray:
    return np.asarray([*reader.prefix, *(s.id for s in segs), *reader.suffix], dtype=np.int64)


def plan_probe(
    a: Reader,
    b: Reader,
    probe: ProbeSet | None = None,
    max_tokens: tuple[int | None, int | None] = (None, None),
) -> ProbePlan:
    """How models ``a`` and ``b`` read ``probe`` (see the module docstring).
    ``max_tokens`` bounds each model's sequence length (learned position tables)."""
    probe = probe or load_probe()
    shared = shared_codec(a.codec, b.codec)
    mode = "shared" if shared is not None and _covers(shared[0], a.codec) else "own"
    notes: list[str] = []
    seqs_a: list[np.ndarray] = []
    seqs_b: list[np.ndarray] = []
    rows_a: list[int] = []
    rows_b: list[int] = []
    next_rows: list[int] = []
    next_ids: list[int] = []
    kept: list[int] = []
    off_a = off_b = 0
    dropped = 0
    for k, text in enumerate(probe.texts):
        if mode == "shared":
            assert shared is not None
            codec, to_b = shared
            segs = segment(codec, text)
            if segs is None:
                dropped += 1
                continue
            sa = _ids(a, segs)
            sb = np.asarray([*b.prefix, *(to_b[s.id] for s in segs), *b.suffix], dtype=np.int64)
            pairs = [(len(a.prefix) + i, len(b.prefix) + i) for i in range(len(segs))]
            nexts = [(len(a.prefix) + i, segs[i + 1].id) for i in range(len(segs) - 1)]
        else:
            ga, gb = segment(a.codec, text), segment(b.codec, text)
            if ga is None or gb is None:
                dropped += 1
                continue
            sa, sb = _ids(a, ga), _ids(b, gb)
            ends_b = {s.end: len(b.prefix) + i for i, s in enumerate(gb)}
            pairs = [
                (len(a.prefix) + i, ends_b[s.end])
                for i, s in enumerate(ga)
                if s.end in ends_b and (i + 1 == len(ga) or ga[i + 1].start == s.end)
            ]
            nexts = []
        if any(m is not None and len(s) > m for s, m in zip((sa, sb), max_tokens, strict=True)):
            dropped += 1
            continue
        kept.append(k)
        seqs_a.append(sa)
        seqs_b.append(sb)
        rows_a.extend(off_a + i for i, _ in pairs)
        rows_b.extend(off_b + j for _, j in pairs)
        next_rows.extend(off_a + i for i, _ in nexts)
        next_ids.extend(t for _, t in nexts)
        off_a += len(sa)
        off_b += len(sb)
    if dropped:
        notes.append(f"{dropped} of {len(probe.texts)} passages could not be read by both models")
    plan = ProbePlan(
        mode=mode,
        probe=probe,
        passages=kept,
        seqs_a=seqs_a,
        seqs_b=seqs_b,
        rows_a=np.asarray(rows_a, dtype=np.int64),
        rows_b=np.asarray(rows_b, dtype=np.int64),
        next_rows=np.asarray(next_rows, dtype=np.int64),
        next_ids=np.asarray(next_ids, dtype=np.int64),
        notes=notes,
    )
    if mode == "shared" and shared is not None:
        plan.logit_a, plan.logit_b = _logit_rows(shared[0], shared[1], plan)
    return plan


def _covers(shared: Codec, a: Codec) -> bool:
    """Shared mode needs the intersection to segment text about as finely as the model's
    own vocabulary: at least half of ``a``'s matchable tokens, or every byte."""
    n_a = len(a.pieces) + len(a.cont)
    n_s = len(shared.pieces) + len(shared.cont)
    return n_a > 0 and (2 * n_s >= n_a or all(bytes([c]) in shared.pieces for c in range(32, 127)))


def _logit_rows(
    codec: Codec, to_b: dict[int, int], plan: ProbePlan
) -> tuple[np.ndarray, np.ndarray]:
    """Shared vocabulary rows for output statistics: every token the probe uses, then
    other shared tokens in a fixed pseudo-random order (sha256 of their bytes) up to
    :data:`MAX_LOGIT_ROWS`."""
    used = sorted(
        {int(t) for t in plan.next_ids} | {int(i) for s in plan.seqs_a for i in s if int(i) in to_b}
    )
    chosen = list(dict.fromkeys(used))[:MAX_LOGIT_ROWS]
    if len(chosen) < MAX_LOGIT_ROWS:
        taken = set(chosen)
        rest = sorted(
            (hashlib.sha256(t).digest(), i) for t, i in codec.pieces.items() if i not in taken
        )
        chosen.extend(i for _, i in rest[: MAX_LOGIT_ROWS - len(chosen)])
    ids_a = np.asarray(sorted(chosen), dtype=np.int64)
    ids_b = np.asarray([to_b[int(i)] for i in ids_a], dtype=np.int64)
    return ids_a, ids_b
