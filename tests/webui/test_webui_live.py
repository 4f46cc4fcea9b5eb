"""The live hub: one subscription per process, fanned out to every client."""

from __future__ import annotations

import json
import queue
import secrets

import pytest
from flask.testing import FlaskClient

from orchestrator import live as live_mod
from orchestrator.calls.presence import CALLS_KEY, PRESENCE_KEY
from webui import live as live_page
from webui import livestate
from webui.live import CLIENT_BACKLOG, LiveHub


@pytest.fixture
def hub() -> LiveHub:
    return LiveHub(live_mod.connect(f"memory://{secrets.token_hex(4)}"))


def test_every_client_gets_every_event(hub: LiveHub) -> None:
    first, second = hub.join(), hub.join()
    call = {"type": "call", "uuid": "a", "state": "ringing", "from": "2303"}
    live_page.publish(hub.live, call)

    for inbox in (first, second):
        assert json.loads(inbox.get(timeout=5)) == call | {
            "from_shown": "2303",
            "from_label": "2303",
            "to_shown": "",
        }
    hub.stop()


def test_numbers_reach_the_page_as_people_write_them(hub: LiveHub) -> None:
    inbox = hub.join()
    live_page.publish(
        hub.live,
        {
            "type": "call",
            "uuid": "b",
            "state": "ringing",
            "from": "+31612345678",
            # What the switch puts in the name when the caller sent none.
            "from_name": "+31612345678",
            "to": "+31317492300",
        },
    )

    event = json.loads(inbox.get(timeout=5))
    assert event["from"] == event["from_name"] == "+31612345678"
    assert event["from_shown"] == event["from_label"] == "06 12345678"
    assert event["to_shown"] == "0317 492 300"
    hub.stop()


@pytest.mark.parametrize(
    ("number", "name", "label"),
    [
        ("+3220000000", "Bureau Brussel", "Bureau Brussel +32 2 000 00 00"),
        # A hunt group names itself before the caller's number.
        ("+31613456703", "Vergunningen: +31613456703", "Vergunningen: 06 13456703"),
        ("+31613456703", "", "06 13456703"),
        ("2303", "Carla Smit", "Carla Smit 2303"),
        ("", "Anoniem", "Anoniem"),
    ],
)
def test_the_caller_label_shows_the_number_once(number, name, label) -> None:
    shown = livestate.shown({"from": number, "from_name": name, "to": "2301"})
    assert shown["from_label"] == label
    assert shown["from_name"] == name
    assert shown["to_shown"] == "2301"


def test_events_other_than_calls_pass_unchanged() -> None:
    for text in ('{"type":"presence","user":"carla"}', "not json", '{"type":"call"'):
        assert livestate.shown_text(text) == text


def test_a_client_that_left_gets_nothing(hub: LiveHub) -> None:
    staying, leaving = hub.join(), hub.join()
    hub.leave(leaving)
    live_page.publish(hub.live, {"type": "presence", "user": "carla"})

    assert staying.get(timeout=5)
    assert leaving.empty()
    assert hub.clients == 1
    hub.stop()


def test_a_slow_client_keeps_only_the_newest_events(hub: LiveHub) -> None:
    inbox: queue.Queue[str] = queue.Queue(maxsize=CLIENT_BACKLOG)
    hub._clients.add(inbox)
    for n in range(CLIENT_BACKLOG + 10):
        hub.publish_local(str(n))

    kept = [inbox.get_nowait() for _ in range(inbox.qsize())]
    assert len(kept) == CLIENT_BACKLOG
    assert kept[0] == "10" and kept[-1] == str(CLIENT_BACKLOG + 9)


def test_snapshot_api_reads_live_state(as_agent: FlaskClient, app: object) -> None:
    live = app.extensions["schakel"].live  # type: ignore[attr-defined]
    live.hset(PRESENCE_KEY, "carla", "ringing")
    live.hset(CALLS_KEY, "leg-9", json.dumps({"type": "call", "state": "ringing"}))
    live.hset(CALLS_KEY, "leg-bad", "{not json")

    snapshot = as_agent.get("/api/v1/live").json

    assert snapshot["presence"] == {"carla": "ringing"}
    assert snapshot["calls"] == [
        {
            "type": "call",
            "state": "ringing",
            "uuid": "leg-9",
            "from_shown": "",
            "from_label": "",
            "to_shown": "",
        }
    ]


def test_live_page_lists_colleagues_with_their_presence(
    as_agent: FlaskClient, app: object
) -> None:
    live = app.extensions["schakel"].live  # type: ignore[attr-defined]
    live.hset(PRESENCE_KEY, "carla", "busy")
    page = as_agent.get("/live").text
    assert 'data-user="carla"' in page
    assert 'data-state="busy"' in page
