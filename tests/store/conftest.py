"""Stores of the store tests: each test gets an empty, migrated database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.store.db import Store


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    if request.param == "postgres":
        url = request.getfixturevalue("fresh_pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    store.upgrade()
    yield store
    store.dispose()
