"""Hangup causes and their numbers, as FreeSWITCH 1.10.12 has them."""

from __future__ import annotations

import json

import pytest

from simulator.channel import CAUSE_CODES, cause_q850, str2cause
from simulator.clock import Clock
from simulator.endpoints import Behaviour
from simulator.originate import error_cause, originate
from simulator.switch import Switch


@pytest.mark.parametrize(
    ("cause", "number"),
    [
        ("NORMAL_CLEARING", 16),
        ("SUBSCRIBER_ABSENT", 20),
        ("RECOVERY_ON_TIMER_EXPIRE", 102),
        ("INTERWORKING", 127),
        ("ORIGINATOR_CANCEL", 487),
        ("SYSTEM_SHUTDOWN", 701),
        ("LOSE_RACE", 702),
        ("MANAGER_REQUEST", 703),
        ("ALLOTTED_TIMEOUT", 802),
        ("PICKED_OFF", 805),
        ("USER_NOT_REGISTERED", 806),
        ("NO_PICKUP", 812),
        ("REJECT_ALL", 825),
    ],
)
def test_cause_numbers_are_those_of_switch_types_h(cause, number):
    assert CAUSE_CODES[cause] == number


def test_every_number_names_one_cause():
    assert len(set(CAUSE_CODES.values())) == len(CAUSE_CODES)


@pytest.mark.parametrize(
    ("cause", "q850"),
    [
        ("USER_BUSY", 17),
        ("NO_ANSWER", 19),
        ("INTERWORKING", 127),
        # The switch's own causes are reported as NORMAL_CLEARING.
        ("SUCCESS", 16),
        ("ORIGINATOR_CANCEL", 16),
        ("USER_NOT_REGISTERED", 16),
        ("MANAGER_REQUEST", 16),
    ],
)
def test_hangup_cause_q850(cause, q850):
    assert cause_q850(cause) == q850


def test_the_captures_show_the_same_q850_numbers(captures_dir):
    seen = set()
    for path in captures_dir.glob("*/events.jsonl"):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            cause = event.get("variable_hangup_cause")
            q850 = event.get("variable_hangup_cause_q850")
            if cause and q850:
                seen.add((cause, int(q850)))
            term = event.get("variable_sip_term_cause")
            if term and event.get("Hangup-Cause") not in (None, "NONE"):
                if event.get("variable_sip_term_status") != "200":
                    seen.add((event["Hangup-Cause"], int(term)))
    assert {"NORMAL_CLEARING", "NO_ANSWER", "USER_BUSY"} <= {c for c, _ in seen}
    for cause, number in seen:
        assert cause_q850(cause) == number, cause


def test_str2cause_as_the_core_reads_a_cause():
    assert str2cause("805") == "PICKED_OFF"
    assert str2cause(" no_answer ") == "NO_ANSWER"
    assert str2cause("no_such_cause") == "NORMAL_CLEARING"
    assert str2cause("") == "NORMAL_CLEARING"
    assert str2cause("999") == "UNKNOWN"


def test_the_error_endpoint_fails_with_its_cause():
    assert error_cause("no_pickup") == "NO_PICKUP"
    assert error_cause("NONE") == "DESTINATION_OUT_OF_ORDER"
    assert error_cause("bogus") == "NORMAL_CLEARING"
    switch = Switch(clock=Clock(speed=100))
    try:
        assert originate(switch, "error/subscriber_absent").cause == "SUBSCRIBER_ABSENT"
    finally:
        switch.stop()


def test_a_leg_reports_its_cause_and_q850_on_hangup():
    switch = Switch(clock=Clock(speed=100))
    switch.add_gateway("trunk", default=Behaviour(answer_after=0.5))
    try:
        result = originate(switch, "sofia/gateway/trunk/0612345678")
        leg = result.channel
        assert leg is not None
        switch.api("uuid_kill", f"{leg.uuid} 21")
        assert leg.wait_destroyed(10)
        assert leg.get_variable("hangup_cause") == "CALL_REJECTED"
        assert leg.get_variable("hangup_cause_q850") == "21"
        result = originate(switch, "sofia/gateway/trunk/0612345678")
        leg = result.channel
        switch.api("uuid_kill", f"{leg.uuid} manager_request")
        assert leg.wait_destroyed(10)
        assert leg.get_variable("hangup_cause") == "MANAGER_REQUEST"
        assert leg.get_variable("hangup_cause_q850") == "16"
    finally:
        switch.stop()
