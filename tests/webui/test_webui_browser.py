"""The web app in real headless Chromium, served by ``schakel serve --no-esl``."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from orchestrator.calls.presence import CHANNEL

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    url: str
    redis_url: str
    database: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, seeded_template: Path, _redis_db: str
) -> Iterator[Served]:
    """One server for the module: each test signs in as a user of its own."""
    tmp_path = tmp_path_factory.mktemp("served")
    redis_url, free_port = _redis_db, _free_port()
    database = tmp_path / "schakel.db"
    shutil.copy(seeded_template, database)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": redis_url,
        "SCHAKEL_HTTP_HOST": "127.0.0.1",
        "SCHAKEL_HTTP_PORT": str(free_port),
        "SCHAKEL_SECRET_KEY": "browser-test-secret",
        "SCHAKEL_VOICEMAIL_DIR": str(tmp_path / "voicemail"),
        "SCHAKEL_SOUNDS_DIR": str(tmp_path / "sounds"),
    }
    env.pop("SCHAKEL_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "serve", "--no-esl"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_serving(process)
        yield Served(f"http://127.0.0.1:{free_port}", redis_url, database)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_serving(process: subprocess.Popen[str]) -> None:
    """Read the server's log until it says it serves (or it died)."""
    seen = []
    assert process.stderr is not None
    for line in process.stderr:
        seen.append(line)
        if "serving on" in line:
            return
    raise AssertionError("schakel serve stopped:\n" + "".join(seen[-30:]))


def _sign_in(page: Any, served: Served, username: str) -> None:
    page.goto(served.url + "/login")
    page.fill("#username", username)
    page.fill("#password", "schakel-demo")
    page.click("button[type=submit].primary")


def test_end_user_sets_a_forwarding(page: Any, served: Served) -> None:
    _sign_in(page, served, "carla")
    page.wait_for_url(served.url + "/me")
    assert page.inner_text("h1") == "Mijn telefonie"

    form = page.locator("#forward-busy")
    form.locator("input[name=enabled]").check()
    form.locator("select[name=target]").select_option("external")
    form.locator("input[name=number]").fill("06 1234 5678")
    form.locator("button[type=submit]").click()

    page.wait_for_selector("p.notice")
    assert page.inner_text("p.notice") == "Doorschakeling opgeslagen."
    saved = page.locator("#forward-busy")
    assert saved.locator("input[name=number]").input_value() == "06 12345678"
    assert saved.locator("input[name=enabled]").is_checked()


def test_refused_forwarding_is_explained(page: Any, served: Served) -> None:
    _sign_in(page, served, "supervisor")
    page.wait_for_url(served.url + "/live")
    page.goto(served.url + "/me")
    form = page.locator("#forward-always")
    form.locator("select[name=target]").select_option("external")
    form.locator("input[name=number]").fill("0900 1234567")
    form.locator("button[type=submit]").click()

    error = page.locator("#forward-always .field-error")
    error.wait_for()
    assert "U mag niet doorschakelen naar dit soort nummer." in error.inner_text()


def test_number_field_follows_the_choice(page: Any, served: Served) -> None:
    _sign_in(page, served, "carla")
    page.wait_for_url(served.url + "/me")
    form = page.locator("#forward-unreachable")
    form.locator("select[name=target]").select_option("voicemail")
    assert not form.locator("input[name=number]").is_visible()
    form.locator("select[name=target]").select_option("external")
    assert form.locator("input[name=number]").is_visible()


@pytest.fixture
def live(served: Served) -> redis.Redis:
    """The served app's live state, emptied first: other tests of this test
    process share the database and leave calls and presence behind, which
    the live page would show in its first snapshot."""
    client = redis.Redis.from_url(served.redis_url)
    client.flushdb()
    return client


def test_live_page_shows_a_pushed_call(
    page: Any, served: Served, live: redis.Redis
) -> None:
    _sign_in(page, served, "anna")
    page.wait_for_url(served.url + "/live")
    page.wait_for_selector("#live-status[data-state=connected]")
    assert page.inner_text("#call-count") == "0"

    event = {
        "type": "call",
        "uuid": "leg-1",
        "state": "ringing",
        "from": "0612345678",
        "from_name": "Jan de Aannemer",
        "to": "2303",
        "user": "carla",
        "extension": "2303",
        "since": 1772442000.0,
    }
    live.publish(CHANNEL, json.dumps(event))
    row = page.locator("#call-leg-1")
    row.wait_for()
    assert "Jan de Aannemer" in row.inner_text()
    assert "Gaat over" in row.inner_text()
    assert row.locator("td").nth(2).inner_text() == "Carla Smit (2303)"
    # A Dutch page tells the time on a 24-hour clock.
    since = row.locator("td").nth(4).inner_text()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", since), since

    # An outside caller who sent no name: the number once, as written here.
    stranger = event | {
        "uuid": "leg-2",
        "from": "+31612345678",
        "from_name": "+31612345678",
    }
    live.publish(CHANNEL, json.dumps(stranger))
    page.locator("#call-leg-2").wait_for()
    assert page.locator("#call-leg-2 td").first.inner_text() == "06 12345678"
    live.publish(CHANNEL, json.dumps(stranger | {"state": "ended"}))
    page.locator("#call-leg-2").wait_for(state="detached")

    live.publish(CHANNEL, json.dumps(event | {"state": "active"}))
    page.wait_for_selector("#call-leg-1[data-state=active]")
    assert "In gesprek" in row.inner_text()

    presence = {"type": "presence", "user": "carla", "extension": "2303"}
    live.publish(CHANNEL, json.dumps(presence | {"state": "busy"}))
    badge = page.locator('#presence tr[data-user="carla"] .badge')
    page.wait_for_selector('#presence tr[data-user="carla"] .badge[data-state=busy]')
    assert badge.inner_text() == "Bezet"

    live.publish(CHANNEL, json.dumps(event | {"state": "ended"}))
    row.wait_for(state="detached")
    assert page.inner_text("#call-count") == "0"


def test_own_call_can_be_put_on_hold_from_the_live_page(
    page: Any, served: Served, live: redis.Redis
) -> None:
    _sign_in(page, served, "anna")
    page.wait_for_url(served.url + "/live")
    page.wait_for_selector("#live-status[data-state=connected]")
    mine = {"type": "call", "uuid": "leg-7", "state": "active", "user": "anna"}
    theirs = {"type": "call", "uuid": "leg-8", "state": "active", "user": "carla"}
    live.publish(CHANNEL, json.dumps(theirs))
    live.publish(CHANNEL, json.dumps(mine))
    page.locator("#call-leg-7").wait_for()

    assert page.locator("#call-leg-8 button").count() == 0
    hold = page.locator("#call-leg-7 button[data-action=hold]")
    assert hold.inner_text() == "In de wacht"
    with page.expect_response("**/api/v1/calls/leg-7/hold") as answer:
        hold.click()

    # No switch here and no such leg: the calls API says so, in Dutch.
    assert answer.value.status == 404
    page.wait_for_selector("#live-error:not([hidden])")
    assert page.inner_text("#live-error") == "Dit gesprek bestaat niet (meer)."


def test_language_can_be_switched(page: Any, served: Served) -> None:
    _sign_in(page, served, "anna")
    page.wait_for_url(served.url + "/live")
    page.goto(served.url + "/me")
    assert page.locator("html").get_attribute("lang") == "nl"

    page.select_option("#lang", "en")
    page.wait_for_selector("html[lang=en]")
    assert page.inner_text("h1") == "My telephony"
    assert page.url == served.url + "/me"

    page.select_option("#lang", "nl")
    page.wait_for_selector("html[lang=nl]")
    assert page.inner_text("h1") == "Mijn telefonie"


def test_no_console_errors_and_no_blocked_resources(page: Any, served: Served) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    _sign_in(page, served, "supervisor")
    page.wait_for_url(served.url + "/live")
    page.wait_for_selector("#live-status[data-state=connected]")
    page.goto(served.url + "/me")
    page.goto(served.url + "/me/calls")
    assert problems == []
