"""Capture 07: the caller puts a bridged call on hold and takes it back.

The caller's phone sends re-INVITE a=sendonly 3 s after the answer and
a=sendrecv 5 s later; the phone's leg hears local_stream://moh meanwhile.
"""

from __future__ import annotations

import json

import capture_compare as cc
import pytest
from capture_compare import Scenario

from simulator.endpoints import Behaviour

CAPTURE = "07-hold"


@pytest.fixture
def scenario(captures_dir):
    with Scenario(captures_dir / CAPTURE) as running:
        yield running


def run_call(scenario: Scenario) -> list[tuple[str, str]]:
    switch = scenario.switch
    recorder = scenario.recorder
    switch.add_phone("1001", behaviour=Behaviour(answer_after=1))
    assert switch.register("1001")
    recorder.clear()
    replies = []
    call = switch.new_inbound_call("0201234567", "3500", caller_name="Capture Caller")
    recorder.wait_event("CHANNEL_BRIDGE", call.uuid)
    switch.clock.sleep(3)
    switch.hold(call.uuid)
    recorder.wait_event("PLAYBACK_START")
    for line in ("show channels as json", "global_getvar hold_music"):
        command, _, args = line.partition(" ")
        replies.append((line, switch.api(command, args)))
    switch.clock.sleep(5)
    switch.unhold(call.uuid)
    replies.append(("show channels as json", switch.api("show", "channels as json")))
    switch.clock.sleep(3)
    switch.remote_hangup(call.uuid)
    scenario.wait_all_destroyed()
    return replies


def test_hold_and_unhold_fire_what_freeswitch_fired(scenario):
    run_call(scenario)
    cc.assert_matches(
        scenario.capture_events(),
        scenario.recorder.pairs(),
        allow=scenario.allowed | set(THREAD_RACE),
    )


# As in capture 03: the phone's leg may reach CS_REPORTING before the
# caller's leg has unbridged.
THREAD_RACE = (
    "value:PRESENCE_IN:Channel-Call-UUID=*",
    "value:CHANNEL_STATE:Channel-Call-UUID=*",
)


def _rows(reply: str) -> list[dict[str, str]]:
    data = json.loads(reply)
    keep = ("direction", "state", "application", "application_data", "callstate")
    return [{k: row[k] for k in keep} for row in data.get("rows", [])]


def test_channel_listing_during_hold(scenario):
    replies = run_call(scenario)
    captured = cc.api_replies(scenario.capture / "transcript.txt")
    assert [r for _, r in replies][1] == "local_stream://moh"
    assert [c for c, _ in captured] == [f"api {c}" for c, _ in replies]
    for (_, mine), (_, theirs) in zip(replies, captured, strict=True):
        if mine.startswith("{"):
            assert _rows(mine) == _rows(theirs)
        else:
            assert mine == theirs
