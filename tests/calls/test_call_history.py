"""Call lists and the call event log, from what a real switch sent."""

from __future__ import annotations

from sqlalchemy import select

from orchestrator.calls.history import CallHistory, call_list
from orchestrator.calls.records import RecordWriter
from orchestrator.esl.events import Event
from orchestrator.store import models as m

A_LEG_03 = "06ff8061-06da-465e-833e-e565e01c8688"
B_LEG_03 = "cbc748a5-d4e8-4f36-a299-078d8b53d46f"


def replay(events: list[Event], store) -> RecordWriter:
    writer = RecordWriter(store)
    history = CallHistory(writer)
    for event in events:
        history.handle(event)
    writer.flush()
    return writer


def records(store) -> list[m.CallRecord]:
    with store.session() as session:
        return list(session.scalars(select(m.CallRecord).order_by(m.CallRecord.id)))


def test_answered_external_call_is_in_the_called_users_list(store, users, capture):
    replay(capture("03-basic-bridge"), store)

    (row,) = records(store)
    assert row.user_id == users["anna"]
    assert row.call_uuid == A_LEG_03
    assert (row.direction, row.result) == ("in", "answered")
    assert row.caller_number == "+31201234567"
    assert row.caller_name == "Capture Caller"
    # The number the caller dialled (the DID), not the phone's SIP user.
    assert row.callee_number == "3100"
    assert (row.duration_s, row.billsec) == (7, 5)
    assert row.hangup_cause == "NORMAL_CLEARING"
    assert row.answered_at is not None


def test_every_leg_step_is_in_the_event_log(store, users, capture):
    replay(capture("03-basic-bridge"), store)

    with store.session() as session:
        entries = session.scalars(select(m.EventLog).order_by(m.EventLog.id)).all()
        steps = [(e.kind, e.data["leg"], e.user_id) for e in entries]
    anna = users["anna"]
    assert steps == [
        ("call.created", A_LEG_03, None),
        ("call.created", B_LEG_03, anna),
        ("call.answered", B_LEG_03, anna),
        ("call.answered", A_LEG_03, None),
        ("call.bridged", A_LEG_03, None),
        ("call.ended", B_LEG_03, anna),
        ("call.ended", A_LEG_03, None),
    ]
    assert {e.call_uuid for e in entries} == {A_LEG_03}


def test_unanswered_busy_and_unregistered_calls_are_missed(store, users, capture):
    replay(capture("04-no-answer-fallback"), store)

    rows = records(store)
    summary = sorted((r.user_id, r.direction, r.result, r.hangup_cause) for r in rows)
    assert summary == sorted(
        [
            (users["anna"], "in", "missed", "NO_ANSWER"),
            (users["anna"], "in", "missed", "USER_BUSY"),
            # No B leg at all: only the caller's leg tells of the call.
            (users["bram"], "in", "missed", "USER_NOT_REGISTERED"),
        ]
    )
    assert all(r.caller_number == "+31201234567" for r in rows)


def test_internal_call_is_placed_for_one_and_answered_for_the_other(
    store, users, capture
):
    replay(capture("10-xml-curl-forms"), store)

    with store.session() as session:
        anna = call_list(session, users["anna"])
        bram = call_list(session, users["bram"])
    assert [(e.kind, e.number) for e in anna] == [("placed", "1002")]
    # bram got the external call first, then anna's.
    assert [(e.kind, e.number) for e in bram] == [
        ("answered", "1001"),
        ("answered", "+31201234567"),
    ]


def test_call_list_filters(store, users, capture):
    replay(capture("04-no-answer-fallback") + capture("03-basic-bridge"), store)

    with store.session() as session:
        missed = call_list(session, users["anna"], kind="missed")
        answered = call_list(session, users["anna"], kind="answered")
        placed = call_list(session, users["anna"], kind="placed")
    assert [e.kind for e in missed] == ["missed", "missed"]
    assert [e.call_uuid for e in answered] == [A_LEG_03]
    assert placed == []


def test_two_devices_of_one_user_make_one_row(store, users, capture):
    events = capture("03-basic-bridge")
    app_leg = _app_leg_lost_race(events)

    replay(events + [app_leg], store)

    (row,) = records(store)
    assert (row.user_id, row.result) == (users["anna"], "answered")


def test_colleague_answering_is_not_a_missed_call(store, users, capture):
    events = capture("03-basic-bridge")
    replay([_app_leg_lost_race(events)], store)

    (row,) = records(store)
    assert row.result == "elsewhere"
    with store.session() as session:
        assert call_list(session, users["anna"], kind="missed") == []


def test_trunk_only_calls_make_no_rows(store, users, capture):
    events = [e for e in capture("03-basic-bridge") if e.unique_id != B_LEG_03]
    replay(events, store)
    assert records(store) == []


def _app_leg_lost_race(events: list[Event]) -> Event:
    """anna's app rang with the desk phone and lost when the desk answered."""
    (b_end,) = [
        e
        for e in events
        if e.name == "CHANNEL_HANGUP_COMPLETE" and e.unique_id == B_LEG_03
    ]
    headers = dict(b_end.headers)
    headers.update(
        {
            "Unique-ID": "0c1d2e3f-0000-4000-8000-000000000001",
            "Hangup-Cause": "LOSE_RACE",
            "variable_dialed_user": "anna-app",
            "variable_answer_uepoch": "0",
            "variable_billsec": "0",
        }
    )
    return Event(headers)
