"""The real models of shared/MODELS.md across formats (GGUF, ONNX when their readers exist)."""

from __future__ import annotations

import importlib.util

import pytest

from modelkin.forensics import compare

from .conftest import FingerprintCache


def _reader(mod: str) -> None:
    if importlib.util.find_spec(f"modelkin.io.{mod}") is None:
        pytest.skip(f"modelkin.io.{mod} reader not available yet")


def test_gemma_vs_itself_is_identical(fps: FingerprintCache) -> None:
    _reader("gguf")
    r = compare(fps("gemma-270m"), fps("gemma-270m"))
    assert r.verdict == "identical"


@pytest.mark.parametrize("other", ["minilm-l6", "minilm-l3"])
def test_gemma_vs_minilm_never_related(fps: FingerprintCache, other: str) -> None:
    _reader("gguf")
    if other == "minilm-l3":
        _reader("onnx")
    r = compare(fps("gemma-270m"), fps(other))
    assert r.related is not True
    assert r.verdict in ("unrelated", "insufficient")


def test_minilm_siblings_are_related(fps: FingerprintCache) -> None:
    """minilm-l6 (safetensors) and minilm-l3 (ONNX): both from MiniLM-L12, other depths."""
    _reader("onnx")
    r = compare(fps("minilm-l3"), fps("minilm-l6"))
    assert r.related is True
    assert r.verdict in ("derived", "derived_surgery"), r.summary
