"""Tiny trained models shared by the synth tests (cached outside the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelkin_dev.synth import specs, train

TINY_LLAMA = specs.TINY_LLAMA
TINY_BERT = specs.TINY_BERT


@pytest.fixture(scope="session")
def llama_dir() -> Path:
    return train.train(TINY_LLAMA, 0, steps=60, batch=8, seq=32).model


@pytest.fixture(scope="session")
def bert_dir() -> Path:
    return train.train(TINY_BERT, 0, steps=60, batch=8, seq=32).model
