"""Capture 09: a caller leaves a 4 s voicemail message.

3700 answers, sets skip_greeting and skip_instructions and runs
``voicemail default 127.0.0.1 1001``; the caller's audio starts about 0.45 s
after the beep and the caller hangs up 6 s after the answer, during the
recording. The leg, the MWI events and the xml_curl lookups must be what
FreeSWITCH produced; the message must be in the box afterwards.
"""

from __future__ import annotations

import json

import capture_compare as cc
import pytest

from simulator.apps import Applications, Speech, VoicemailMessage
from simulator.clock import Clock
from simulator.session import Router
from simulator.switch import Switch
from simulator.xmlcurl import StaticFetcher

CAPTURE = "09-voicemail"

ALLOW = {
    # sofia sets these when the caller's ACK arrives; on the capture's
    # loopback it beat the voicemail application by a millisecond, in the
    # simulation the application runs first.
    "missing-variable:CHANNEL_EXECUTE:sip_cseq",
    "missing-variable:CHANNEL_EXECUTE:sip_to_tag",
}


@pytest.fixture
def switch(captures_dir, tmp_path):
    fetcher = StaticFetcher(captures_dir / CAPTURE / "xmlcurl")
    switch = Switch(clock=Clock(speed=10), xml_fetcher=fetcher)
    apps = Applications(switch)
    apps.voicemail.storage = tmp_path
    Router(switch, apps).install()
    switch.apps = apps  # type: ignore[attr-defined]
    yield switch
    switch.stop()
    assert apps.errors == []


def leave_message(switch: Switch, recorder: cc.EventRecorder) -> str:
    # The caller (sipp's g711a.pcap) offers PCMA only, 30 ms packets.
    call = switch.new_inbound_call(
        "0201234567", "3700", caller_name="Capture Caller", codec="PCMA", ptime=30
    )
    # The caller (sipp) sends audio only once it talks, 0.45 s after the beep.
    switch.apps.speech[call.uuid] = Speech(delay=0.45, media_before=False)
    recorder.wait_event("CHANNEL_ANSWER", call.uuid)
    switch.clock.sleep(6.0)
    switch.remote_hangup(call.uuid)
    assert call.wait_destroyed(30)
    return call.uuid


def captured(captures_dir) -> list[list[tuple[str, object]]]:
    return cc.load_capture(captures_dir / CAPTURE / "events.jsonl")


def untimed(events: list[list[tuple[str, object]]]) -> list[list[tuple[str, object]]]:
    """VM-Timestamp is the time of the run (epoch seconds)."""
    return [
        [(k, "<time>" if k == "VM-Timestamp" else v) for k, v in event]
        for event in events
    ]


def test_the_leg_fires_what_freeswitch_fired(switch, captures_dir):
    recorder = cc.EventRecorder(switch.clock)
    switch.add_listener(recorder)
    leave_message(switch, recorder)
    cc.assert_matches(
        untimed(captured(captures_dir)), untimed(recorder.pairs()), allow=ALLOW
    )


def without_volatile(event: list[tuple[str, object]]) -> list[tuple[str, object]]:
    skip = cc.VOLATILE_HEADERS | {"VM-Timestamp"}
    return [(k, v) for k, v in event if k not in skip]


def test_mwi_events_are_as_captured(switch, captures_dir):
    recorder = cc.EventRecorder(switch.clock)
    switch.add_listener(recorder)
    leave_message(switch, recorder)
    want = [e for e in captured(captures_dir)[:35] if cc._get(e, "Unique-ID") is None]
    got = [e for e in recorder.pairs() if cc._get(e, "Unique-ID") is None]
    want = [e for e in want if cc.event_label(e) != "API"]
    got = [e for e in got if cc.event_label(e) != "API"]
    assert [cc.event_label(e) for e in got] == [cc.event_label(e) for e in want]
    assert [without_volatile(e) for e in got] == [without_volatile(e) for e in want]


def test_the_message_is_in_the_box_and_the_api_lists_it(switch, captures_dir):
    recorder = cc.EventRecorder(switch.clock)
    switch.add_listener(recorder)
    seen: list[VoicemailMessage] = []
    switch.apps.voicemail.on_message(seen.append)
    uuid = leave_message(switch, recorder)
    assert len(seen) == 1
    message = seen[0]
    assert message.uuid == uuid
    assert (message.user, message.domain, message.folder) == (
        "1001",
        "127.0.0.1",
        "inbox",
    )
    assert (message.cid_name, message.cid_number) == ("Capture Caller", "0201234567")
    assert message.message_len == 4
    assert message.local_path is not None and message.local_path.stat().st_size > 60000
    assert switch.api("vm_boxcount", "1001@127.0.0.1") == "1"
    listing = switch.api("vm_list", "1001@127.0.0.1")
    fields = listing.rstrip("\n").split(":")
    assert fields[2:5] == ["1001", "127.0.0.1", "inbox"]
    assert fields[6:] == [uuid, "Capture Caller", "0201234567", "4"]
    assert switch.api("vm_delete", f"1001@127.0.0.1 {uuid}") == "+OK\n"
    assert switch.api("vm_boxcount", "1001@127.0.0.1") == "0"
    waiting = [e for e in recorder.events if e.name == "MESSAGE_WAITING"]
    assert [e.get("MWI-Messages-Waiting") for e in waiting] == ["yes", "no"]
    assert [e.get("MWI-Voice-Message") for e in waiting] == ["1/0", "0/0"]


def test_the_lookups_post_the_captured_fields(switch, captures_dir):
    recorder = cc.EventRecorder(switch.clock)
    switch.add_listener(recorder)
    leave_message(switch, recorder)
    lines = (captures_dir / CAPTURE / "xml_curl.jsonl").read_text().splitlines()
    forms = [json.loads(line)["form"] for line in lines]
    # The capture's log also holds the phone's registration before the call.
    wanted = [
        f
        for f in forms
        if f["section"] == "dialplan" or f.get("action") in ("voicemail-lookup",)
    ] + [forms[4]]
    sent = [r.form for r in switch.xml_fetcher.requests]
    assert [name for name, _ in sent[0]] == list(wanted[0])
    assert [name for name, _ in sent[1]] == list(wanted[1])
    assert [name for name, _ in sent[2]] == list(wanted[2])
    for want, got in zip(wanted[1:], sent[1:], strict=True):
        stable = {k: v for k, v in want.items() if k not in cc.VOLATILE_HEADERS}
        assert {k: v for k, v in got if k in stable} == stable
