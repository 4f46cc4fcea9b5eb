"""Capture 05: a parked call driven over the Event Socket's api commands.

uuid_broadcast, uuid_setvar/getvar, originate ... &park(), uuid_bridge of the
two parked legs, show calls, uuid_transfer out of the bridge (the B leg has
nothing left to run and hangs up), show channels, uuid_kill.
"""

from __future__ import annotations

import json

import capture_compare as cc
import gevent
import pytest
from capture_compare import Scenario

from simulator.endpoints import Behaviour

CAPTURE = "05-park-control"
ORIGINATE = (
    "{origination_caller_id_number=3300,origination_caller_id_name=Park-Control}"
    "user/1001@127.0.0.1 &park()"
)


@pytest.fixture
def scenario(captures_dir):
    with Scenario(captures_dir / CAPTURE) as running:
        yield running


def run_flow(scenario: Scenario) -> list[tuple[str, str]]:
    switch = scenario.switch
    recorder = scenario.recorder
    switch.add_phone("1001", behaviour=Behaviour(answer_after=2))
    assert switch.register("1001")
    recorder.clear()
    replies: list[tuple[str, str]] = []

    def api(line: str) -> str:
        command, _, args = line.partition(" ")
        reply = switch.api(command, args)
        replies.append((f"api {line}", reply))
        return reply

    a = switch.new_inbound_call("0201234567", "3300", caller_name="Capture Caller")
    recorder.wait_event("CHANNEL_PARK", a.uuid)
    api(f"uuid_broadcast {a.uuid} tone_stream://%(1000,0,440) aleg")
    recorder.wait_event("PRIVATE_COMMAND", a.uuid)
    api(f"uuid_setvar {a.uuid} capture_note parked-by-esl")
    api(f"uuid_getvar {a.uuid} capture_note")
    job = gevent.spawn(switch.api, "originate", ORIGINATE)
    parked = recorder.wait(
        lambda e: e.name == "CHANNEL_PARK" and e.get("Unique-ID") != a.uuid
    )
    b_uuid = parked.get("Unique-ID")
    assert switch.clock.wait(job, 30)
    assert job.get() == f"+OK {b_uuid}\n"
    api(f"uuid_bridge {a.uuid} {b_uuid}")
    recorder.wait(
        lambda e: (
            e.name == "CALL_UPDATE"
            and e.get("Unique-ID") == b_uuid
            and e.get("Direction") == "SEND"
        )
    )
    api("show calls as json")
    api(f"uuid_transfer {a.uuid} 3301 XML public")
    recorder.wait(
        lambda e: (
            e.name == "CHANNEL_PARK"
            and e.get("Unique-ID") == a.uuid
            and e.get("Caller-Destination-Number") == "3301"
        )
    )
    api("show channels as json")
    api(f"uuid_kill {a.uuid}")
    scenario.wait_all_destroyed()
    api("show channels as json")
    return replies


def test_both_legs_fire_what_freeswitch_fired(scenario):
    run_flow(scenario)
    cc.assert_matches(
        scenario.capture_events(), scenario.recorder.pairs(), allow=scenario.allowed
    )


def _shape(reply: str) -> object:
    """A JSON reply's keys and run-independent values; text as it is."""
    if not reply.startswith("{"):
        return cc.UUID_RE.sub("<uuid>", reply)
    data = json.loads(reply)
    rows = []
    for row in data.get("rows", []):
        rows.append(
            {
                key: value
                for key, value in row.items()
                if not cc.UUID_RE.search(value)
                and "created" not in key
                and "ip_addr" not in key
                and key not in ("name", "b_name")
            }
        )
    return data["row_count"], rows


def test_api_replies_are_freeswitch_s(scenario):
    replies = run_flow(scenario)
    captured = cc.api_replies(scenario.capture / "transcript.txt")
    assert [_shape(r) for _, r in replies] == [_shape(r) for _, r in captured]
