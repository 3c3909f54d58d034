"""Registry test fixtures: a fresh home per test, two registered identities, tiny models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelkin.registry import Registry, register_identity
from modelkin.statements import Identity


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def reg(home: Path) -> Iterator[Registry]:
    with Registry.open(home) as r:
        yield r


@pytest.fixture
def alice(reg: Registry) -> Identity:
    ident = Identity.generate("alice")
    register_identity(reg, ident, "Alice Labs")
    return ident


@pytest.fixture
def bob(reg: Registry) -> Identity:
    ident = Identity.generate("bob")
    register_identity(reg, ident, "Bob Corp")
    return ident
