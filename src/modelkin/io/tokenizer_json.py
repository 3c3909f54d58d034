"""A Hugging Face ``tokenizer.json`` read without building its whole JSON tree.

Why: ``json.load`` of gemma-3's 33 MB ``tokenizer.json`` peaks near 300 MB, more than
fingerprinting the model itself: every one of its 262k vocabulary entries and half a
million merge rules becomes a dict slot, a list and two or three ``str`` objects at once.
Here the file's bytes (bounded by ``MAX_TOKENIZER_BYTES``) are scanned in place: the two
large members, ``model.vocab`` and ``model.merges``, entry by entry with anchored regular
expressions (each entry must start where the previous one ended, so nothing is skipped
or guessed), straight into packed byte strings
(:class:`~modelkin.io._gguf_header.PackedStrings`, ~20 bytes per token instead of ~75);
every other member is small and goes through ``json.loads`` of its own byte span.
Malformed input raises :class:`~modelkin.errors.ModelFormatError` naming the file, the
problem and the byte offset.

The strings are exactly those ``json.loads`` would give (escapes are decoded by it), so
vocabulary and merge digests are unchanged.
"""

from __future__ import annotations

import codecs
import json
import re
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from modelkin.errors import ModelFormatError
from modelkin.io._gguf_header import PackedStrings

_WS = rb"[ \t\n\r]*"
_STR = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_NUM = rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_WS_RE = re.compile(_WS)
_STR_RE = re.compile(_STR, re.DOTALL)
_SCALAR_RE = re.compile(_STR + rb"|" + _NUM + rb"|true|false|null", re.DOTALL)
#: Strings and brackets: what a skipped value's extent depends on.
_SKIP_RE = re.compile(_STR + rb"|[\[\]{}]", re.DOTALL)
_INNER = rb'"([^"\\]*(?:\\.[^"\\]*)*)"'
#: One item of each large container, then the ``,`` or closing bracket after it.
_VOCAB_ENTRY = re.compile(
    _WS + _INNER + _WS + rb":" + _WS + rb"(-?[0-9]+)" + _WS + rb"([,}])", re.DOTALL
)
_UNIGRAM_ENTRY = re.compile(
    _WS
    + rb"\["
    + _WS
    + _INNER
    + _WS
    + rb","
    + _WS
    + rb"("
    + _NUM
    + rb")"
    + _WS
    + rb"\]"
    + _WS
    + rb"([,\]])",
    re.DOTALL,
)
_MERGE_TEXT = re.compile(_WS + _INNER + _WS + rb"([,\]])", re.DOTALL)
_MERGE_PAIR = re.compile(
    _WS + rb"\[" + _WS + _INNER + _WS + rb"," + _WS + _INNER + _WS + rb"\]" + _WS + rb"([,\]])",
    re.DOTALL,
)
_ESCAPES = {
    b'"': b'"',
    b"\\": b"\\",
    b"/": b"/",
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
}
_SIMPLE_ESCAPE = re.compile(rb'\\(["\\/bfnrt])')
#: Entries handed over per batch by :meth:`_Scanner.entries`.
_BATCH = 1 << 14
#: Bytes validated per step (the whole file is checked as UTF-8 once, in chunks).
_UTF8_CHUNK = 1 << 20


def _packed(raws: list[bytes], offset: int) -> tuple[bytes, np.ndarray]:
    """``raws`` each behind its 8-byte little-endian length, and the end offset of each
    (starting at ``offset``), built with array operations, not one step per string."""
    n = len(raws)
    lengths = np.fromiter(map(len, raws), dtype=np.int64, count=n)
    ends = np.cumsum(lengths + 8)
    out = np.zeros(int(ends[-1]) if n else 0, dtype=np.uint8)
    if n:
        heads = ends - lengths - 8
        out[heads[:, None] + np.arange(8)] = lengths.astype("<u8").view(np.uint8).reshape(n, 8)
        body = np.frombuffer(b"".join(raws), dtype=np.uint8)
        if body.size:
            seg = np.repeat(np.arange(n, dtype=np.int64), lengths)
            out[np.arange(body.size, dtype=np.int64) + 8 * (seg + 1)] = body
    return out.tobytes(), ends + offset


class _Packer:
    """Builds a :class:`PackedStrings` batch by batch."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.ends: list[np.ndarray] = []

    def add(self, raws: list[bytes]) -> None:
        data, ends = _packed(raws, len(self.blob))
        self.blob += data
        self.ends.append(ends)

    def done(self) -> PackedStrings:
        ends = np.concatenate(self.ends) if self.ends else np.zeros(0, dtype=np.int64)
        return PackedStrings(bytes(self.blob), ends)


def pack(raws: list[bytes]) -> PackedStrings:
    """Strings (UTF-8 bytes) as a :class:`PackedStrings`."""
    packer = _Packer()
    for lo in range(0, len(raws), _BATCH):
        packer.add(raws[lo : lo + _BATCH])
    return packer.done()


class _Scanner:
    """A cursor over the file's bytes with the few JSON steps the reader needs."""

    def __init__(self, buf: bytes, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path

    def fail(self, what: str, at: int | None = None) -> NoReturn:
        raise ModelFormatError(
            self.path,
            f"not a valid tokenizer.json: {what} at byte {self.pos if at is None else at}",
        )

    def ws(self) -> None:
        m = _WS_RE.match(self.buf, self.pos)
        self.pos = m.end() if m else self.pos

    def peek(self) -> int:
        self.ws()
        if self.pos >= len(self.buf):
            self.fail("unexpected end of file")
        return self.buf[self.pos]

    def expect(self, ch: bytes) -> None:
        if self.peek() != ch[0]:
            self.fail(f"expected {ch.decode()!r}")
        self.pos += 1

    def text(self, raw: bytes) -> str:
        """The value of a JSON string literal (quotes included)."""
        inner = raw[1:-1]
        try:
            if b"\\" not in inner:
                return inner.decode("utf-8")
            out = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            self.fail(f"bad string ({exc})")
        if not isinstance(out, str):  # pragma: no cover - the regex matched a string
            self.fail("bad string")
        return out

    def unescape(self, inner: bytes) -> bytes:
        """The UTF-8 bytes of a JSON string whose body ``inner`` holds escapes."""
        if b"\\u" not in inner:
            return _SIMPLE_ESCAPE.sub(lambda m: _ESCAPES[m.group(1)], inner)
        try:
            out = json.loads(b'"' + inner + b'"')
        except ValueError as exc:
            self.fail(f"bad string ({exc})")
        return str(out).encode("utf-8", "surrogatepass")

    def validate_utf8(self) -> None:
        """The whole file must be UTF-8 (then so is every token's body: a string's quotes
        are ASCII and never inside a multi-byte sequence). Checked once, in chunks."""
        dec = codecs.getincrementaldecoder("utf-8")()
        buf = self.buf
        at = 0
        try:
            for at in range(0, len(buf), _UTF8_CHUNK):
                dec.decode(buf[at : at + _UTF8_CHUNK])
            dec.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            self.fail(f"file is not UTF-8 ({exc.reason})", at + exc.start)

    def entries(
        self, pattern: re.Pattern[bytes], close: bytes
    ) -> Iterator[list[tuple[bytes, ...]]]:
        """The groups of each entry of the array/object opened at the cursor, matched by
        ``pattern`` (whose last group is the ``,`` or closing bracket after the entry), in
        order, with nothing between them; in batches of :data:`_BATCH` entries, so that
        callers pack them as they come (memory bounded by a batch, not the container)."""
        self.expect(b"[" if close == b"]" else b"{")
        if self.peek() == close[0]:
            self.pos += 1
            return
        pos = self.pos
        batch: list[tuple[bytes, ...]] = []
        add = batch.append
        for m in pattern.finditer(self.buf, pos):
            if m.start() != pos:
                break
            pos = m.end()
            g = m.groups()
            add(g)
            if g[-1] == close:
                self.pos = pos
                yield batch
                return
            if len(batch) >= _BATCH:
                yield batch
                batch = []
                add = batch.append
        self.fail("malformed entry", pos)

    def key(self) -> str:
        self.ws()
        m = _STR_RE.match(self.buf, self.pos)
        if m is None:
            self.fail("expected an object key")
        self.pos = m.end()
        self.expect(b":")
        return self.text(m.group())

    def members(self) -> Any:
        """Yield each key of the object starting here; the caller consumes its value."""
        self.expect(b"{")
        if self.peek() == ord("}"):
            self.pos += 1
            return
        while True:
            yield self.key()
            c = self.peek()
            self.pos += 1
            if c == ord("}"):
                return
            if c != ord(","):
                self.fail("expected ',' or '}'", self.pos - 1)

    def skip(self) -> None:
        """Move past one value of any type."""
        c = self.peek()
        if c not in b"[{":
            m = _SCALAR_RE.match(self.buf, self.pos)
            if m is None:
                self.fail("expected a value")
            self.pos = m.end()
            return
        depth = 0
        for m in _SKIP_RE.finditer(self.buf, self.pos):
            tok = m.group()
            if tok in (b"[", b"{"):
                depth += 1
            elif tok in (b"]", b"}"):
                depth -= 1
                if depth == 0:
                    self.pos = m.end()
                    return
        self.fail("unterminated array or object")

    def value(self) -> Any:
        """One (small) value, parsed by ``json.loads`` from its own bytes."""
        self.ws()
        start = self.pos
        self.skip()
        try:
            return json.loads(self.buf[start : self.pos])
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            self.fail(f"invalid JSON value ({exc})", start)


class Parsed:
    """What :func:`parse_tokenizer_json` found: the model type, the vocabulary as raw
    UTF-8 token texts with their ids (a ``vocab`` object) or in order with scores (a
    Unigram list), the merges, and the ``added_tokens`` value."""

    def __init__(self) -> None:
        self.mtype = ""
        self.vocab_kind: str | None = None  # "map" or "list"
        self.raws: list[bytes] = []
        self.ids = array("q")
        self.scores: array[float] | None = None
        self.merges: PackedStrings | None = None
        self.added: Any = []


def parse_tokenizer_json(buf: bytes, path: Path, max_vocab: int) -> Parsed:
    """Scan a ``tokenizer.json`` held in ``buf`` (see the module doc)."""
    sc = _Scanner(buf, path)
    sc.validate_utf8()
    if buf[:3] == b"\xef\xbb\xbf":
        sc.pos = 3
    out = Parsed()
    seen_model = False
    for key in sc.members():
        if key == "model":
            seen_model = True
            if sc.peek() != ord("{"):
                raise ModelFormatError(path, "no 'model' object (not a tokenizers file?)")
            for mkey in sc.members():
                if mkey == "type":
                    out.mtype = str(sc.value() or "").lower()
                elif mkey == "vocab":
                    c = sc.peek()
                    if c == ord("{"):
                        out.vocab_kind = "map"
                        _vocab_map(sc, max_vocab, out)
                    elif c == ord("["):
                        out.vocab_kind = "list"
                        _vocab_list(sc, max_vocab, out)
                    else:
                        sc.skip()
                elif mkey == "merges":
                    if sc.peek() != ord("["):
                        raise ModelFormatError(path, "'merges' is not a list")
                    out.merges = _merges(sc)
                else:
                    sc.skip()
        elif key == "added_tokens":
            out.added = sc.value()
        else:
            sc.skip()
    sc.ws()
    if sc.pos != len(buf):
        sc.fail("data after the top-level object")
    if not seen_model:
        raise ModelFormatError(path, "no 'model' object (not a tokenizers file?)")
    return out


def _unescaped(sc: _Scanner, raws: list[bytes]) -> list[bytes]:
    return [sc.unescape(r) if b"\\" in r else r for r in raws]


def _vocab_map(sc: _Scanner, max_vocab: int, out: Parsed) -> None:
    """``{"token": id, ...}``."""
    for batch in sc.entries(_VOCAB_ENTRY, b"}"):
        out.raws.extend(_unescaped(sc, [g[0] for g in batch]))
        out.ids.extend(int(g[1]) for g in batch)
        if len(out.ids) > max_vocab:
            sc.fail(f"vocabulary larger than {max_vocab}")


def _vocab_list(sc: _Scanner, max_vocab: int, out: Parsed) -> None:
    """Unigram ``[["token", score], ...]``: ids are positions."""
    scores = out.scores = array("d")
    for batch in sc.entries(_UNIGRAM_ENTRY, b"]"):
        out.raws.extend(_unescaped(sc, [g[0] for g in batch]))
        scores.extend(float(g[1]) for g in batch)
        if len(scores) > max_vocab:
            sc.fail(f"vocabulary larger than {max_vocab}")
    out.ids = array("q", range(len(scores)))


def pack_by_id(raws: list[bytes], ids: array[int]) -> PackedStrings:
    """Token texts laid out by id: the first text listed for an id wins, ids nobody
    names are ``""`` (as :func:`modelkin.io.tokenizer.tokens_from_ids` lays them out)."""
    idx = np.frombuffer(ids, dtype=np.int64) if len(ids) else np.zeros(0, dtype=np.int64)
    size = int(idx.max()) + 1 if idx.size else 0
    order = np.argsort(idx, kind="stable")
    first = np.full(size, -1, dtype=np.int64)
    keep = np.ones(idx.size, dtype=bool)
    keep[1:] = idx[order][1:] != idx[order][:-1]  # first of each id in stable order
    first[idx[order][keep]] = order[keep]
    empty = b""
    return pack([raws[j] if j >= 0 else empty for j in first.tolist()])


def _merges(sc: _Scanner) -> PackedStrings:
    """Merge rules as ``"a b"`` whether written as strings or (newer files) as pairs."""
    packer = _Packer()
    if _first_is_pair(sc):
        for batch in sc.entries(_MERGE_PAIR, b"]"):
            a = _unescaped(sc, [g[0] for g in batch])
            b = _unescaped(sc, [g[1] for g in batch])
            packer.add([x + b" " + y for x, y in zip(a, b, strict=True)])
    else:
        for batch in sc.entries(_MERGE_TEXT, b"]"):
            packer.add(_unescaped(sc, [g[0] for g in batch]))
    return packer.done()


def _first_is_pair(sc: _Scanner) -> bool:
    """Whether the merges array opened at the cursor starts with a ``[a, b]`` pair."""
    sc.ws()
    m = _WS_RE.match(sc.buf, sc.pos + 1)
    at = m.end() if m else sc.pos + 1
    return at < len(sc.buf) and sc.buf[at] == ord("[")
