"""Capture 04: failed bridges with continue_on_fail, then transfer to park.

4a: the phone rings and never answers (leg_timeout=5 -> NO_ANSWER);
4b: the phone answers 486 Busy Here after 0.5 s (USER_BUSY);
4c: 1002 is in the directory but not registered (USER_NOT_REGISTERED, no
B leg). Each caller hangs up 3 s after the park extension answered.
"""

from __future__ import annotations

import capture_compare as cc
import pytest
from capture_compare import Scenario

from simulator.endpoints import Behaviour

CAPTURE = "04-no-answer-fallback"


@pytest.fixture
def scenario(captures_dir):
    with Scenario(captures_dir / CAPTURE) as running:
        yield running


def call_and_hang_up_after_park(scenario: Scenario, did: str) -> None:
    switch = scenario.switch
    call = switch.new_inbound_call("0201234567", did, caller_name="Capture Caller")
    scenario.recorder.wait_event("CHANNEL_PARK", call.uuid, timeout=10)
    switch.clock.sleep(3)
    switch.remote_hangup(call.uuid)
    scenario.wait_all_destroyed()


def run_calls(scenario: Scenario) -> None:
    switch = scenario.switch
    phone = switch.add_phone("1001", behaviour=Behaviour.no_answer())
    assert switch.register("1001")
    scenario.recorder.clear()
    call_and_hang_up_after_park(scenario, "3200")
    phone.behaviour = Behaviour(answer_after=None, reject=486, ring=False)
    call_and_hang_up_after_park(scenario, "3201")
    call_and_hang_up_after_park(scenario, "3202")


def test_each_failed_bridge_fires_what_freeswitch_fired(scenario):
    run_calls(scenario)
    cc.assert_matches(
        scenario.capture_events(), scenario.recorder.pairs(), allow=scenario.allowed
    )


def test_bridge_results_on_the_caller_legs(scenario):
    run_calls(scenario)
    completes = [
        e
        for e in scenario.recorder.events
        if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "bridge"
    ]
    got = [
        (e.get("variable_DIALSTATUS"), e.get("variable_originate_disposition"))
        for e in completes
    ]
    assert got == [
        ("NOANSWER", "NO_ANSWER"),
        ("BUSY", "USER_BUSY"),
        ("USER_NOT_REGISTERED", "USER_NOT_REGISTERED"),
    ]
