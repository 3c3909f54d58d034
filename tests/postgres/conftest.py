"""Fixtures for the PostgreSQL-only tests: ``pg_url`` is a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from postgres.cluster import fresh_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database (dropped after the test)."""
    yield from fresh_database()
