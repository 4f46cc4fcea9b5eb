"""execute_on_* / api_on_*: applications and api commands a channel runs
when it rings, gets media or is answered (switch_channel_execute_on)."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import pytest

from simulator.channel import _split_hook
from simulator.scenario import Simulation
from simulator.xmlcurl import StaticFetcher

MOBILE = "+31612222222"


def simulation(actions: list[tuple[str, str]]) -> Simulation:
    rows = "".join(
        f"<action application={quoteattr(app)} data={quoteattr(data)}/>"
        for app, data in actions
    )
    dialplan = (
        '<document type="freeswitch/xml"><section name="dialplan">'
        '<context name="public"><extension name="out"><condition '
        f'field="destination_number" expression="^1$">{rows}</condition>'
        "</extension></context></section></document>"
    )
    fetcher = StaticFetcher(documents={"dialplan.public.xml": dialplan})
    return Simulation(fetcher, speed=50)


def names(call, uuid=None):
    records = call.sim.log.records
    uuid = uuid or call.uuid
    return [
        r.name + (f" {r.get('Application')}" if r.get("Application") else "")
        for r in records
        if r.get("Unique-ID") == uuid
    ]


@pytest.mark.parametrize(
    ("value", "split"),
    [
        ("sched_hangup +30 ALLOTTED_TIMEOUT", ("sched_hangup", "+30 ALLOTTED_TIMEOUT")),
        ("set:a=b", ("set", "a=b")),
        (
            "playback::tone_stream://%(100,0,440)",
            ("playback", "tone_stream://%(100,0,440)"),
        ),
        ("answer", ("answer", "")),
    ],
)
def test_a_hook_value_names_an_application_and_its_args(value, split):
    app, arg, queued = _split_hook(value)
    assert (app, arg) == split
    assert queued == ("::" in value)


def test_a_longest_call_limit_armed_on_answer_ends_the_call():
    actions = [
        ("set", "execute_on_answer=sched_hangup +10 ALLOTTED_TIMEOUT"),
        ("bridge", f"sofia/gateway/trunk/{MOBILE}"),
    ]
    with simulation(actions) as sim:
        sim.mobile("mobile", MOBILE, answers_after=2)
        call = sim.dial("0201234567", "1")
        call.expect_answered_by("mobile", within=10)
        hangup = call.expect_hangup(cause="ALLOTTED_TIMEOUT", within=30)
        answer = call.events("CHANNEL_ANSWER")[0]
        assert hangup.at - answer.at == 10
        sequence = names(call)
        at = sequence.index("CHANNEL_ANSWER")
        assert sequence[at + 1 : at + 3] == [
            "CHANNEL_EXECUTE sched_hangup",
            "CHANNEL_EXECUTE_COMPLETE sched_hangup",
        ]
        assert sequence.index("CHANNEL_BRIDGE") > at


def test_numbered_hooks_on_the_b_leg_run_in_order():
    dial = (
        # \${...}: expanded when the hook runs, on the B leg, not by bridge.
        "{execute_on_answer_1='set first=\\${destination_number}',"
        "execute_on_answer_2=set second=yes,"
        "api_on_answer='uuid_setvar \\${originating_leg_uuid} b_answered yes'}"
        f"sofia/gateway/trunk/{MOBILE}"
    )
    with simulation([("bridge", dial)]) as sim:
        mobile = sim.mobile("mobile", MOBILE, answers_after=1)
        call = sim.dial("0201234567", "1")
        leg = call.expect_answered_by(mobile, within=10)
        assert leg.get_variable("first") == MOBILE
        assert leg.get_variable("second") == "yes"
        assert call.variable("b_answered") == "yes"
        executed = [
            n for n in names(call, leg.uuid) if n.startswith("CHANNEL_EXECUTE ")
        ]
        assert executed[:2] == ["CHANNEL_EXECUTE set", "CHANNEL_EXECUTE set"]
        api = [r for r in sim.events("API") if r.get("API-Command") == "uuid_setvar"]
        assert api[0].get("API-Command-Argument") == f"{call.uuid} b_answered yes"
        call.hangup()


def test_a_queued_hook_runs_when_the_leg_next_waits():
    dial = f"{{execute_on_answer=sched_hangup::+5}}sofia/gateway/trunk/{MOBILE}"
    with simulation([("bridge", dial)]) as sim:
        mobile = sim.mobile("mobile", MOBILE, answers_after=1)
        call = sim.dial("0201234567", "1")
        leg = call.expect_answered_by(mobile, within=10)
        hangup = call.expect_hangup(within=30)
        answered = call.events("CHANNEL_ANSWER")[0].at
        assert hangup.at - answered == 5
        private = [
            r for r in sim.events("PRIVATE_COMMAND") if r.get("Unique-ID") == leg.uuid
        ]
        assert private[0].get("execute-app-name") == "sched_hangup"
        assert leg.hangup_cause == "ALLOTTED_TIMEOUT"


def test_ring_hooks_run_when_the_leg_rings():
    dial = (
        "{execute_on_ring=set rang=yes,"
        "api_on_ring='uuid_setvar \\${originating_leg_uuid} b_rang yes'}"
        f"sofia/gateway/trunk/{MOBILE}"
    )
    with simulation([("bridge", dial)]) as sim:
        mobile = sim.mobile("mobile", MOBILE, answers=False)
        call = sim.dial("0201234567", "1")
        call.expect_variable("b_rang", "yes", within=10)
        leg = next(c for c in sim.legs.values() if mobile.owns(c))
        assert leg.get_variable("rang") == "yes"
        sequence = names(call, leg.uuid)
        at = sequence.index("CHANNEL_PROGRESS")
        assert sequence[at + 1] == "CHANNEL_EXECUTE set"
        call.hangup()


def test_media_hooks_run_once_at_pre_answer():
    actions = [
        ("set", "media_count=once"),
        ("set", "execute_on_media=set media=${media_count}"),
        ("answer", ""),
        ("hangup", ""),
    ]
    with simulation(actions) as sim:
        call = sim.dial("0201234567", "1")
        call.expect_hangup(within=10)
        executed = [n for n in names(call) if n == "CHANNEL_EXECUTE set"]
        assert len(executed) == 3  # two from the dialplan, one hook
        assert call.variable("media") == "once"
