"""Reading someone else's log through C2SP tlog-tiles: over HTTP or from a directory.

A tiled log is a ``checkpoint`` plus immutable tiles (``tile/<L>/<N>[.p/<W>]``, 256
hashes of level ``8L`` subtrees) and entry bundles (``tile/entries/<N>[.p/<W>]``). Nothing
read here is trusted: :class:`TiledLog` is bound to one *verified* checkpoint's size, any
hash it derives from tiles feeds a proof that is then verified against that checkpoint's
signed root, and :func:`verify_tree` recomputes the whole tree from the entry bundles and
compares every tile with what it recomputed. Bounds: a tile is at most 8,192 bytes, an
entry bundle at most 256 entries of at most 65,535 bytes, a checkpoint at most 1 MiB.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from modelkin.errors import LedgerError
from modelkin.ledger import merkle as mk
from modelkin.ledger.tiles import HEIGHT, WIDTH, tile_path

MAX_TILE = 32 * WIDTH
MAX_BUNDLE = WIDTH * (2 + 65535)
MAX_CHECKPOINT = 1 << 20


class Source(Protocol):
    """Where a tiled log's files come from."""

    where: str

    def get(self, path: str, limit: int) -> bytes | None:
        """The file at ``path`` (None when absent); more than ``limit`` bytes is an error."""


class DirSource:
    """A tiled log in a local directory (as ``modelkin ledger tiles`` writes it)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise LedgerError(self.root, "not a directory of tiles (no such directory)")
        self.where = str(self.root)

    def get(self, path: str, limit: int) -> bytes | None:
        p = self.root / path
        try:
            with p.open("rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LedgerError(p, f"cannot read ({exc.strerror})") from exc
        if len(data) > limit:
            raise LedgerError(p, f"larger than {limit} bytes")
        return data


class HttpSource:
    """A tiled log served over HTTP(S) at a URL prefix (``<prefix>/checkpoint``, ...)."""

    def __init__(self, prefix: str, timeout: float = 20.0) -> None:
        import httpx

        self.prefix = prefix.rstrip("/")
        self.where = self.prefix
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def get(self, path: str, limit: int) -> bytes | None:
        import httpx

        url = f"{self.prefix}/{path}"
        try:
            with self._client.stream("GET", url) as r:
                if r.status_code == 404:
                    return None
                if r.status_code != 200:
                    raise LedgerError(url, f"HTTP {r.status_code}")
                buf = bytearray()
                for chunk in r.iter_bytes():
                    buf += chunk
                    if len(buf) > limit:
                        raise LedgerError(url, f"larger than {limit} bytes")
                return bytes(buf)
        except httpx.HTTPError as exc:
            raise LedgerError(url, f"cannot fetch ({exc})") from exc

    def close(self) -> None:
        self._client.close()


def open_source(location: str) -> DirSource | HttpSource:
    """An :class:`HttpSource` for ``http(s)://`` URLs, else a :class:`DirSource`."""
    if location.startswith(("http://", "https://")):
        return HttpSource(location)
    return DirSource(Path(location))


def parse_bundle(data: bytes, count: int, where: str) -> list[bytes]:
    """Split an entry bundle into exactly ``count`` entries (uint16 length prefixes)."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise LedgerError(where, "entry bundle truncated in a length prefix")
        (n,) = struct.unpack(">H", data[pos : pos + 2])
        if pos + 2 + n > len(data):
            raise LedgerError(where, "entry bundle truncated in an entry")
        out.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    if len(out) != count:
        raise LedgerError(where, f"entry bundle holds {len(out)} entries, want {count}")
    return out


@dataclass
class TiledLog:
    """Tiles and entries of a log, as committed to by a checkpoint of ``size``."""

    source: Source
    size: int
    _tiles: dict[tuple[int, int], bytes] = field(default_factory=dict)

    def checkpoint_text(self) -> str:
        """The log's current ``checkpoint`` file (not yet verified)."""
        return fetch_checkpoint(self.source)

    def _width(self, level: int, n: int) -> int:
        count = self.size >> (HEIGHT * level)
        return min(WIDTH, count - n * WIDTH)

    def _fetch(self, level: int | str, n: int, width: int, limit: int) -> bytes:
        path = tile_path(level, n, width)
        data = self.source.get(path, limit)
        if data is None and width < WIDTH:  # tlog-tiles: the full tile may replace a partial
            full = self.source.get(tile_path(level, n), limit)
            if full is not None and level != "entries":
                data = full[: 32 * width]
            elif full is not None:
                data = b"".join(
                    struct.pack(">H", len(e)) + e
                    for e in parse_bundle(full, WIDTH, f"{self.source.where}/{path}")[:width]
                )
        if data is None:
            raise LedgerError(f"{self.source.where}/{path}", "missing (404)")
        return data

    def tile(self, level: int, n: int) -> bytes:
        """Tile ``n`` of ``level`` at this size (full or partial), length-checked."""
        key = (level, n)
        got = self._tiles.get(key)
        if got is None:
            width = self._width(level, n)
            if width <= 0:
                raise LedgerError(f"tile {level}/{n}", f"not part of a tree of size {self.size}")
            got = self._fetch(level, n, width, MAX_TILE)
            if len(got) != 32 * width:
                raise LedgerError(
                    f"{self.source.where}/{tile_path(level, n, width)}",
                    f"{len(got)} bytes, want {32 * width}",
                )
            self._tiles[key] = got
        return got

    def hash(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree ``index`` at ``level`` (a :data:`mk.HashGetter`),
        derived from the tile holding its level-``8L`` hashes."""
        tl, r = divmod(level, HEIGHT)
        first = index << r  # its first hash at tile level tl
        n, off = divmod(first, WIDTH)
        data = self.tile(tl, n)
        hashes = [data[32 * i : 32 * i + 32] for i in range(off, off + (1 << r))]
        if any(len(h) != 32 for h in hashes):
            raise LedgerError(f"tile {tl}/{n}", f"too short for subtree {level}/{index}")
        return mk.root_from_leaves(hashes) if r else hashes[0]

    def entries(self, n: int) -> list[bytes]:
        """Entry bundle ``n`` at this size."""
        width = self._width(0, n)
        if width <= 0:
            raise LedgerError(f"entry bundle {n}", f"not part of a tree of size {self.size}")
        data = self._fetch("entries", n, width, MAX_BUNDLE)
        return parse_bundle(data, width, f"{self.source.where}/{tile_path('entries', n, width)}")

    def root(self) -> bytes:
        """The tree head the tiles imply (compare with the checkpoint's signed root)."""
        return mk.tree_root(self.size, self.hash)

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index``, built from tiles (verify it!)."""
        return mk.inclusion_proof(index, self.size, self.hash)

    def consistency_proof(self, old: int) -> list[bytes]:
        """RFC 9162 consistency proof from ``old`` to this size, built from tiles."""
        return mk.consistency_proof(old, self.size, self.hash)


def fetch_checkpoint(source: Source) -> str:
    """The ``checkpoint`` file's text (UTF-8), unverified."""
    data = source.get("checkpoint", MAX_CHECKPOINT)
    if data is None:
        raise LedgerError(f"{source.where}/checkpoint", "missing (404)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LedgerError(f"{source.where}/checkpoint", "not UTF-8") from exc


def verify_tree(
    tl: TiledLog,
    root: bytes,
    start_frontier: list[tuple[int, bytes]] | None = None,
    start: int = 0,
    on_entries: Callable[[int, list[bytes], list[bytes]], None] | None = None,
    on_node: Callable[[int, int, bytes], None] | None = None,
) -> list[str]:
    """Recompute the tree of ``tl.size`` from entry bundles ``start..``; compare every
    level-0 tile with the leaf hashes and every higher tile with the recomputed subtree
    hashes, and the final root with ``root``. ``start_frontier`` (the frontier of an
    already verified prefix of ``start`` entries) lets a mirror fetch only what is new;
    ``on_entries(first_index, entries, leaf_hashes)`` receives each bundle's new entries and
    ``on_node(level, index, hash)`` each recomputed subtree hash (level >= 1), so a mirror
    can store them as it goes (inside a transaction it commits only if the root matches).
    Returns the problems found (empty: the tiles are exactly the signed tree)."""
    problems: list[str] = []
    frontier = list(start_frontier or [])
    n = start
    bundle_no = start // WIDTH
    while n < tl.size:
        entries = tl.entries(bundle_no)
        first = bundle_no * WIDTH
        skip = n - first
        new = entries[skip:]
        leaves = [mk.leaf_hash(e) for e in new]
        if b"".join([mk.leaf_hash(e) for e in entries[:skip]] + leaves) != tl.tile(0, bundle_no):
            problems.append(
                f"entries {first}..{first + len(entries) - 1}: bundle does not hash to "
                "the level-0 tile"
            )
        for lh in leaves:
            frontier.append((0, lh))
            n += 1
            while len(frontier) >= 2 and frontier[-1][0] == frontier[-2][0]:
                (lvl, right), (_, left) = frontier.pop(), frontier.pop()
                h = mk.node_hash(left, right)
                lvl += 1
                frontier.append((lvl, h))
                if on_node is not None:
                    on_node(lvl, (n >> lvl) - 1, h)
                if lvl % HEIGHT == 0:
                    idx = (n >> lvl) - 1
                    if tl.hash(lvl, idx) != h:
                        problems.append(f"tile hash at level {lvl} index {idx} is not the tree's")
        if on_entries is not None:
            on_entries(first + skip, new, leaves)
        bundle_no += 1
    got = mk.EMPTY_ROOT
    if frontier:
        got = frontier[-1][1]
        for _, h in reversed(frontier[:-1]):
            got = mk.node_hash(h, got)
    if got != root:
        problems.append(
            f"the tree recomputed from the entry bundles (size {tl.size}) does not have the "
            "checkpoint's root"
        )
    return problems
