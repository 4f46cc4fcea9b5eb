"""``schakel trace``: the demo organisation's calls, through the real dialplan."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from orchestrator.store import models as m
from orchestrator.store.db import Store
from orchestrator.trace import (
    Trace,
    TraceError,
    Tracer,
    cli,
    parse_at,
    unanswered_cause,
)
from simulator.dialplan import SimpleCall
from simulator.originate import parse_dial_string

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# A Thursday: the offices are open from 08:30 to 17:00.
THURSDAY_10 = dt.datetime(2026, 12, 3, 10, 0, tzinfo=AMSTERDAM)
THURSDAY_20 = dt.datetime(2026, 12, 3, 20, 0, tzinfo=AMSTERDAM)
CHRISTMAS_10 = dt.datetime(2026, 12, 25, 10, 0, tzinfo=AMSTERDAM)
CHRISTMAS_EVE_16 = dt.datetime(2026, 12, 24, 16, 0, tzinfo=AMSTERDAM)

MAIN = "0317492300"
BURGERZAKEN = "0317492800"
CALLER = "0201234567"


@pytest.fixture
def store(demo_store) -> Store:
    return demo_store


@pytest.fixture
def tracer(settings, store) -> Tracer:
    return Tracer(settings, store)


def kinds(trace: Trace) -> list[str]:
    return [step.kind for step in trace.steps]


def step(trace: Trace, kind: str, nth: int = 0):
    return [s for s in trace.steps if s.kind == kind][nth]


def test_main_number_in_office_hours_reaches_the_menu(tracer):
    trace = tracer.trace(CALLER, MAIN, THURSDAY_10)

    assert trace.context == "public"
    assert trace.outcome == "ivr"
    schedule = step(trace, "schedule")
    assert schedule.details["open"] is True
    parked = step(trace, "parked")
    assert parked.details["name"] == "Hoofdmenu"
    assert "1: Burgerzaken" in parked.text


@pytest.mark.parametrize(
    "moment", [THURSDAY_20, CHRISTMAS_10, CHRISTMAS_EVE_16], ids=str
)
def test_main_number_when_closed_plays_the_closed_announcement(tracer, moment):
    trace = tracer.trace(CALLER, MAIN, moment)

    assert step(trace, "schedule").details["open"] is False
    assert kinds(trace)[-3:] == ["answer", "announcement", "hangup"]
    assert step(trace, "announcement").details["file"].endswith("gesloten.wav")


def test_linear_hunt_group_rings_members_in_turn_then_the_queue(tracer, store):
    trace = tracer.trace(CALLER, BURGERZAKEN, THURSDAY_10)

    ring = step(trace, "ring")
    groups = ring.details["groups"]
    assert len(groups) >= 2  # one member after the other
    assert all(leg["timeout_s"] == 15 for group in groups for leg in group)
    with store.session() as session:
        group = session.scalar(
            select(m.HuntGroup).where(m.HuntGroup.name == "Burgerzaken")
        )
        first = group.members[0].user
        first_name, first_devices = first.name, {d.sip_user for d in first.devices}
    assert {leg["endpoint"].split("/")[1].split("@")[0] for leg in groups[0]} == (
        first_devices
    )
    assert groups[0][0]["who"].startswith(first_name)
    # The caller's own number is shown, after the group's name.
    assert ring.details["caller_id"]["number"] == "+31201234567"
    assert ring.details["caller_id"]["name"].startswith("Burgerzaken: ")
    assert step(trace, "no-answer").details["timeout_s"] == 15 * len(groups)
    assert (trace.outcome, step(trace, "parked").details["name"]) == ("queue", "KCC")


def test_colleague_not_answering_goes_to_voicemail(tracer):
    trace = tracer.trace("bram", "2303")

    assert trace.context == "default"
    ring = step(trace, "ring")
    assert [leg["endpoint"] for leg in ring.details["groups"][0]] == [
        "user/2303@pbx.local",
        "user/2303-app@pbx.local",
    ]
    assert ring.details["groups"][0][0]["timeout_s"] == 20
    assert ring.details["caller_id"]["number"] == "2302"
    # Two legs: each runs out of its own leg_timeout (ALLOTTED_TIMEOUT).
    assert step(trace, "no-answer").details["cause"] == "ALLOTTED_TIMEOUT"
    assert trace.outcome == "voicemail"
    assert step(trace, "voicemail").details["box"] == "2303"


def test_barred_number_is_refused_by_the_traffic_class(tracer):
    trace = tracer.trace("anna", "0900-1234567")
    assert trace.outcome == "barred"
    assert "premium" in step(trace, "barred").text
    assert "ring" not in kinds(trace)


def test_national_call_goes_out_presenting_the_users_number(tracer):
    trace = tracer.trace("anna", "020 123 4567")
    ring = step(trace, "ring")
    (leg,) = ring.details["groups"][0]
    assert leg["endpoint"].endswith("/+31201234567")
    assert ring.details["caller_id"]["number"] == "+31317492301"
    assert trace.outcome == "connected"


def test_forwarding_to_a_mobile_presents_the_original_caller(tracer, store):
    with store.session() as session:
        bram = session.scalar(select(m.User).where(m.User.username == "bram"))
        bram.forwards.append(
            m.CallForward(
                kind="always", target_type="external", target_number="+31612345678"
            )
        )
        did = bram.did

    trace = Tracer(tracer.settings, store).trace(CALLER, did)

    ring = step(trace, "ring")
    (leg,) = ring.details["groups"][0]
    assert leg["endpoint"].endswith("/+31612345678")
    assert ring.details["caller_id"]["number"] == "+31201234567"
    assert ring.details["diversion"] == (
        "<sip:+31317492302@pbx.local>;reason=unconditional;counter=1"
    )


def test_unknown_number_is_unallocated(tracer):
    assert tracer.trace(CALLER, "0317492999").outcome == "unallocated"


def test_bad_input_is_a_clear_error(tracer):
    with pytest.raises(TraceError):
        tracer.trace("nobody-like-this", "2301")
    with pytest.raises(TraceError):
        tracer.trace("anna", "")
    with pytest.raises(TraceError):
        parse_at("yesterday", "Europe/Amsterdam")


def test_command_line_json(settings, store, tmp_path, capsys):
    config = tmp_path / "schakel.toml"
    config.write_text(f'database_url = "{settings.database_url}"\n')
    args = argparse.Namespace(
        config=str(config),
        caller=CALLER,
        destination=MAIN,
        at="2026-12-03T10:00",
        json=True,
    )

    assert cli(args) == 0

    data = json.loads(capsys.readouterr().out)
    assert data["outcome"] == "ivr"
    assert data["at"] == "2026-12-03T10:00:00+01:00"
    assert [s["kind"] for s in data["steps"]][:3] == ["call", "route", "schedule"]


def test_command_line_text_and_errors(settings, store, tmp_path, capsys):
    config = tmp_path / "schakel.toml"
    config.write_text(f'database_url = "{settings.database_url}"\n')
    args = argparse.Namespace(
        config=str(config), caller="anna", destination="2302", at=None, json=False
    )
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "rings Bram" in out and out.strip().endswith("outcome: voicemail")

    args.caller = "x-unknown"
    assert cli(args) == 2
    assert "neither a user nor a telephone number" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("dial", "call_timeout", "cause"),
    [
        # The user endpoint's own originate: NO_ANSWER (capture 04).
        ("[leg_timeout=20]user/2303@pbx.local", None, "NO_ANSWER"),
        ("[leg_timeout=20]user/2303@pbx.local,user/2303-app@pbx.local", None,
         "ALLOTTED_TIMEOUT"),
        ("{leg_timeout=20}sofia/gateway/trunk/0612345678", None, "ALLOTTED_TIMEOUT"),
        # The group's limit comes first (or at the same time): NO_ANSWER.
        ("{originate_timeout=10,leg_timeout=20}user/1,user/2", None, "NO_ANSWER"),
        ("[leg_timeout=30]user/1,user/2", "30", "NO_ANSWER"),
        ("user/1,user/2", None, "NO_ANSWER"),
        # Only the last group of a failover decides.
        ("[leg_timeout=5]user/1,user/2|user/3,user/4", None, "NO_ANSWER"),
    ],
)  # fmt: skip
def testunanswered_cause_is_the_switch_s(dial, call_timeout, cause):
    call = SimpleCall("2303", "0201234567", variables={})
    if call_timeout:
        call.set_variable("call_timeout", call_timeout)
    assert unanswered_cause(parse_dial_string(dial), call) == cause
