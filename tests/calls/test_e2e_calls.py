"""The call features end to end: a simulated switch, its Event Socket, the
orchestrator's real client, and the demo organisation's rendered dialplan.

anna (2301, DID 0317 49 2301) and bram (2302) are colleagues; outside
callers come in over the trunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import pytest
from sqlalchemy import select

from orchestrator import live
from orchestrator.calls.history import call_list
from orchestrator.calls.presence import CHANNEL, Presence
from orchestrator.calls.runtime import Features, build, subscribe
from orchestrator.calls.transfer import State
from orchestrator.config.render import Renderer
from orchestrator.config.view import ViewCache
from orchestrator.config.xml_curl import XmlCurl
from orchestrator.esl import Backoff, EslClient, EslGateway
from orchestrator.mail import Mailer
from orchestrator.store import models as m
from orchestrator.store.db import Store
from simulator.scenario import Simulation
from simulator.xmlcurl import FunctionFetcher

CALLER = "0201234567"
ANNA_DID = "0317492301"
MOH = "local_stream://moh"


@pytest.fixture
def store(demo_store: Store) -> Store:
    return demo_store


@pytest.fixture
def sim(store: Store, settings) -> Iterator[Simulation]:
    views = ViewCache(store, settings, recheck_seconds=0)
    endpoint = XmlCurl(Renderer(settings, views), "", "", ())

    def answer(form: list[tuple[str, str]]) -> str | None:
        fields: dict[str, str] = {}
        for name, value in form:
            fields.setdefault(name, value)
        return endpoint.answer(fields)

    storage = Path(settings.voicemail_dir).parent
    with Simulation(
        FunctionFetcher(answer),
        domain=settings.sip_domain,
        speed=20,
        voicemail_storage=storage,
    ) as simulation:
        simulation.gateway(settings.gateway)
        simulation.start_esl(port=0)
        yield simulation


@pytest.fixture
def features(sim: Simulation, store: Store, settings) -> Iterator[Features]:
    host, port = sim.esl.address
    client = EslClient(
        host, port, "ClueCon", connect_timeout=2, backoff=Backoff(0.02, 0.2)
    )
    client.start()
    assert client.wait_ready(5)
    found = build(settings, store, live.connect(settings.redis_url), EslGateway(client))
    # The orchestrator is one gevent process: background work is a greenlet.
    found.calls.spawn = gevent.spawn
    subscriptions = subscribe(found, found.gateway)
    yield found
    for subscription in subscriptions:
        subscription.cancel()
    client.stop()


class Published:
    def __init__(self, client: Any) -> None:
        self.pubsub = client.pubsub()
        self.pubsub.subscribe(CHANNEL)
        assert self.pubsub.get_message(timeout=1)["type"] == "subscribe"

    def messages(self) -> list[dict[str, Any]]:
        found = []
        while (message := self.pubsub.get_message(timeout=0.05)) is not None:
            found.append(json.loads(message["data"]))
        return found


class Delivered:
    """Events of the switch once the orchestrator's handlers have had them.

    Subscribed after the features' own handlers, this one gets each event
    of a channel after them (a channel's events go to its handlers in
    order), so an event seen here has been acted on.
    """

    def __init__(self, features: Features, names: tuple[str, ...]) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self._arrived = gevent.event.Event()
        self.subscription = features.gateway.subscribe(self._handle, names)

    def _handle(self, event: Any) -> None:
        self.seen.append((event.name, event.unique_id))
        self._arrived.set()

    def wait(self, name: str, uuid: str, within: float = 5) -> None:
        """Until ``name`` of channel ``uuid`` was handled (``within`` bounds
        a failing test, it is no synchronisation)."""
        with gevent.Timeout(within, AssertionError(f"no {name} of {uuid}")):
            while (name, uuid) not in self.seen:
                self._arrived.clear()
                self._arrived.wait()


@pytest.fixture
def delivered(features: Features) -> Iterator[Delivered]:
    found = Delivered(features, ("CHANNEL_HOLD", "CHANNEL_UNHOLD"))
    yield found
    found.subscription.cancel()


def settle(features: Features) -> None:
    """Let the client deliver what the switch sent so far."""
    gevent.sleep(0.05)
    features.gateway.dispatcher.join(5)


def answered_call(sim: Simulation, features: Features) -> tuple[Any, str]:
    """An outside caller talking with anna; the caller's call and anna's leg."""
    anna = sim.phone("anna", "2301", answers_after=1)
    call = sim.dial(CALLER, ANNA_DID)
    leg = call.expect_answered_by(anna, within=20)
    call.expect_event("CHANNEL_BRIDGE", within=5)
    settle(features)
    return call, leg.uuid


def playback_started(sim: Simulation, uuid: str) -> list[str]:
    return [
        r.get("Playback-File-Path")
        for r in sim.events("PLAYBACK_START")
        if r.get("Unique-ID") == uuid
    ]


# -- history and presence --------------------------------------------------------


def test_answered_call_presence_and_history(sim, features, store):
    published = Published(features.live)
    anna = sim.phone("anna", "2301", answers_after=2)
    settle(features)
    call = sim.dial(CALLER, ANNA_DID)
    call.expect_answered_by(anna, within=20)
    call.wait(2)
    call.hangup()
    sim.wait_idle(within=20)
    settle(features)
    features.writer.flush()

    presence = [
        m["state"]
        for m in published.messages()
        if m["type"] == "presence" and m["user"] == "anna"
    ]
    assert presence == ["available", "ringing", "busy", "available"]
    with store.session() as session:
        anna_id = session.scalar(select(m.User.id).where(m.User.username == "anna"))
        (entry,) = call_list(session, anna_id)
        kinds = session.scalars(
            select(m.EventLog.kind).where(m.EventLog.call_uuid == call.uuid)
        ).all()
    assert (entry.kind, entry.number) == ("answered", "+31201234567")
    assert entry.billsec >= 1
    assert {"call.created", "call.answered", "call.bridged", "call.ended"} <= set(kinds)


@pytest.mark.parametrize("late", [False, True], ids=["hooks-first", "client-first"])
def test_a_call_that_began_before_the_orchestrator_connected(
    sim, store, settings, late
):
    anna = sim.phone("anna", "2301", answers_after=1)
    call = sim.dial(CALLER, ANNA_DID)
    leg = call.expect_answered_by(anna, within=20)
    call.expect_event("CHANNEL_BRIDGE", within=5)

    # Only now does the orchestrator come: the switch's own lists tell it
    # what is live, whether its parts subscribe before it connects or after.
    host, port = sim.esl.address
    client = EslClient(host, port, "ClueCon", connect_timeout=2)
    if late:
        client.start()
        assert client.wait_ready(5)
    found = build(settings, store, live.connect(settings.redis_url), EslGateway(client))
    subscriptions = subscribe(found, found.gateway)
    try:
        if not late:
            client.start()
            assert client.wait_ready(5)
        settle(found)
        with gevent.Timeout(5, AssertionError("anna's leg not taken on")):
            while not found.presence.legs.of_user("anna"):
                gevent.sleep(0.02)
        (taken,) = found.presence.legs.of_user("anna")
        assert (taken.uuid, taken.state, taken.side) == (leg.uuid, "active", "in")
        assert (taken.caller_number, taken.callee_number) == (
            "+31201234567",
            "+31317492301",
        )
        assert taken.call_uuid == call.uuid and taken.other == call.uuid
        assert found.presence.state("anna") is Presence.BUSY

        call.hangup()
        sim.wait_idle(within=20)
        settle(found)
        assert found.presence.state("anna") is Presence.AVAILABLE
    finally:
        for subscription in subscriptions:
            subscription.cancel()
        client.stop()


def test_a_call_answered_on_the_mobile_by_one_number_is_the_users(
    sim, features, store, settings
):
    from orchestrator.config.notifier import Notifier
    from orchestrator.config.revisions import publish

    def together(session):
        karin = session.scalars(select(m.User).where(m.User.username == "karin")).one()
        karin.one_number = "together"

    publish(
        store, "test", "one number", together, settings=settings, notifier=Notifier()
    )
    with store.session() as session:
        karin = session.scalars(select(m.User).where(m.User.username == "karin")).one()
        karin_id, did, mobile_number = karin.id, karin.did, karin.mobile
    sim.phone("karin", "2311", answers=False)
    mobile = sim.mobile("karin mobile", mobile_number, answers_after=2)
    call = sim.dial(CALLER, did)
    leg = call.expect_answered_by(mobile, within=30)
    call.expect_event("CHANNEL_BRIDGE", within=5)
    settle(features)

    (live_leg,) = features.presence.legs.of_user("karin")
    assert (live_leg.uuid, live_leg.state) == (leg.uuid, "active")
    assert features.presence.state("karin") is Presence.BUSY

    call.hangup()
    sim.wait_idle(within=20)
    settle(features)
    features.writer.flush()
    with store.session() as session:
        (entry,) = call_list(session, karin_id)
    assert (entry.kind, entry.number) == ("answered", "+31201234567")
    assert features.presence.state("karin") is not Presence.BUSY


def test_missed_call_with_voicemail_mailed(sim, features, store, smtp_server):
    features.voicemail.mailer = Mailer("127.0.0.1", smtp_server.port, "vm@test")
    bram = sim.phone("bram", "2302", answers=False)
    call = sim.dial(CALLER, "0317492302")
    call.expect_event("RECORD_START", within=60)
    call.wait(4)
    call.hangup()
    sim.wait_idle(within=20)
    settle(features)
    features.writer.flush()

    assert features.voicemail.mail_pending() == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail.message["Subject"].startswith("Nieuw voicemailbericht van")
    (attachment,) = list(mail.message.iter_attachments())
    audio = attachment.get_content()
    assert audio[:4] == b"RIFF" and len(audio) > 1000
    with store.session() as session:
        bram_id = session.scalar(select(m.User.id).where(m.User.username == "bram"))
        (missed,) = call_list(session, bram_id, kind="missed")
        (message,) = features.voicemail.messages(bram_id)
    assert missed.number == "+31201234567"
    assert message.duration_s >= 3
    assert mail.rcpt_to == [_email(store, "bram")]
    assert not any(bram.owns(c) and c.answered for c in sim.legs.values())


def _email(store: Store, username: str) -> str:
    with store.session() as session:
        return session.scalar(select(m.User.email).where(m.User.username == username))


# -- hold ----------------------------------------------------------------------------


def test_hold_plays_music_to_the_caller_then_unhold(sim, features, delivered):
    call, anna_leg = answered_call(sim, features)

    features.calls.hold("anna", anna_leg)

    call.expect_event("PLAYBACK_START", within=5)
    assert playback_started(sim, call.uuid) == [MOH]
    delivered.wait("CHANNEL_HOLD", anna_leg)
    assert features.calls.legs.get(anna_leg).state == "held"

    features.calls.unhold("anna", anna_leg)
    call.expect_event("PLAYBACK_STOP", within=5)
    delivered.wait("CHANNEL_UNHOLD", anna_leg)
    assert features.calls.legs.get(anna_leg).state == "active"


# -- blind transfer ---------------------------------------------------------------------


def test_blind_transfer_to_a_colleague_shows_the_caller(sim, features):
    call, anna_leg = answered_call(sim, features)
    bram = sim.phone("bram", "2302", answers_after=1)

    features.calls.blind_transfer("anna", anna_leg, "2302")

    leg = call.expect_answered_by(bram, within=20)
    assert leg.profile.caller_id_number == CALLER
    assert sim.leg(anna_leg).hungup


def test_blind_transfer_out_presents_the_original_number(sim, features):
    call, anna_leg = answered_call(sim, features)
    outside = sim.mobile("outside", "+31207654321", answers_after=1)

    features.calls.blind_transfer("anna", anna_leg, "020 765 4321")

    leg = call.expect_answered_by(outside, within=20)
    assert leg.profile.caller_id_number == CALLER
    assert sim.leg(call.uuid).get_variable("sip_h_Diversion") == (
        "<sip:+31317492301@pbx.local>;reason=deflection"
    )


def test_blind_transfer_out_names_the_user_in_diversion(sim, features):
    call, anna_leg = answered_call(sim, features)
    outside = sim.mobile("outside", "+31207654321", answers_after=1)

    features.calls.blind_transfer("anna", anna_leg, "020 765 4321")

    leg = call.expect_answered_by(outside, within=20)
    assert leg.get_variable("sip_h_Diversion") == (
        "<sip:+31317492301@pbx.local>;reason=deflection"
    )


# -- attended transfer -------------------------------------------------------------------


def consult_bram(sim, features, anna_leg):
    bram = sim.phone("bram", "2302", answers_after=1)
    transfer = features.calls.start_attended("anna", anna_leg, "2302")
    bram_leg = None
    for _ in range(100):
        bram_leg = next((c for c in sim.legs.values() if bram.owns(c)), None)
        current = features.calls.transfers.get(anna_leg)
        if bram_leg is not None and current.state is not State.RINGING:
            break
        sim.wait(0.5)
    return transfer, bram_leg


def test_attended_transfer_cancel_restores_the_caller(sim, features):
    call, anna_leg = answered_call(sim, features)

    transfer, bram_leg = consult_bram(sim, features, anna_leg)

    assert features.calls.transfers.get(anna_leg).state is State.CONSULTING
    assert MOH in playback_started(sim, call.uuid)
    assert sim.leg(anna_leg).partner is not None
    assert sim.leg(anna_leg).partner.uuid == transfer.target

    features.calls.cancel_transfer("anna", anna_leg)
    sim.wait(2)
    settle(features)

    caller = sim.leg(call.uuid)
    assert not caller.hungup
    assert caller.partner is not None and caller.partner.uuid == anna_leg
    assert bram_leg.hungup
    assert features.calls.transfers.get(anna_leg).state is State.CANCELLED


def test_attended_transfer_complete_connects_caller_and_colleague(sim, features):
    call, anna_leg = answered_call(sim, features)
    transfer, bram_leg = consult_bram(sim, features, anna_leg)

    features.calls.complete_transfer("anna", anna_leg)
    sim.wait(2)
    settle(features)

    caller = sim.leg(call.uuid)
    assert not caller.hungup
    assert caller.partner is not None and caller.partner.uuid == transfer.target
    assert not bram_leg.hungup
    assert sim.leg(anna_leg).hungup
    assert features.calls.transfers.get(anna_leg).state is State.COMPLETED
