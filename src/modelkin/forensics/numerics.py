"""Normal and Poisson tails and linear assignment, without scipy's package imports.

Why this module exists: ``compare`` must fit in less memory than the peer tool it is
measured against (issue 19). Importing ``scipy.stats`` maps ~75 MB of shared libraries
into the process (it pulls in ``scipy.linalg``, ``scipy.sparse``, ``scipy.optimize``...)
and ``scipy.optimize`` ~50 MB, for two tail functions and one assignment solver: more than
the fingerprints of two 270M models. The tails are closed forms over :mod:`math`; the
assignment solver is scipy's own compiled extension (``scipy.optimize._lsap``, one
self-contained module whose only dependency is numpy), loaded by its file location so the
``scipy.optimize`` package initialiser never runs. Where that fails (a future scipy moves
or renames it), the ordinary import is used: slower to load, same answers.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import math
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

_SQRT2 = math.sqrt(2.0)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def norm_sf(z: float) -> float:
    """Upper tail ``P(Z > z)`` of the standard normal (``erfc(z / sqrt 2) / 2``, whose
    relative error stays at machine precision far into the tail, down to ~1e-308)."""
    return 0.5 * math.erfc(z / _SQRT2)


def norm_sf_array(z: np.ndarray) -> np.ndarray:
    """:func:`norm_sf` element-wise, as float64 of ``z``'s shape."""
    x = np.asarray(z, dtype=np.float64)
    return np.asarray(0.5 * _erfc(x / _SQRT2), dtype=np.float64).reshape(x.shape)


def _log_pmf(j: int, mu: float) -> float:
    return j * math.log(mu) - mu - math.lgamma(j + 1)


def poisson_sf(k: int, mu: float) -> float:
    """``P(X >= k)`` for ``X ~ Poisson(mu)``.

    Summed from the probability mass function in log space, starting at the mode-side end
    so every term is no larger than the first: the upper tail term by term when
    ``k > mu`` (accurate to relative precision, however small), else one minus the lower
    tail ``P(X < k)`` (then at most ~1/2, so the subtraction loses nothing)."""
    if k <= 0:
        return 1.0
    if mu <= 0.0:
        return 0.0
    if k > mu:
        first = _log_pmf(k, mu)
        total, term, j = 1.0, 1.0, k
        while term > 1e-17 * total:
            j += 1
            term *= mu / j
            total += term
        return min(1.0, math.exp(first + math.log(total)))
    top = _log_pmf(k - 1, mu)
    total, term, j = 1.0, 1.0, k - 1
    while j > 0 and term > 1e-17 * total:
        term *= j / mu
        j -= 1
        total += term
    return max(0.0, 1.0 - math.exp(top + math.log(total)))


@cache
def _lsap() -> Callable[..., Any]:
    spec = importlib.util.find_spec("scipy")
    if spec is not None and spec.origin:
        folder = Path(spec.origin).parent / "optimize"
        for path in sorted(folder.glob("_lsap.*")):
            if path.suffix not in (".so", ".pyd"):
                continue
            try:
                loader = importlib.machinery.ExtensionFileLoader("scipy.optimize._lsap", str(path))
                mod_spec = importlib.util.spec_from_file_location(
                    "scipy.optimize._lsap", path, loader=loader
                )
                if mod_spec is None:
                    break
                module = importlib.util.module_from_spec(mod_spec)
                loader.exec_module(module)
                solver: Callable[..., Any] = module.linear_sum_assignment
                return solver
            except (ImportError, AttributeError, OSError):
                break
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment


def linear_sum_assignment(
    cost: np.ndarray, maximize: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.optimize.linear_sum_assignment`` (Crouse's shortest augmenting path)."""
    rows, cols = _lsap()(cost, maximize=maximize)
    return np.asarray(rows), np.asarray(cols)
