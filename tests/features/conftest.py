"""A demo organisation per test, copied from one seeded once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import settings as settings_mod
from orchestrator.config.notifier import Notifier
from orchestrator.store.db import Store


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


# --- the simulator on the demo organisation ------------------------------------


class DemoSwitch:
    """The rendered configuration of ``store`` served to a simulated switch."""

    def __init__(self, store: Store, settings: settings_mod.Settings) -> None:
        from orchestrator.config.render import Renderer
        from orchestrator.config.view import ViewCache
        from orchestrator.config.xml_curl import XmlCurl

        self.views = ViewCache(store, settings, recheck_seconds=0)
        self.xml_curl = XmlCurl(Renderer(settings, self.views), "", "", ())

    def answer(self, form: list[tuple[str, str]]) -> str | None:
        fields: dict[str, str] = {}
        for name, value in form:
            fields.setdefault(name, value)
        return self.xml_curl.answer(fields)


@pytest.fixture
def sim(store: Store, demo_settings: settings_mod.Settings) -> Iterator[Any]:
    """A simulated switch fetching the demo organisation's XML (domain and
    trunk gateway as the settings say)."""
    from orchestrator.config.view import sound_lengths
    from simulator.scenario import Simulation
    from simulator.xmlcurl import FunctionFetcher

    served = DemoSwitch(store, demo_settings)
    with Simulation(
        FunctionFetcher(served.answer), domain=demo_settings.sip_domain, speed=20
    ) as simulation:
        simulation.gateway(demo_settings.gateway)
        simulation.switch.sounds.update(sound_lengths(served.views.current()))
        yield simulation


class Demo:
    """Looks up the demo organisation's rows and changes them (published)."""

    def __init__(self, store: Store, settings: settings_mod.Settings) -> None:
        self.store = store
        self.settings = settings

    def user(self, username: str) -> Any:
        from sqlalchemy import select

        from orchestrator.store import models as m

        with self.store.session() as session:
            user = session.scalars(
                select(m.User).where(m.User.username == username)
            ).one()
            session.expunge(user)
            return user

    def group(self, name: str) -> Any:
        from sqlalchemy import select

        from orchestrator.store import models as m

        with self.store.session() as session:
            group = session.scalars(
                select(m.HuntGroup).where(m.HuntGroup.name == name)
            ).one()
            members = sorted(group.members, key=lambda member: member.position)
            group.member_names = [member.user.username for member in members]
            session.expunge_all()
            return group

    def change(self, change: Any, summary: str = "test change") -> None:
        from orchestrator.config.revisions import publish

        publish(
            self.store,
            "test",
            summary,
            change,
            settings=self.settings,
            notifier=Notifier(),
        )


@pytest.fixture
def demo(store: Store, demo_settings: settings_mod.Settings) -> Demo:
    return Demo(store, demo_settings)
