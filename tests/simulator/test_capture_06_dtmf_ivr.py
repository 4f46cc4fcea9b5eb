"""Capture 06: DTMF into play_and_get_digits, then DTMF while parked.

The caller dials 3400 (answer, play_and_get_digits with a 300 ms tone
prompt and regex \\d+, set, park), presses 1 2 3 # from 1.5 s after the
answer, 7 and 8 while parked, and hangs up. The leg must fire what
FreeSWITCH fired, with the digits in the variables.
"""

from __future__ import annotations

import capture_compare as cc
import pytest

from simulator.apps import Applications
from simulator.clock import Clock
from simulator.session import Router
from simulator.switch import Switch
from simulator.xmlcurl import StaticFetcher

CAPTURE = "06-dtmf-ivr"

# API events come from the recorder's own uuid_getvar/uuid_dump commands.
ALLOW: set[str] = set()


@pytest.fixture
def switch(captures_dir):
    fetcher = StaticFetcher(captures_dir / CAPTURE / "xmlcurl")
    switch = Switch(clock=Clock(speed=10), xml_fetcher=fetcher)
    apps = Applications(switch)
    Router(switch, apps).install()
    switch.apps = apps  # type: ignore[attr-defined]
    yield switch
    switch.stop()
    assert apps.errors == []


def run_call(switch: Switch, recorder: cc.EventRecorder) -> str:
    call = switch.new_inbound_call("0201234567", "3400", caller_name="Capture Caller")
    recorder.wait_event("CHANNEL_ANSWER", call.uuid)
    switch.clock.sleep(1.5)
    for digit in "123#":
        switch.inject_dtmf(call.uuid, digit, duration_ms=2240)
        switch.clock.sleep(0.5)
    recorder.wait_event("CHANNEL_PARK", call.uuid)
    switch.clock.sleep(4)
    for digit in "78":
        switch.inject_dtmf(call.uuid, digit, duration_ms=2240)
        switch.clock.sleep(0.5)
    switch.clock.sleep(1)
    switch.remote_hangup(call.uuid)
    assert call.wait_destroyed(30)
    return call.uuid


def test_the_leg_fires_what_freeswitch_fired(switch, captures_dir):
    recorder = cc.EventRecorder(switch.clock)
    switch.add_listener(recorder)
    run_call(switch, recorder)
    capture = cc.load_capture(captures_dir / CAPTURE / "events.jsonl")
    cc.assert_matches(capture, recorder.pairs(), allow=ALLOW)


def test_digits_land_in_the_variables(switch):
    recorder = cc.EventRecorder(switch.clock)
    switch.add_listener(recorder)
    uuid = run_call(switch, recorder)
    complete = [
        e
        for e in recorder.events
        if e.name == "CHANNEL_EXECUTE_COMPLETE"
        and e.get("Application") == "play_and_get_digits"
    ]
    assert len(complete) == 1
    event = complete[0]
    assert event.get("Unique-ID") == uuid
    assert event.get("variable_capture_digits") == "123"
    assert event.get("variable_read_terminator_used") == "#"
    assert event.get("variable_read_result") == "success"
    assert event.get("variable_capture_digits_invalid") is None
    executed = [
        e.get("Application-Data")
        for e in recorder.events
        if e.name == "CHANNEL_EXECUTE" and e.get("Application") == "set"
    ]
    assert executed == ["capture_got=123"]


def test_the_dialplan_form_has_the_captured_fields(switch, captures_dir):
    recorder = cc.EventRecorder(switch.clock)
    switch.add_listener(recorder)
    run_call(switch, recorder)
    import json

    captured = [
        json.loads(line)["form"]
        for line in (captures_dir / CAPTURE / "xml_curl.jsonl").read_text().splitlines()
    ]
    sent = [r.form for r in switch.xml_fetcher.requests]
    assert [dict(f)["section"] for f in sent] == [f["section"] for f in captured]
    assert [name for name, _ in sent[0]] == list(captured[0])
