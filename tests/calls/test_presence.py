"""Presence from phone registrations and channel states."""

from __future__ import annotations

import json

import pytest
import redis
from tcp_proxy import TcpProxy

from orchestrator import live
from orchestrator.calls.directory import UserDirectory
from orchestrator.calls.presence import (
    CALLS_KEY,
    CHANNEL,
    PRESENCE_KEY,
    LegState,
    Presence,
    PresenceTracker,
    decide,
)
from orchestrator.esl.events import Event
from orchestrator.esl.fake import FakeGateway
from orchestrator.esl.snapshot import LiveSnapshot
from orchestrator.store import models as m

B_LEG_03 = "cbc748a5-d4e8-4f36-a299-078d8b53d46f"
# The capture's clock said December 2026; registrations expire against it.
CAPTURE_TIME = 1796314700.0


@pytest.mark.parametrize(
    ("registered", "states", "dnd", "expected"),
    [
        (False, [], False, Presence.OFFLINE),
        (True, [], False, Presence.AVAILABLE),
        (True, [], True, Presence.DND),
        (False, [], True, Presence.DND),
        (True, ["ringing"], False, Presence.RINGING),
        (True, ["ringing"], True, Presence.RINGING),
        (True, ["active"], True, Presence.BUSY),
        (True, ["held", "ringing"], False, Presence.BUSY),
        (False, ["dialing"], False, Presence.BUSY),
    ],
)
def test_decide(registered, states, dnd, expected):
    assert decide(registered, states, dnd) is expected


class Published:
    """Everything published on the live channel, in order."""

    def __init__(self, client) -> None:
        self.pubsub = client.pubsub()
        self.pubsub.subscribe(CHANNEL)
        assert self.pubsub.get_message(timeout=1)["type"] == "subscribe"

    def messages(self) -> list[dict]:
        found = []
        while (message := self.pubsub.get_message(timeout=0.01)) is not None:
            found.append(json.loads(message["data"]))
        return found


@pytest.fixture
def redis_client(settings):
    return live.connect(settings.redis_url)


@pytest.fixture(params=[False, True], ids=["live-state", "cached"])
def tracker(request, redis_client, store, users) -> PresenceTracker:
    clock = iter(range(10**9))
    return PresenceTracker(
        redis_client,
        UserDirectory(store),
        clock=lambda: CAPTURE_TIME + next(clock) * 0.001,
        cache=request.param,
    )


def registration(capture) -> list[Event]:
    return [e for e in capture("02-register") if e.key.startswith("sofia::")]


def test_registration_makes_a_user_available_and_unregister_offline(tracker, capture):
    events = registration(capture)
    registered = [e for e in events if e.key == "sofia::register"]
    unregistered = [e for e in events if e.key == "sofia::unregister"]

    assert tracker.state("anna") is Presence.OFFLINE
    for event in registered:
        tracker.handle(event)
    assert tracker.state("anna") is Presence.AVAILABLE
    for event in unregistered:
        tracker.handle(event)
    assert tracker.state("anna") is Presence.OFFLINE


def test_a_failed_registration_changes_nothing(tracker, capture):
    for event in registration(capture):
        if event.key in ("sofia::register_attempt", "sofia::register_failure"):
            tracker.handle(event)
    assert tracker.state("anna") is Presence.OFFLINE


def test_ringing_then_busy_then_available(tracker, redis_client, capture):
    for event in registration(capture):
        if event.key == "sofia::register":
            tracker.handle(event)
    published = Published(redis_client)

    for event in capture("03-basic-bridge"):
        tracker.handle(event)

    messages = published.messages()
    presence = [m["state"] for m in messages if m["type"] == "presence"]
    assert presence == ["ringing", "busy", "available"]
    assert all(m["user"] == "anna" for m in messages)
    calls = [m for m in messages if m["type"] == "call"]
    assert [c["state"] for c in calls] == ["ringing", "active", "ended"]
    assert {c["uuid"] for c in calls} == {B_LEG_03}
    assert calls[0]["from"] == "+31201234567"
    assert calls[0]["from_name"] == "Capture Caller"
    assert calls[0]["extension"] == "2001"
    assert redis_client.hgetall(CALLS_KEY) == {}


def test_live_calls_are_kept_for_snapshots(tracker, redis_client, capture):
    events = capture("03-basic-bridge")
    answered = next(i for i, e in enumerate(events) if e.name == "CHANNEL_BRIDGE")
    for event in events[: answered + 1]:
        tracker.handle(event)

    kept = json.loads(redis_client.hget(CALLS_KEY, B_LEG_03))
    assert (kept["state"], kept["user"]) == ("active", "anna")
    b_leg = tracker.legs.get(B_LEG_03)
    assert b_leg is not None and b_leg.other == "06ff8061-06da-465e-833e-e565e01c8688"
    assert tracker.legs.get(b_leg.other).other == B_LEG_03


def test_hold_is_still_busy(tracker, redis_client, capture):
    events = capture("07-hold")
    published = Published(redis_client)
    # In this capture the caller (a trunk leg) holds; the user's phone
    # leg is the one that gets music, and stays busy throughout.
    for event in events:
        tracker.handle(event)
    presence = [m["state"] for m in published.messages() if m["type"] == "presence"]
    assert presence == ["ringing", "busy", "offline"]


def test_do_not_disturb_setting(tracker, store, users, capture):
    for event in registration(capture):
        if event.key == "sofia::register":
            tracker.handle(event)

    assert tracker.set_dnd("anna", True) is Presence.DND
    with store.session() as session:
        assert session.get(m.User, users["anna"]).dnd is True

    events = capture("03-basic-bridge")
    for event in events[:30]:
        tracker.handle(event)
    assert tracker.state("anna") is Presence.BUSY
    for event in events[30:]:
        tracker.handle(event)
    assert tracker.state("anna") is Presence.DND
    assert tracker.set_dnd("anna", False) is Presence.AVAILABLE


def test_do_not_disturb_feature_code(tracker, capture):
    for event in registration(capture):
        if event.key == "sofia::register":
            tracker.handle(event)
    # What the dialplan's `event` application fires when anna dials the
    # code: the channel's variables name the user.
    code = FakeGateway.event(
        "CUSTOM",
        "5a0c4d7e-1111-4c2b-9d7e-000000000001",
        Event_Subclass="schakel::dnd",
        Action="toggle",
        variable_user_name="1001",
    )
    tracker.handle(code)
    assert tracker.state("anna") is Presence.DND
    tracker.handle(code)
    assert tracker.state("anna") is Presence.AVAILABLE


def test_resync_forgets_calls_that_ended_while_disconnected(tracker, capture):
    events = capture("03-basic-bridge")
    bridge = next(i for i, e in enumerate(events) if e.name == "CHANNEL_BRIDGE")
    for event in events[: bridge + 1]:
        tracker.handle(event)
    assert tracker.state("anna") is Presence.BUSY

    tracker.resync(LiveSnapshot(channels=[], calls=[], registrations=None))

    assert tracker.state("anna") is Presence.OFFLINE
    assert tracker.legs.of_user("anna") == []


def test_on_a_real_redis_server(redis_url, store, users, capture):
    client = live.connect(redis_url)
    tracker = PresenceTracker(client, UserDirectory(store), clock=lambda: CAPTURE_TIME)
    for event in capture("03-basic-bridge")[:25]:
        tracker.handle(event)
    assert tracker.state("anna") is Presence.BUSY
    assert tracker.legs.get(B_LEG_03).state == LegState.ACTIVE


def test_do_not_disturb_code_shows_at_once(tracker, capture):
    for event in registration(capture):
        if event.key == "sofia::register":
            tracker.handle(event)
    # *78 dialled on anna's phone: the dialplan parks it for the handler.
    parked = FakeGateway.event(
        "CHANNEL_PARK",
        "5a0c4d7e-1111-4c2b-9d7e-000000000002",
        variable_schakel_action="dnd_on",
        variable_user_name="1001",
    )
    tracker.handle(parked)
    assert tracker.state("anna") is Presence.DND


def test_a_live_state_outage_loses_no_change(
    redis_url, store, users, capture, free_port
):
    # The process that follows the switch keeps what it could not write and
    # writes it, in order, once live state answers again.
    server = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs
    proxy = TcpProxy((server["host"], server["port"]), free_port)
    proxy.up()
    client = live.connect(f"redis://127.0.0.1:{free_port}/{server.get('db', 0)}")
    tracker = PresenceTracker(
        client, UserDirectory(store), clock=lambda: CAPTURE_TIME, cache=True
    )
    direct = live.connect(redis_url)
    try:
        for event in registration(capture):
            if event.key == "sofia::register":
                tracker.handle(event)
        assert direct.hget(PRESENCE_KEY, "anna") == "available"

        proxy.down()
        events = capture("03-basic-bridge")
        bridged = next(i for i, e in enumerate(events) if e.name == "CHANNEL_BRIDGE")
        for event in events[: bridged + 1]:
            tracker.handle(event)
        assert tracker.pending > 0
        assert direct.hget(PRESENCE_KEY, "anna") == "available"

        proxy.up()
        tracker.flush()
        assert tracker.pending == 0
        assert direct.hget(PRESENCE_KEY, "anna") == "busy"
        assert json.loads(direct.hget(CALLS_KEY, B_LEG_03))["state"] == "active"
    finally:
        proxy.down()
