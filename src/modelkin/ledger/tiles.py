"""Static C2SP tlog-tiles export: a directory a plain web server can serve.

Layout (c2sp.org/tlog-tiles): ``tile/<L>/<N>`` holds 256 consecutive hashes of level
``8*L`` subtrees (a full tile, immutable), ``tile/<L>/<N>.p/<W>`` a partial tile of ``W``
hashes; ``tile/entries/<N>[.p/<W>]`` the matching entry bundles, each entry prefixed with
its big-endian uint16 length; ``checkpoint`` the latest signed checkpoint. ``N`` is written
in zero-padded groups of three digits, all but the last prefixed ``x``
(1234067 -> ``x001/x234/067``). Partial tiles are written for every checkpointed size so a
client holding any checkpoint finds the tiles it commits to.

The same tiles are also served dynamically (``GET /tile/...`` on ``modelkin serve`` and on
mirrors): :func:`parse_tile_path` reads a request path strictly and :func:`read_tile`
builds the bytes from any :class:`HashSource` (the ledger, or a mirror's verified copy),
so a partial tile of any width the tree already covers is available, as tlog-tiles asks.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from modelkin.errors import LedgerError, NotFoundError
from modelkin.fsio import write_atomic
from modelkin.ledger.merkle import MAX_SIZE

if TYPE_CHECKING:
    from modelkin.ledger.log import Ledger

HEIGHT = 8
WIDTH = 1 << HEIGHT


def index_path(n: int) -> str:
    """tlog-tiles path encoding of a tile index."""
    s = f"{n:03d}"
    s = "0" * (-len(s) % 3) + s
    groups = [s[i : i + 3] for i in range(0, len(s), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def tile_path(level: int | str, n: int, width: int = WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` (level ``"entries"`` for entry bundles)."""
    p = f"tile/{level}/{index_path(n)}"
    return p if width == WIDTH else f"{p}.p/{width}"


MAX_LEVEL = 63


def _strict_int(text: str, lo: int, hi: int, what: str, where: str) -> int:
    if not text.isascii() or not text.isdigit() or (text != "0" and text.startswith("0")):
        raise LedgerError(where, f"bad {what} {text[:20]!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise LedgerError(where, f"{what} {value} outside {lo}..{hi}")
    return value


def parse_tile_path(path: str) -> tuple[int | None, int, int]:
    """``tile/<L>/<N>[.p/<W>]`` -> ``(L, N, W)``; L is None for ``tile/entries/...``.

    Strict (c2sp.org/tlog-tiles): L in 0..63 and W in 1..255 without leading zeros, N in
    3-digit groups all but the last prefixed ``x``; anything else is a LedgerError."""
    where = f"tile path {path[:80]!r}"
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile" or len(parts) > 2 + 8 + 1:
        raise LedgerError(where, "not a tile/<L>/<N>[.p/<W>] path")
    level = None if parts[1] == "entries" else _strict_int(parts[1], 0, MAX_LEVEL, "level", where)
    rest = parts[2:]
    width = WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width = _strict_int(rest[-1], 1, WIDTH - 1, "width", where)
        rest = [*rest[:-2], rest[-2][:-2]]
    n = 0
    for i, g in enumerate(rest):
        last = i == len(rest) - 1
        digits = g if last else g[1:]
        if (not last and not g.startswith("x")) or len(digits) != 3 or not digits.isdigit():
            raise LedgerError(where, f"bad tile index element {g!r}")
        n = n * 1000 + int(digits)
    if len(rest) > 1 and rest[0] == "x000":
        raise LedgerError(where, "tile index has a leading zero group")
    if (n * WIDTH + width) << (HEIGHT * (level or 0)) > MAX_SIZE + 1:
        raise LedgerError(where, "tile beyond any tree of at most 2^64-1 entries")
    return level, n, width


class HashSource(Protocol):
    """What serving tiles needs from a log (the ledger or a mirror's replica)."""

    def size(self) -> int: ...

    def stored_hashes(self, level: int, start: int, count: int) -> list[bytes]: ...

    def entries(self, start: int, stop: int) -> list[bytes]: ...


def read_tile(src: HashSource, level: int | None, n: int, width: int) -> bytes:
    """The bytes of tile (level, n, width), or of entry bundle n when ``level`` is None;
    :class:`NotFoundError` when the tree does not cover it yet."""
    tile_level = 0 if level is None else level
    start = n * WIDTH
    height = HEIGHT * tile_level
    if height >= 64 or (start + width) << height > src.size():
        raise NotFoundError(
            f"tile {tile_level}/{n} width {width}", "not covered by the log's tree yet"
        )
    if level is None:
        return bundle(src.entries(start, start + width))
    return b"".join(src.stored_hashes(height, start, width))


def bundle(entries: list[bytes]) -> bytes:
    """An entry bundle: each entry as uint16 big-endian length then bytes."""
    return b"".join(struct.pack(">H", len(e)) + e for e in entries)


def _write(out: Path, rel: str, data: bytes, full: bool) -> bool:
    path = out / rel
    if full and path.exists():
        return False  # full tiles are immutable
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def _tiles_for_size(log: Ledger, out: Path, size: int, partial_only: bool) -> int:
    written = 0
    level = 0
    while True:
        count = size >> (HEIGHT * level)  # complete nodes at tree level 8*L
        if count == 0:
            break
        full, width = divmod(count, WIDTH)
        jobs: list[tuple[int, int]] = [] if partial_only else [(n, WIDTH) for n in range(full)]
        if width:
            jobs.append((full, width))
        for n, w in jobs:
            hashes = b"".join(log.stored_hashes(HEIGHT * level, n * WIDTH, w))
            written += _write(out, tile_path(level, n, w), hashes, w == WIDTH)
            if level == 0:
                data = bundle(log.entries(n * WIDTH, n * WIDTH + w))
                written += _write(out, tile_path("entries", n, w), data, w == WIDTH)
        level += 1
    return written


def write_tiles(log: Ledger, out: Path, history: bool = True) -> int:
    """Write every tile of the log (and partial tiles of past checkpoints when ``history``)
    plus ``checkpoint`` under ``out``; returns the number of files written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LedgerError(out, "not a directory (tiles are written into a directory)")
    out.mkdir(parents=True, exist_ok=True)
    size = log.size()
    written = _tiles_for_size(log, out, size, partial_only=False)
    if history:
        from modelkin.ledger.checkpoint import parse as parse_cp
        from modelkin.ledger.note import split

        for text in log.checkpoints():
            s = parse_cp(split(text)[0]).size
            if s != size:
                written += _tiles_for_size(log, out, s, partial_only=True)
    write_atomic(out / "checkpoint", log.checkpoint().encode())
    return written + 1
