"""Tokenizers in one form, whatever file they came from.

A tokenizer's vocabulary (tokens in id order), merge rules and special tokens are strong
lineage evidence: a derived model nearly always keeps its parent's tokenizer, or extends
it. This module reads them from

* ``tokenizer.json`` (Hugging Face *tokenizers*: ``model.type`` BPE / WordPiece /
  Unigram, plus ``added_tokens``),
* ``vocab.txt`` (BERT WordPiece: one token per line, id = line number),
* ``vocab.json`` + ``merges.txt`` (GPT-2 style byte-level BPE),
* a SentencePiece ``.model`` (a ``ModelProto`` protobuf, parsed with the protobuf
  classes shipped in the ``sentencepiece`` package: data, never code),

and GGUF metadata (built by :mod:`modelkin.io.gguf` with this dataclass). Files are read
with a size bound; nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelFormatError
from modelkin.io.base import MAX_HEADER_BYTES

#: Largest tokenizer file accepted (gemma3's tokenizer.json, among the largest, is ~33 MB).
MAX_TOKENIZER_BYTES = MAX_HEADER_BYTES
#: Largest vocabulary accepted (the largest real ones are ~260k).
MAX_VOCAB = 4_000_000
#: SentencePiece piece types (sentencepiece_model.proto, ``ModelProto.SentencePiece.Type``).
_SP_NORMAL, _SP_UNKNOWN, _SP_CONTROL, _SP_USER_DEFINED, _SP_UNUSED, _SP_BYTE = 1, 2, 3, 4, 5, 6
#: ``TrainerSpec.ModelType``.
_SP_MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}
_BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: Bytes that ``json.dumps(..., ensure_ascii=False)`` does not copy verbatim, and its
#: escapes for them (``json.encoder.ESCAPE_DCT``: short forms, else ``\u00XX``).
_JSON_ESCAPED = re.compile(rb'["\\\x00-\x1f]')
_JSON_SHORT = {
    b'"': b'\\"',
    b"\\": b"\\\\",
    b"\b": b"\\b",
    b"\f": b"\\f",
    b"\n": b"\\n",
    b"\r": b"\\r",
    b"\t": b"\\t",
}


def _json_escape(m: re.Match[bytes]) -> bytes:
    """The JSON escape of one byte matched by :data:`_JSON_ESCAPED`."""
    c = m.group()
    return _JSON_SHORT.get(c) or b"\\u%04x" % c[0]


def _sha256_json(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha256_json_strings(items: Sequence[str]) -> str:
    """Same digest as :func:`_sha256_json` on a list of strings, hashed element by element
    so a 262k-token vocabulary never exists as one multi-MB JSON text (and its UTF-8 copy).

    A packed GGUF vocabulary (``raw_batches``) is hashed from its stored bytes where they
    are valid UTF-8: the JSON text is then those bytes with ``"``, ``\\`` and control
    characters escaped exactly as ``json.dumps`` (``ensure_ascii=False``) escapes them
    (RFC 8259 section 7); batches holding invalid UTF-8 go through ``json.dumps``."""
    h = hashlib.sha256(b"[")
    batch = 4096
    raw_batches = getattr(items, "raw_batches", None)
    if raw_batches is not None:
        lo = 0
        for chunks, valid in raw_batches(batch):
            if valid:  # 0xFF never occurs in UTF-8: a safe separator to escape around
                escaped = _JSON_ESCAPED.sub(_json_escape, b"\xff".join(chunks))
                body = b'"' + escaped.replace(b"\xff", b'","') + b'"'
            else:
                text = json.dumps(
                    list(items[lo : lo + len(chunks)]), ensure_ascii=False, separators=(",", ":")
                )
                body = text[1:-1].encode("utf-8")
            h.update(body if lo == 0 else b"," + body)
            lo += len(chunks)
        h.update(b"]")
        return h.hexdigest()
    for lo in range(0, len(items), batch):
        text = json.dumps(list(items[lo : lo + batch]), ensure_ascii=False, separators=(",", ":"))
        h.update((text[1:-1] if lo == 0 else "," + text[1:-1]).encode("utf-8"))
    h.update(b"]")
    return h.hexdigest()


@dataclass
class Tokenizer:
    """A tokenizer's identity-bearing parts.

    ``kind`` is ``"bpe"``, ``"wordpiece"``, ``"unigram"`` or ``"unknown"`` (SentencePiece
    ``word``/``char`` models report ``"unknown"``); ``tokens[i]`` is the text of id ``i``
    (ids missing from the source are ``""``; any sequence: GGUF gives a packed one, see
    :class:`modelkin.io._gguf_header.PackedStrings`); ``merges`` are BPE rules ``"a b"`` in
    priority order; ``special_tokens`` maps text to id; ``scores`` are SentencePiece /
    Unigram log-probabilities where the format has them (any float sequence: GGUF gives
    a compact ``array('f')``, 1 MB instead of 10 MB of Python floats for 262k tokens).
    ``source`` names the file.
    """

    kind: str
    tokens: Sequence[str]
    merges: Sequence[str] = field(default_factory=list)
    special_tokens: dict[str, int] = field(default_factory=dict)
    scores: Sequence[float] | None = None
    source: str = ""

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def digest(self) -> dict[str, str]:
        """sha256 (hex) of the canonical vocabulary (JSON list of tokens in id order), of
        the merges (JSON list), of the special tokens (JSON object), and of all three."""
        parts = {
            "vocab": _sha256_json_strings(self.tokens),
            "merges": _sha256_json_strings(self.merges),
            "special_tokens": _sha256_json(self.special_tokens),
        }
        parts["all"] = _sha256_json(
            [self.kind, parts["vocab"], parts["merges"], parts["special_tokens"]]
        )
        return parts

    def token_crc32(self) -> np.ndarray:
        """``zlib.crc32`` of each token's UTF-8 text, in id order, as uint32 (0 for the
        empty texts of missing ids): seed-free token keys for intersecting vocabularies.
        Packed GGUF vocabularies hash their stored bytes directly, several times faster
        than a Python loop over 262k ``str``."""
        crc = getattr(self.tokens, "crc32s", None)
        if crc is not None:
            return np.asarray(crc(), dtype=np.uint32)
        return np.fromiter(
            (zlib.crc32(t.encode("utf-8")) for t in self.tokens),
            dtype=np.uint32,
            count=len(self.tokens),
        )

    def nonempty(self) -> np.ndarray:
        """Boolean mask, in id order, of the ids that have a token text."""
        mask = getattr(self.tokens, "nonempty", None)
        if mask is not None:
            return np.asarray(mask(), dtype=bool)
        return np.fromiter((bool(t) for t in self.tokens), dtype=bool, count=len(self.tokens))

    def summary(self) -> dict[str, Any]:
        """A small JSON-able description (for ``inspect`` and fingerprints)."""
        return {
            "kind": self.kind,
            "vocab_size": self.vocab_size,
            "merges": len(self.merges),
            "special_tokens": len(self.special_tokens),
            "source": self.source,
            "digest": self.digest(),
        }


def _read_bounded(path: Path) -> bytes:
    limit = MAX_TOKENIZER_BYTES
    try:
        size = path.stat().st_size
        if size > limit:
            raise ModelFormatError(
                path, f"tokenizer file is {size} bytes, more than the limit {limit}"
            )
        return path.read_bytes()
    except OSError as exc:
        raise ModelFormatError(path, f"cannot read: {exc.strerror or exc}") from None


def _load_json(path: Path) -> Any:
    try:
        return json.loads(_read_bounded(path).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFormatError(path, f"not valid UTF-8 JSON ({exc})") from None


def tokens_from_ids(pairs: Iterable[tuple[str, int]], where: str | Path) -> list[str]:
    """Lay out ``(token, id)`` pairs as a list indexed by id (gaps become ``""``)."""
    by_id: dict[int, str] = {}
    for tok, i in pairs:
        if not isinstance(tok, str) or not isinstance(i, int) or isinstance(i, bool):
            raise ModelFormatError(where, f"vocabulary entry {tok!r} -> {i!r} is not text -> id")
        if not 0 <= i < MAX_VOCAB:
            raise ModelFormatError(where, f"token id {i} is outside [0, {MAX_VOCAB})")
        by_id.setdefault(i, tok)
    size = max(by_id, default=-1) + 1
    return [by_id.get(i, "") for i in range(size)]


def from_tokenizer_json(path: str | Path) -> Tokenizer:
    """Parse a Hugging Face ``tokenizer.json`` (scanned in place, never a whole JSON tree:
    see :mod:`modelkin.io.tokenizer_json`)."""
    from modelkin.io.tokenizer_json import pack_by_id, parse_tokenizer_json

    path = Path(path)
    parsed = parse_tokenizer_json(_read_bounded(path), path, MAX_VOCAB)
    mtype = parsed.mtype
    merges: Sequence[str] = []
    if mtype == "unigram" or (not mtype and parsed.vocab_kind == "list"):
        kind = "unigram"
        if parsed.vocab_kind != "list":
            raise ModelFormatError(path, "Unigram 'vocab' must be a list of [token, score]")
    elif parsed.vocab_kind == "map":
        kind = {"bpe": "bpe", "wordpiece": "wordpiece", "wordlevel": "unknown"}.get(
            mtype, "unknown"
        )
        merges = parsed.merges if parsed.merges is not None else []
    else:
        raise ModelFormatError(path, f"unsupported tokenizer model type {mtype or '?'!r}")
    added = parsed.added
    if not isinstance(added, list):
        raise ModelFormatError(path, "'added_tokens' is not a list")
    specials: dict[str, int] = {}
    raws, ids = parsed.raws, parsed.ids
    for a in added:
        if (
            not isinstance(a, dict)
            or not isinstance(a.get("content"), str)
            or not isinstance(a.get("id"), int)
            or isinstance(a.get("id"), bool)
        ):
            raise ModelFormatError(path, f"added token {a!r} lacks content/id")
        raws.append(a["content"].encode("utf-8", "surrogatepass"))
        ids.append(a["id"])
        if a.get("special"):
            specials[a["content"]] = a["id"]
    bad = [i for i in ids if not 0 <= i < MAX_VOCAB]
    if bad:
        raise ModelFormatError(path, f"token id {bad[0]} is outside [0, {MAX_VOCAB})")
    tokens = pack_by_id(raws, ids)
    scores: list[float] | None = None
    if kind == "unigram" and parsed.scores is not None:
        # Added tokens may take ids beyond the score list; keep scores aligned.
        scores = list(parsed.scores) + [0.0] * max(0, len(tokens) - len(parsed.scores))
    return Tokenizer(kind, tokens, merges, specials, scores, source=path.name)


def from_vocab_txt(path: str | Path, special_tokens: Iterable[str] | None = None) -> Tokenizer:
    """Parse a BERT ``vocab.txt``; specials are the usual BERT ones present (or those
    named in ``special_tokens``)."""
    path = Path(path)
    try:
        text = _read_bounded(path).decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFormatError(path, "vocab.txt is not UTF-8") from None
    tokens = text.split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    tokens = [t.rstrip("\r") for t in tokens]
    if len(tokens) > MAX_VOCAB:
        raise ModelFormatError(path, f"vocabulary larger than {MAX_VOCAB}")
    wanted = set(special_tokens) if special_tokens is not None else set(_BERT_SPECIALS)
    specials = {}
    for i, t in enumerate(tokens):
        if t in wanted and t not in specials:
            specials[t] = i
    return Tokenizer("wordpiece", tokens, [], specials, None, source=path.name)


def from_vocab_json_merges(vocab_path: str | Path, merges_path: str | Path | None) -> Tokenizer:
    """Parse GPT-2 style ``vocab.json`` (+ ``merges.txt``, whose ``#version`` line is skipped)."""
    vocab_path = Path(vocab_path)
    vocab = _load_json(vocab_path)
    if not isinstance(vocab, dict) or len(vocab) > MAX_VOCAB:
        raise ModelFormatError(vocab_path, "vocab.json must be an object token -> id")
    tokens = tokens_from_ids(vocab.items(), vocab_path)
    merges: list[str] = []
    if merges_path is not None:
        mp = Path(merges_path)
        try:
            lines = _read_bounded(mp).decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise ModelFormatError(mp, "merges.txt is not UTF-8") from None
        merges = [ln for ln in lines if ln and not ln.startswith("#version")]
    return Tokenizer("bpe", tokens, merges, {}, None, source=vocab_path.name)


def from_sentencepiece(path: str | Path) -> Tokenizer:
    """Parse a SentencePiece ``.model`` file (protobuf ``ModelProto``)."""
    path = Path(path)
    raw = _read_bounded(path)
    try:
        from google.protobuf.message import DecodeError
        from sentencepiece import sentencepiece_model_pb2 as sp_pb2
    except ImportError:  # pragma: no cover - both are dependencies
        raise ModelFormatError(
            path, "reading SentencePiece models needs the sentencepiece package"
        ) from None
    proto: Any = sp_pb2.ModelProto()  # type: ignore[attr-defined]
    try:
        proto.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelFormatError(path, f"not a SentencePiece model ({exc})") from None
    if not proto.pieces:
        raise ModelFormatError(path, "SentencePiece model has no pieces")
    if len(proto.pieces) > MAX_VOCAB:
        raise ModelFormatError(path, f"vocabulary larger than {MAX_VOCAB}")
    tokens = [p.piece for p in proto.pieces]
    scores = [float(p.score) for p in proto.pieces]
    specials = {
        p.piece: i
        for i, p in enumerate(proto.pieces)
        if p.type in (_SP_UNKNOWN, _SP_CONTROL, _SP_USER_DEFINED)
    }
    kind = _SP_MODEL_TYPES.get(int(proto.trainer_spec.model_type), "unknown")
    if kind in ("word", "char"):
        kind = "unknown"
    return Tokenizer(kind, tokens, [], specials, scores, source=path.name)


def _special_map(directory: Path) -> list[str] | None:
    """Special token strings named by ``special_tokens_map.json``, if present."""
    p = directory / "special_tokens_map.json"
    if not p.is_file():
        return None
    obj = _load_json(p)
    out: list[str] = []
    if isinstance(obj, Mapping):
        for v in obj.values():
            vals = v if isinstance(v, list) else [v]
            for x in vals:
                if isinstance(x, str):
                    out.append(x)
                elif isinstance(x, Mapping) and isinstance(x.get("content"), str):
                    out.append(x["content"])
    return out


def find_tokenizer(*directories: Path) -> Tokenizer | None:
    """The tokenizer in the first of ``directories`` that has one, preferring
    ``tokenizer.json`` over ``tokenizer.model`` over ``vocab.json`` over ``vocab.txt``."""
    for d in directories:
        if (d / "tokenizer.json").is_file():
            return from_tokenizer_json(d / "tokenizer.json")
        for name in ("tokenizer.model", "spiece.model", "sentencepiece.bpe.model"):
            if (d / name).is_file():
                return from_sentencepiece(d / name)
        if (d / "vocab.json").is_file():
            merges = d / "merges.txt"
            return from_vocab_json_merges(d / "vocab.json", merges if merges.is_file() else None)
        if (d / "vocab.txt").is_file():
            return from_vocab_txt(d / "vocab.txt", _special_map(d))
    return None
