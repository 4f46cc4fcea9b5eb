"""Capture 02: phone 1001 registers, is listed, fails once, unregisters."""

from __future__ import annotations

import re

import capture_compare as cc
import pytest
from capture_compare import Scenario

from simulator import endpoints
from simulator.endpoints import Phone

CAPTURE = "02-register"
AGENT = "sipp-capture-phone"


@pytest.fixture
def scenario(captures_dir):
    with Scenario(captures_dir / CAPTURE) as running:
        yield running


def run_flow(scenario: Scenario, *, last_lookup: bool = True) -> list[tuple[str, str]]:
    switch = scenario.switch
    replies: list[tuple[str, str]] = []

    def api(line: str) -> None:
        command, _, args = line.partition(" ")
        replies.append((f"api {line}", switch.api(command, args)))

    phone = switch.endpoints.add_phone(Phone("1001", port=5071, user_agent=AGENT))
    api("sofia status profile internal reg")
    assert endpoints.register(switch, phone, call_id="reg1001-1@127.0.0.1")
    api("sofia status profile internal reg")
    api("show registrations as json")
    api("sofia_contact 1001@127.0.0.1")
    api("sofia_contact 1002@127.0.0.1")
    intruder = Phone("1001", port=5075, user_agent=AGENT)
    assert not endpoints.register(switch, intruder, password="not-the-password")
    assert endpoints.unregister(switch, phone)
    api("sofia status profile internal reg")
    if last_lookup:
        # The capture's recording ended before this command's API event.
        api("sofia_contact 1001@127.0.0.1")
    return replies


def test_registration_events_are_freeswitch_s(scenario):
    run_flow(scenario, last_lookup=False)
    report = cc.compare_stream(scenario.capture_events(), scenario.recorder.pairs())
    unexpected = report.unexpected(scenario.allowed)
    assert not unexpected, report.text


def _normalise(reply: str) -> str:
    reply = cc.UUID_RE.sub("<uuid>", reply)
    for pattern, replacement in (
        (r"EXP\([^)]*\) EXPSECS\(\d+\)", "EXP(...) EXPSECS(...)"),
        (r'"expires":"\d+"', '"expires":"..."'),
    ):
        reply = re.sub(pattern, replacement, reply)
    return reply


def test_api_replies_are_freeswitch_s(scenario):
    replies = run_flow(scenario)
    captured = cc.api_replies(scenario.capture / "transcript.txt")
    assert [c for c, _ in replies] == [c for c, _ in captured]
    assert [_normalise(r) for _, r in replies] == [_normalise(r) for _, r in captured]
