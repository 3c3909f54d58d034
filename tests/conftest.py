"""Shared test fixtures.

``real_models`` gives the paths of the real models from shared/MODELS.md, fetched once
into the cache outside the repository (see :mod:`modelkin_dev.fixtures`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelkin_dev.fixtures import fetch

# One BLAS thread per test process, as the CLI does (see modelkin.cli.one_blas_thread):
# `pytest -n 2` already fills both cores, and spinning BLAS threads slow small problems 10x.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


@pytest.fixture(scope="session")
def real_models() -> dict[str, Path]:
    """id -> local path of each real model fixture (minilm-l6, minilm-l3, gemma-270m)."""
    return {mid: fetch(mid) for mid in ("minilm-l6", "minilm-l3", "gemma-270m")}
