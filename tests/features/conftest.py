"""A demo organisation per test, copied from one seeded once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import settings as settings_mod
from orchestrator.config.notifier import Notifier
from orchestrator.store.db import Store


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from orchestrator.store.seed import seed

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    seed(store)
    store.dispose()
    return path


@pytest.fixture
def demo_settings(settings: settings_mod.Settings) -> settings_mod.Settings:
    return settings


@pytest.fixture
def store(demo_db: Path, demo_settings: settings_mod.Settings) -> Iterator[Store]:
    """The demo organisation in a database of this test's own."""
    url = demo_settings.database_url
    target = Path(url.removeprefix("sqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo_db, target)
    store = Store(url)
    yield store
    store.dispose()


@pytest.fixture
def notifier() -> Notifier:
    return Notifier()
