"""Static C2SP tlog-tiles export: a directory a plain web server can serve.

Layout (c2sp.org/tlog-tiles): ``tile/<L>/<N>`` holds 256 consecutive hashes of level
``8*L`` subtrees (a full tile, immutable), ``tile/<L>/<N>.p/<W>`` a partial tile of ``W``
hashes; ``tile/entries/<N>[.p/<W>]`` the matching entry bundles, each entry prefixed with
its big-endian uint16 length; ``checkpoint`` the latest signed checkpoint. ``N`` is written
in zero-padded groups of three digits, all but the last prefixed ``x``
(1234067 -> ``x001/x234/067``). Partial tiles are written for every checkpointed size so a
client holding any checkpoint finds the tiles it commits to.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from modelkin.fsio import write_atomic
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
            hashes = b"".join(log._get(HEIGHT * level, n * WIDTH + i) for i in range(w))
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
