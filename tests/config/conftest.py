"""Fixtures of the configuration tests: stores (empty, demo, captures), renderers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from capture_org import CAPTURE_SETTINGS, load_capture_org

from orchestrator import settings as settings_mod
from orchestrator.config import revisions
from orchestrator.config.render import Renderer
from orchestrator.config.view import ViewCache
from orchestrator.store.db import Store


def _template(factory: pytest.TempPathFactory, name: str) -> tuple[Path, Store]:
    path = factory.mktemp(name) / "template.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    return path, store


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, store = _template(tmp_path_factory, "config-empty")
    store.dispose()
    return path


@pytest.fixture(scope="session")
def captures_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, store = _template(tmp_path_factory, "config-captures")
    cfg = settings_mod.load(env={}).replace(**CAPTURE_SETTINGS)
    revisions.publish(
        store, "test", "Capture organisation", load_capture_org, settings=cfg
    )
    store.dispose()
    return path


def _copy(template: Path, settings: settings_mod.Settings) -> Store:
    target = settings.database_url.removeprefix("sqlite:///")
    shutil.copyfile(template, target)
    return Store(settings.database_url)


@pytest.fixture
def empty_store(
    settings: settings_mod.Settings, migrated_template: Path
) -> Iterator[Store]:
    store = _copy(migrated_template, settings)
    yield store
    store.dispose()


@pytest.fixture
def capture_settings(settings: settings_mod.Settings) -> settings_mod.Settings:
    return settings.replace(**CAPTURE_SETTINGS)


@pytest.fixture
def capture_store(
    capture_settings: settings_mod.Settings, captures_template: Path
) -> Iterator[Store]:
    store = _copy(captures_template, capture_settings)
    yield store
    store.dispose()


@pytest.fixture
def renderer(demo_store: Store, settings: settings_mod.Settings) -> Renderer:
    return Renderer(settings, ViewCache(demo_store, settings))
