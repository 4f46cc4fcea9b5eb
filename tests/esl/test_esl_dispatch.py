"""Per-channel ordered delivery, isolation of slow and failing handlers."""

from __future__ import annotations

import logging

import gevent
import gevent.event

from orchestrator.esl.dispatch import Dispatcher
from orchestrator.esl.events import Event

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"


def event(name: str, uuid: str | None = None, **headers: str) -> Event:
    fields = {"Event-Name": name, **headers}
    if uuid:
        fields["Unique-ID"] = uuid
    return Event(fields)


def test_events_of_a_channel_arrive_in_order():
    dispatcher = Dispatcher()
    seen: list[str] = []
    dispatcher.attach(A, lambda e: seen.append(e["N"]))
    for n in range(200):
        dispatcher.dispatch(event("DTMF", A, N=str(n)))
    assert dispatcher.join(2)
    assert seen == [str(n) for n in range(200)]


def test_a_slow_channel_does_not_hold_up_another():
    dispatcher = Dispatcher()
    release = gevent.event.Event()
    seen: list[str] = []
    dispatcher.attach(A, lambda e: release.wait())
    dispatcher.attach(B, lambda e: seen.append(e.name))
    dispatcher.dispatch(event("CHANNEL_PARK", A))
    dispatcher.dispatch(event("CHANNEL_PARK", B))
    dispatcher.dispatch(event("CHANNEL_ANSWER", B))
    assert not dispatcher.join(0.2)
    assert seen == ["CHANNEL_PARK", "CHANNEL_ANSWER"]
    release.set()
    assert dispatcher.join(1)


def test_a_failing_handler_is_logged_and_others_still_run(caplog):
    dispatcher = Dispatcher()
    seen: list[str] = []

    def broken(e: Event) -> None:
        raise ValueError("bad state")

    dispatcher.attach(A, broken)
    dispatcher.subscribe(lambda e: seen.append(e.name))
    with caplog.at_level(logging.ERROR):
        dispatcher.dispatch(event("CHANNEL_PARK", A))
        dispatcher.dispatch(event("CHANNEL_HANGUP", A))
        assert dispatcher.join(1)
    assert seen == ["CHANNEL_PARK", "CHANNEL_HANGUP"]
    assert len(caplog.records) == 2
    assert all(A in r.getMessage() for r in caplog.records)


def test_subscriptions_by_name_subclass_and_all():
    dispatcher = Dispatcher()
    by_name: list[str] = []
    by_subclass: list[str] = []
    everything: list[str] = []
    dispatcher.subscribe(lambda e: by_name.append(e.name), ["CHANNEL_PARK"])
    dispatcher.subscribe(lambda e: by_subclass.append(e.key), ["sofia::register"])
    sub = dispatcher.subscribe(lambda e: everything.append(e.key))
    dispatcher.dispatch(event("CHANNEL_PARK", A))
    dispatcher.dispatch(event("CUSTOM", **{"Event-Subclass": "sofia::register"}))
    dispatcher.dispatch(event("HEARTBEAT"))
    assert dispatcher.join(1)
    sub.cancel()
    dispatcher.dispatch(event("HEARTBEAT"))
    assert dispatcher.join(1)
    assert by_name == ["CHANNEL_PARK"]
    assert by_subclass == ["sofia::register"]
    assert everything == ["CHANNEL_PARK", "sofia::register", "HEARTBEAT"]
    assert dispatcher.keys == {"CHANNEL_PARK", "sofia::register"}


def test_owner_is_forgotten_after_channel_destroy():
    dispatcher = Dispatcher()
    seen: list[str] = []
    dispatcher.attach(A, lambda e: seen.append(e.name))
    dispatcher.dispatch(event("CHANNEL_DESTROY", A))
    dispatcher.dispatch(event("CHANNEL_CREATE", A))
    assert dispatcher.join(1)
    assert seen == ["CHANNEL_DESTROY"]


def test_pause_holds_deliveries_until_resume():
    dispatcher = Dispatcher()
    seen: list[str] = []
    dispatcher.subscribe(lambda e: seen.append(e.name))
    dispatcher.pause()
    dispatcher.dispatch(event("CHANNEL_PARK", A))
    assert not dispatcher.join(0.05)
    assert seen == []
    dispatcher.resume()
    assert dispatcher.join(1)
    assert seen == ["CHANNEL_PARK"]


def test_pauses_nest():
    dispatcher = Dispatcher()
    seen: list[str] = []
    dispatcher.subscribe(lambda e: seen.append(e.name))
    dispatcher.pause()  # a resync after a reconnect
    dispatcher.pause()  # and one for a part that subscribed late
    dispatcher.dispatch(event("CHANNEL_PARK", A))
    dispatcher.resume()
    assert not dispatcher.join(0.05)
    assert dispatcher.paused and seen == []
    dispatcher.resume()
    assert dispatcher.join(1)
    assert seen == ["CHANNEL_PARK"]


def test_detach_one_owner_keeps_the_other():
    dispatcher = Dispatcher()
    first: list[str] = []
    second: list[str] = []

    def one(e: Event) -> None:
        first.append(e.name)

    dispatcher.attach(A, one)
    dispatcher.attach(A, lambda e: second.append(e.name))
    dispatcher.detach(A, one)
    dispatcher.dispatch(event("DTMF", A))
    assert dispatcher.join(1)
    assert (first, second) == ([], ["DTMF"])


def test_a_stuck_handler_is_reported_once_its_backlog_grows(caplog):
    from orchestrator.esl.dispatch import BACKLOG_WARNING

    dispatcher = Dispatcher()
    release = gevent.event.Event()
    dispatcher.attach(A, lambda e: release.wait())
    with caplog.at_level(logging.WARNING, logger="orchestrator.esl.dispatch"):
        dispatcher.dispatch(event("CHANNEL_PARK", A))
        gevent.sleep(0)  # the handler takes the first event and blocks
        for _ in range(BACKLOG_WARNING + 10):
            dispatcher.dispatch(event("DTMF", A))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert f"{BACKLOG_WARNING} events of channel {A}" in warnings[0]
    assert "the oldest: DTMF" in warnings[0]
    release.set()
    assert dispatcher.join(2)


def test_an_event_no_handler_can_read_is_reported_once(caplog):
    from orchestrator.esl.events import decode_json

    broken = decode_json(
        b'{"Event-Name":"CHANNEL_ANSWER","Core-UUID":"c","Unique-ID":"%s",'
        b'"Answer-State":answered"}' % A.encode()
    )
    dispatcher = Dispatcher()
    seen: list[object] = []
    reported: list[str] = []
    dispatcher.subscribe(lambda e: seen.append(e.answer_state))
    dispatcher.subscribe(lambda e: seen.append(e.caller_id_number))
    dispatcher.on_malformed = lambda e, error: reported.append(e.key)
    dispatcher.dispatch(broken)
    dispatcher.dispatch(event("CHANNEL_HANGUP", A, **{"Answer-State": "hangup"}))
    assert dispatcher.join(1)
    assert reported == ["CHANNEL_ANSWER"]
    assert seen == ["hangup", None]
