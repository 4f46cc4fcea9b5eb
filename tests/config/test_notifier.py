"""Revisions announced between processes: views dropped, the switch flushed."""

from __future__ import annotations

import json
import threading
from typing import Any

from orchestrator import live
from orchestrator.config import notifier as notifier_mod
from orchestrator.config.notifier import CHANNEL, Notifier, listen
from orchestrator.config.view import ViewCache


class Switch:
    def __init__(self) -> None:
        self.flushes = 0

    def xml_flush_cache(self) -> None:
        self.flushes += 1


def _announce(client: Any, revision: int, origin: str) -> None:
    message = {"type": "config.published", "revision": revision, "origin": origin}
    client.publish(CHANNEL, json.dumps(message))


def test_another_process_publishing_flushes_our_switch(demo_store, settings) -> None:
    client = live.connect(settings.redis_url)
    switch = Switch()
    heard: list[dict[str, Any]] = []
    done = threading.Event()

    def on_message(data: dict[str, Any]) -> None:
        heard.append(data)
        done.set()

    cache = ViewCache(demo_store, settings, recheck_seconds=3600)
    before = cache.current()
    listen(client, switch, on_message=on_message)

    _announce(client, 7, notifier_mod.ORIGIN)  # our own: already handled
    _announce(client, 8, "another-process")

    assert done.wait(5)
    assert [d["revision"] for d in heard] == [8]
    assert switch.flushes == 1
    assert cache.current() is not before


def test_the_notifier_announces_with_its_origin(settings) -> None:
    client = live.connect(settings.redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    Notifier(live=client).published(3, "beheer", "Nieuwe gebruiker")
    message = None
    for _ in range(3):
        message = message or pubsub.get_message(timeout=1)
    assert message is not None
    data = json.loads(message["data"])
    assert data["origin"] == notifier_mod.ORIGIN
    assert (data["revision"], data["summary"]) == (3, "Nieuwe gebruiker")


def test_an_unreachable_live_state_is_only_logged(caplog) -> None:
    class Down:
        def publish(self, channel: str, message: str) -> None:
            raise ConnectionError("redis is down")

    Notifier(live=Down()).published(4, "beheer", "x")
    assert "revision 4 not announced" in caplog.text


def test_a_plain_callable_may_do_the_flushing() -> None:
    calls: list[str] = []
    Notifier(switch=lambda: calls.append("flush")).published(5, "beheer", "x")
    assert calls == ["flush"]
