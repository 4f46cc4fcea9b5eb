"""Fixtures of the call features: a store with three users, captured events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator import settings as settings_mod
from orchestrator.esl.events import Event, decode_json
from orchestrator.store import models as m
from orchestrator.store.db import Store


@pytest.fixture
def store(settings: settings_mod.Settings) -> Iterator[Store]:
    """An empty SQLite store with the schema, in the test's directory."""
    store = Store(settings.database_url)
    m.Base.metadata.create_all(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def users(store: Store) -> dict[str, int]:
    """Three users whose desk phones register as 1001, 1002 and 1003.

    anna also has the app (SIP user ``anna-app``); carla prefers English.
    """
    ids = {}
    with store.session() as session:
        for n, (username, language) in enumerate(
            [("anna", "nl"), ("bram", "nl"), ("carla", "en")], start=1
        ):
            user = m.User(
                username=username,
                name=username.capitalize() + " Jansen",
                email=f"{username}@voorbeeld.nl",
                extension=f"20{n:02d}",
                did=f"+3131749230{n}",
                language=language,
                roles=["user"],
            )
            user.devices = [m.Device(sip_user=f"100{n}", sip_password="x" * 12)]
            if username == "anna":
                user.devices.append(
                    m.Device(sip_user="anna-app", sip_password="y" * 12, kind="app")
                )
            session.add(user)
            session.flush()
            ids[username] = user.id
    return ids


@pytest.fixture
def capture(captures_dir: Path) -> Callable[[str], list[Event]]:
    """``capture("03-basic-bridge")``: its events, decoded as the client does."""

    def load(name: str) -> list[Event]:
        lines = (captures_dir / name / "events.jsonl").read_bytes().splitlines()
        return [decode_json(line) for line in lines if line.strip()]

    return load
