"""The call features wired to a gateway, as the background service does."""

from __future__ import annotations

from sqlalchemy import select

from orchestrator import live
from orchestrator.calls.presence import Presence
from orchestrator.calls.runtime import build, refresh_dnd, subscribe
from orchestrator.esl.fake import FakeGateway
from orchestrator.esl.snapshot import LiveSnapshot
from orchestrator.store import models as m


def features_on(gateway, settings, store):
    found = build(settings, store, live.connect(settings.redis_url), gateway)
    subscribe(found, gateway)
    return found


def test_every_part_gets_its_events(settings, store, users, capture):
    gateway = FakeGateway()
    features = features_on(gateway, settings, store)

    for event in capture("02-register") + capture("03-basic-bridge"):
        gateway.push(event)
    features.writer.flush()

    assert features.presence.state("anna") is Presence.OFFLINE  # unregistered
    with store.session() as session:
        records = session.scalars(select(m.CallRecord)).all()
        logged = session.scalars(select(m.EventLog.kind)).all()
    assert [(r.user_id, r.result) for r in records] == [(users["anna"], "answered")]
    assert "call.bridged" in logged


def test_voicemail_events_reach_voicemail(settings, store, users, capture):
    gateway = FakeGateway()
    features = features_on(gateway, settings, store)

    for event in capture("09-voicemail"):
        gateway.push(event)
    features.writer.flush()

    (message,) = features.voicemail.messages(users["anna"])
    assert message.duration_s == 4


def test_resync_after_a_reconnect_forgets_ended_calls(settings, store, users, capture):
    gateway = FakeGateway()
    features = features_on(gateway, settings, store)
    events = capture("03-basic-bridge")
    for event in events[:30]:
        gateway.push(event)
    assert features.presence.state("anna") is Presence.BUSY

    gateway.resync(LiveSnapshot(channels=[], calls=[], registrations=[]))

    assert features.presence.state("anna") is Presence.OFFLINE


def test_do_not_disturb_set_elsewhere_is_published(settings, store, users):
    features = build(settings, store, live.connect(settings.redis_url), None)
    refresh_dnd(features)  # the first look only notes the settings
    with store.session() as session:
        session.get(m.User, users["bram"]).dnd = True

    refresh_dnd(features)

    assert features.presence.state("bram") is Presence.DND
    assert features.presence.state("anna") is Presence.OFFLINE
