#!/usr/bin/env python3
"""Fetch the real model fixtures (shared/MODELS.md) into the cache outside the repo.

Usage: python scripts/fetch_models.py [ID ...]   (prints ``id<TAB>path`` per model)
"""

from __future__ import annotations

import sys

from modelkin_dev.fixtures import fetch, load_catalog


def main(argv: list[str]) -> int:
    ids = argv or list(load_catalog())
    for mid in ids:
        print(f"{mid}\t{fetch(mid)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
