#!/usr/bin/env python3
"""Fetch the real model fixtures (shared/MODELS.md) into the cache outside the repo.

Usage: python scripts/fetch_models.py [ID ...]   (prints ``id<TAB>path`` per model)

Progress goes to stderr before each model (a first download takes a while; a cached
model is checked and returned at once).
"""

from __future__ import annotations

import sys
import time

from modelkin_dev.fixtures import fetch, load_catalog


def main(argv: list[str]) -> int:
    catalog = load_catalog()
    ids = argv or list(catalog)
    for n, mid in enumerate(ids, 1):
        about = catalog[mid].description.split(":")[0] if mid in catalog else mid
        print(f"  [{n}/{len(ids)}] {mid} ({about}) ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        path = fetch(mid)
        print(f"{mid}\t{path}", flush=True)
        print(
            f"        ready in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
