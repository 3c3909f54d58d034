"""Turning probe text into token ids with nothing but a model's vocabulary.

modelkin reads vocabularies (:class:`modelkin.io.tokenizer.Tokenizer`), not tokenizer
programs, so probe text is segmented here by **greedy longest match** over the
vocabulary's token texts:

* ``wordpiece`` (BERT): the text is lower-cased when the vocabulary is uncased, split at
  whitespace and punctuation, and each word matched longest-first with ``##``
  continuation pieces: this *is* the WordPiece algorithm (Wu et al. 2016, BERT's
  ``WordpieceTokenizer``), so ids equal the reference tokenizer's on ASCII text;
* ``bytelevel`` (GPT-2 style byte-level BPE, Llama 3, Qwen, the synthetic byte models):
  token texts are decoded through GPT-2's byte-to-unicode table;
* ``spm`` (SentencePiece BPE/Unigram, Gemma, Llama 2): ``▁`` is a space and ``<0xNN>``
  byte-fallback pieces are single bytes.

For the last two, longest match is not the merge order of BPE nor the Viterbi path of
Unigram, so some words split differently than the model's own tokenizer would split them.
That is deliberate and harmless for what the probe is used for: both models read the same
text, every token is a real vocabulary entry (the input stays in distribution), and
representation similarity is measured position by position on that same input.
Every segment carries its byte span in the text so two models' segmentations can be
aligned at the positions where both have a token boundary.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from modelkin.io.tokenizer import Tokenizer

#: Longest token text (bytes) tried by the greedy matcher.
MAX_TOKEN_BYTES = 64


@cache
def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's reversible byte -> printable character table (Radford et al.
    2019, ``bytes_to_unicode``): printable Latin-1 bytes map to themselves, the other 68
    bytes to code points 256 upwards in byte order."""
    keep = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table: dict[int, str] = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return {c: b for b, c in table.items()}


def _is_punct(ch: str) -> bool:
    """BERT's punctuation test: ASCII symbol ranges plus Unicode ``P*`` categories."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


@dataclass
class Segment:
    """One token of a segmentation: its id and the byte span ``[start, end)`` it covers."""

    id: int
    start: int
    end: int


@dataclass
class Codec:
    """A vocabulary prepared for greedy segmentation.

    ``pieces`` maps token bytes to id (word-initial pieces for WordPiece); ``cont`` maps
    WordPiece ``##`` continuation bytes to id. ``texts`` (token bytes per id, for the ids
    that have one) lets two codecs be intersected."""

    scheme: str
    pieces: dict[bytes, int]
    cont: dict[bytes, int] = field(default_factory=dict)
    lowercase: bool = False
    unk: int | None = None
    max_len: int = 1

    def key_of(self) -> dict[tuple[bool, bytes], int]:
        """``(is_continuation, bytes) -> id`` for every matchable token."""
        out = {(False, b): i for b, i in self.pieces.items()}
        out.update({(True, b): i for b, i in self.cont.items()})
        return out


def scheme_of(tok: Tokenizer) -> str:
    """``wordpiece``, ``bytelevel`` or ``spm`` from the vocabulary's spelling."""
    n = len(tok.tokens)
    step = max(1, n // 20000)  # a sample is enough to tell the spellings apart
    sample = [tok.tokens[i] for i in range(0, n, step)]
    pieces = sum(t.startswith("##") and len(t) > 2 for t in sample)
    if pieces > len(sample) // 20 or (tok.kind == "wordpiece" and pieces > len(sample) // 100):
        return "wordpiece"  # (a "WordPiece" vocabulary without ## pieces is character-level)
    g = sum("Ġ" in t or "Ċ" in t for t in sample)
    s = sum("▁" in t for t in sample)
    return "spm" if s > g else "bytelevel"


def _token_bytes(text: str, scheme: str, decoder: dict[str, int]) -> bytes | None:
    if scheme == "bytelevel":
        try:
            return bytes(decoder[c] for c in text)
        except KeyError:
            return None
    if scheme == "spm":
        if len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
            try:
                return bytes([int(text[3:5], 16)])
            except ValueError:
                return None
        return text.replace("▁", " ").encode("utf-8")
    return text.encode("utf-8")


def make_codec(tok: Tokenizer) -> Codec:
    """Prepare ``tok`` for segmentation (special tokens are never matched)."""
    scheme = scheme_of(tok)
    specials = set(tok.special_tokens.values())
    decoder = _byte_decoder()
    pieces: dict[bytes, int] = {}
    cont: dict[bytes, int] = {}
    fallback: dict[bytes, int] = {}
    upper = 0
    counted = 0
    for i in range(len(tok.tokens)):
        text = tok.tokens[i]
        if not text or i in specials:
            continue
        if scheme == "wordpiece" and text.startswith("##") and len(text) > 2:
            cont.setdefault(text[2:].encode("utf-8"), i)
            continue
        b = _token_bytes(text, scheme, decoder)
        if b is None or not b or len(b) > MAX_TOKEN_BYTES:
            continue
        if scheme == "spm" and text.startswith("<0x"):
            fallback.setdefault(b, i)  # byte fallback: only where no real piece exists
            continue
        pieces.setdefault(b, i)
        if scheme == "wordpiece" and text.isascii() and text.isalpha():
            counted += 1
            upper += any(c.isupper() for c in text)
    for b, i in fallback.items():
        pieces.setdefault(b, i)
    unk = next(
        (tok.special_tokens[t] for t in ("[UNK]", "<unk>", "<|unk|>") if t in tok.special_tokens),
        None,
    )
    lower = scheme == "wordpiece" and counted > 0 and upper < counted // 100
    longest = max((len(b) for b in (*pieces, *cont)), default=1)
    return Codec(scheme, pieces, cont, lower, unk, longest)


def shared_codec(a: Codec, b: Codec) -> tuple[Codec, dict[int, int]] | None:
    """The intersection of two codecs of one scheme, and the map from ``a``'s ids to
    ``b``'s for the shared tokens; None when the schemes or case handling differ."""
    if a.scheme != b.scheme or a.lowercase != b.lowercase:
        return None
    pieces = {t: i for t, i in a.pieces.items() if t in b.pieces}
    cont = {t: i for t, i in a.cont.items() if t in b.cont}
    to_b = {i: b.pieces[t] for t, i in pieces.items()}
    to_b.update({i: b.cont[t] for t, i in cont.items()})
    unk = a.unk if a.unk is not None and b.unk is not None else None
    if unk is not None and b.unk is not None:
        to_b[unk] = b.unk
    longest = max((len(t) for t in (*pieces, *cont)), default=1)
    return Codec(a.scheme, pieces, cont, a.lowercase, unk, longest), to_b


def _longest(table: dict[bytes, int], data: bytes, start: int, stop: int, cap: int) -> int:
    """Length of the longest key of ``table`` that ``data[start:stop]`` starts with (0:
    none)."""
    for n in range(min(cap, stop - start), 0, -1):
        if data[start : start + n] in table:
            return n
    return 0


def _words(text: str) -> Iterable[tuple[int, int]]:
    """BERT's basic split: byte spans of whitespace-separated words, each punctuation
    character its own word (ASCII text: one byte per character)."""
    start = None
    for i, ch in enumerate(text):
        if ch.isspace():
            if start is not None:
                yield start, i
                start = None
        elif _is_punct(ch):
            if start is not None:
                yield start, i
                start = None
            yield i, i + 1
        elif start is None:
            start = i
    if start is not None:
        yield start, len(text)


def segment(codec: Codec, text: str) -> list[Segment] | None:
    """Greedy longest-match segmentation of ASCII ``text``; None when some byte can be
    matched by no token and the vocabulary has no unknown token."""
    if codec.scheme == "wordpiece":
        src = text.lower() if codec.lowercase else text
        data = src.encode("utf-8")
        out: list[Segment] = []
        for w0, w1 in _words(src):
            pos = w0
            word: list[Segment] = []
            while pos < w1:
                table = codec.pieces if pos == w0 else codec.cont
                n = _longest(table, data, pos, w1, codec.max_len)
                if n == 0:
                    word = []
                    break
                word.append(Segment(table[data[pos : pos + n]], pos, pos + n))
                pos += n
            if not word:
                if codec.unk is None:
                    return None
                word = [Segment(codec.unk, w0, w1)]
            out.extend(word)
        return out
    data = text.encode("utf-8")
    out = []
    pos = 0
    while pos < len(data):
        n = _longest(codec.pieces, data, pos, len(data), codec.max_len)
        if n == 0:
            if codec.unk is None:
                return None
            out.append(Segment(codec.unk, pos, pos + 1))
            pos += 1
            continue
        out.append(Segment(codec.pieces[data[pos : pos + n]], pos, pos + n))
        pos += n
    return out
