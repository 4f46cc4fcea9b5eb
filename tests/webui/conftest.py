"""Fixtures of the web app tests: a seeded store, the app, signed-in clients."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from webui_helpers import sign_in

from orchestrator import settings as settings_mod
from orchestrator.store import models as m
from orchestrator.store.db import Store
from orchestrator.store.seed import seed
from webui.app import create_app


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the demo organisation, made once."""
    path = tmp_path_factory.mktemp("webui-db") / "template.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    seed(store)
    with store.session() as db:
        # A plain end user with a password: the demo logins are all staff of
        # the contact centre or administrators.
        user = db.query(m.User).filter_by(username="carla").one()
        admin = db.query(m.User).filter_by(username="beheer").one()
        user.password_hash = admin.password_hash
        user.roles = ["user"]
    store.dispose()
    return path


@pytest.fixture
def store(settings: settings_mod.Settings, seeded_template: Path) -> Iterator[Store]:
    path = settings.database_url.removeprefix("sqlite:///")
    shutil.copy(seeded_template, path)
    store = Store(settings.database_url)
    yield store
    store.dispose()


@pytest.fixture
def app(settings: settings_mod.Settings, store: Store) -> Flask:
    app = create_app(settings, store=store)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def as_user(client: FlaskClient) -> FlaskClient:
    """Signed in as Carla, an end user."""
    assert sign_in(client, "carla").status_code == 302
    return client


@pytest.fixture
def as_agent(client: FlaskClient) -> FlaskClient:
    assert sign_in(client, "anna").status_code == 302
    return client


@pytest.fixture
def as_supervisor(client: FlaskClient) -> FlaskClient:
    assert sign_in(client, "supervisor").status_code == 302
    return client


@pytest.fixture
def as_admin(client: FlaskClient) -> FlaskClient:
    assert sign_in(client, "beheer").status_code == 302
    return client
