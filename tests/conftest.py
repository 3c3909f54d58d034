"""Shared test fixtures.

``real_models`` gives the paths of the real models from shared/MODELS.md, fetched once
into the cache outside the repository (see :mod:`modelkin.fixtures`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelkin.fixtures import fetch


@pytest.fixture(scope="session")
def real_models() -> dict[str, Path]:
    """id -> local path of each real model fixture (minilm-l6, minilm-l3, gemma-270m)."""
    return {mid: fetch(mid) for mid in ("minilm-l6", "minilm-l3", "gemma-270m")}
