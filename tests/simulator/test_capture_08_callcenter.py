"""Capture 08: mod_callcenter with one queue, one agent and one caller.

The queue capq@default is loaded over the api from the callcenter.conf
xml_curl serves; agent 1001@default (callback, user/1001@127.0.0.1, wrap-up
5 s) and its tier are added over the api. Phone 1001 answers agent calls
after 3 s. A caller dials 3600 (answer, callcenter capq@default, hangup) and
hangs up 8 s after being answered. callcenter_config listings are taken
before, during and after the call, at the capture's moments.

The flow runs once (module fixture); each test compares one aspect with
what FreeSWITCH sent: both legs, the events of no channel, the api replies
and the xml_curl forms.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import capture_compare as cc
import gevent
import pytest

from simulator import callcenter
from simulator.apps import Applications
from simulator.clock import Clock
from simulator.endpoints import Behaviour
from simulator.session import Router
from simulator.switch import Switch
from simulator.xmlcurl import StaticFetcher

CAPTURE = "08-callcenter"
QUEUE = "capq@default"
AGENT = "1001@default"

# When the capture's recorder connected (the transcript's t=0).
START = 1796315109.368687

# The capture switch's own callcenter.conf (FreeSWITCH's vanilla one): the
# module read it at startup, before xml_curl was bound, hence the queue
# support@default in every queue list.
VANILLA_CALLCENTER_CONF = """
<configuration name="callcenter.conf" description="CallCenter">
  <settings/>
  <queues>
    <queue name="support@default">
      <param name="strategy" value="longest-idle-agent"/>
      <param name="moh-sound" value="$${hold_music}"/>
      <param name="time-base-score" value="system"/>
      <param name="max-wait-time" value="0"/>
      <param name="max-wait-time-with-no-agent" value="0"/>
      <param name="max-wait-time-with-no-agent-time-reached" value="5"/>
      <param name="tier-rules-apply" value="false"/>
      <param name="tier-rule-wait-second" value="300"/>
      <param name="tier-rule-wait-multiply-level" value="true"/>
      <param name="tier-rule-no-agent-no-wait" value="false"/>
      <param name="discard-abandoned-after" value="60"/>
      <param name="abandoned-resume-allowed" value="false"/>
    </queue>
  </queues>
  <agents/>
  <tiers/>
</configuration>
"""

LISTINGS = (
    "agent list",
    "queue list",
    "tier list",
    f"queue list agents {QUEUE}",
    f"queue list members {QUEUE}",
    f"queue list tiers {QUEUE}",
    f"queue count members {QUEUE}",
    f"queue count agents {QUEUE}",
)

SETUP = (
    f"queue load {QUEUE}",
    f"agent add {AGENT} callback",
    f"agent set contact {AGENT} user/1001@127.0.0.1",
    f"agent set wrap_up_time {AGENT} 5",
    f"agent set status {AGENT} Available",
    f"agent set state {AGENT} Waiting",
    f"tier add {QUEUE} {AGENT} 1 1",
    f"agent get status {AGENT}",
    f"agent get state {AGENT}",
)

CLEANUP = (
    "agent list",
    f"tier del {QUEUE} {AGENT}",
    f"agent del {AGENT}",
    f"queue unload {QUEUE}",
    "queue list",
)


@dataclass
class Flow:
    """What the simulated switch did and said during the capture's flow."""

    events: list[cc.Pairs]
    replies: list[tuple[str, str]]
    forms: list[list[tuple[str, str]]]
    leg_uuids: list[str] = field(default_factory=list)


def _replay(folder: Path) -> Flow:
    fetcher = StaticFetcher(folder / "xmlcurl")
    switch = Switch(clock=Clock(speed=50, start=START), xml_fetcher=fetcher)
    apps = Applications(switch)
    Router(switch, apps).install()
    callcenter.install(switch, config=VANILLA_CALLCENTER_CONF)
    switch.add_phone("1001", behaviour=Behaviour(answer_after=3))
    assert switch.register("1001")
    recorder = cc.EventRecorder()
    switch.add_listener(recorder)
    sent_before = len(fetcher.requests)
    replies: list[tuple[str, str]] = []
    clock = switch.clock
    began = clock.monotonic()

    def at(offset: float) -> None:
        """Wait until ``offset`` seconds after the start, like the transcript."""
        clock.sleep(began + offset - clock.monotonic())

    def api(args: str) -> None:
        replies.append(
            (f"api callcenter_config {args}", switch.api("callcenter_config", args))
        )

    def action(name: str):  # type: ignore[no-untyped-def]
        return lambda event: event.get("CC-Action") == name

    try:
        for args in SETUP + LISTINGS:
            api(args)
        at(0.128)
        call = switch.new_inbound_call(
            "0201234567", "3600", caller_name="Capture Caller"
        )
        recorder.wait(action("member-queue-start"))
        at(0.430)
        api(f"queue list members {QUEUE}")
        api(f"queue count members {QUEUE}")
        recorder.wait(action("bridge-agent-start"))
        at(3.716)
        for args in LISTINGS:
            api(args)
        at(8.143)
        switch.remote_hangup(call.uuid)
        recorder.wait(action("member-queue-end"))
        at(8.747)
        for args in LISTINGS:
            api(args)
        at(14.750)
        for args in CLEANUP:
            api(args)
        with gevent.Timeout(5, AssertionError("channels left over")):
            while switch.channels:
                next(iter(switch.channels.values())).wait_destroyed()
    finally:
        switch.stop()
    forms = [request.form for request in list(fetcher.requests)[sent_before:]]
    return Flow(recorder.pairs(), replies, forms)


@pytest.fixture(scope="module")
def flow(captures_dir) -> Flow:
    return _replay(captures_dir / CAPTURE)


@pytest.fixture(scope="module")
def captured(captures_dir) -> list[cc.Pairs]:
    return cc.load_capture(captures_dir / CAPTURE / "events.jsonl")


# The agent's leg carries mod_callcenter's own REQUEST_PARAMS event as
# variables (switch_ivr_originate takes it as the leg's variables): its time,
# sequence number and the switch's addresses belong to the run. The
# capture's FreeSWITCH-IPv6 is a sanitised IPv4 literal, not to be copied.
RUN_BOUND_VARIABLES = {
    f"value:*:variable_{name}=*"
    for name in (
        "FreeSWITCH-IPv6",
        "Event-Date-Local",
        "Event-Date-GMT",
        "Event-Date-Timestamp",
        "Event-Sequence",
    )
}


def test_both_legs_fire_what_freeswitch_fired(flow, captured):
    cc.assert_matches(captured, flow.events, allow=cc.ALLOWED | RUN_BOUND_VARIABLES)


def test_the_events_of_no_channel_are_freeswitch_s(flow, captured):
    # The capture begins with the MESSAGE_WAITING of the phone's
    # registration, made before the recording (here before the flow).
    wanted = [e for e in captured if cc.event_label(e) != "MESSAGE_WAITING"]
    report = cc.compare_stream(wanted, flow.events)
    assert not report.differences, report.text


def test_callcenter_events_carry_the_cc_headers_in_order(flow, captured):
    def cc_headers(events: list[cc.Pairs]) -> list[list[tuple[str, object]]]:
        return [
            [(k, v) for k, v in e if k.startswith("CC-")]
            for e in events
            if cc.event_label(e) == "CUSTOM callcenter::info"
        ]

    want, got = cc_headers(captured), cc_headers(flow.events)
    assert [[k for k, _ in e] for e in got] == [[k for k, _ in e] for e in want]
    assert [_stable_cc(e) for e in got] == [_stable_cc(e) for e in want]


def _stable_cc(headers: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """CC headers without times and UUIDs (which depend on the run)."""
    out = []
    for name, value in headers:
        if name.endswith("-Time") or cc.UUID_RE.fullmatch(str(value)):
            value = "<run>"
        out.append((name, value))
    return out


# -- api replies -------------------------------------------------------------


def test_api_replies_are_freeswitch_s(flow, captures_dir):
    # Times included: the clock starts where the capture's did, and virtual
    # time depends on nothing but the flow, so every epoch, score and talk
    # time must be the capture's. Only UUIDs belong to the run.
    captured = cc.api_replies(captures_dir / CAPTURE / "transcript.txt")
    assert [command for command, _ in flow.replies] == [c for c, _ in captured]
    for (command, mine), (_, theirs) in zip(flow.replies, captured, strict=True):
        got, want = cc.UUID_RE.sub("<uuid>", mine), cc.UUID_RE.sub("<uuid>", theirs)
        assert got == want, command


def _rows(reply: str) -> Iterator[dict[str, str]]:
    header, *rows = reply.rstrip("\n").split("\n")[:-1]
    for row in rows:
        yield dict(zip(header.split("|"), row.split("|"), strict=True))


def test_the_listings_keep_time_as_freeswitch_does(flow):
    replies = dict(reversed(flow.replies))
    during = [r for c, r in flow.replies if c.endswith("agent list")][1]
    after = [r for c, r in flow.replies if c.endswith("agent list")][2]
    agent_during = next(_rows(during))
    agent_after = next(_rows(after))
    start = int(agent_during["last_bridge_start"])
    end = int(agent_after["last_bridge_end"])
    assert agent_after["last_bridge_start"] == str(start)
    assert int(agent_after["talk_time"]) == end - start > 0
    assert agent_during["uuid"] and not agent_after["uuid"]
    assert agent_during["state"] == "In a queue call"
    assert agent_after["state"] == "Waiting"
    members = [r for c, r in flow.replies if c.endswith(f"list members {QUEUE}")]
    trying, answered = next(_rows(members[1])), next(_rows(members[2]))
    assert (trying["state"], answered["state"]) == ("Trying", "Answered")
    assert int(answered["bridge_epoch"]) == start
    assert replies[f"api callcenter_config queue count members {QUEUE}"] == "0\n"


# -- xml_curl ------------------------------------------------------------------


def _captured_forms(captures_dir: Path) -> list[dict[str, str]]:
    lines = (captures_dir / CAPTURE / "xml_curl.jsonl").read_text().splitlines()
    return [json.loads(line)["form"] for line in lines]


def _stable(form: dict[str, str]) -> dict[str, str]:
    run_bound = cc.VOLATILE_HEADERS | {"Event-Sequence"}
    return {
        k: v
        for k, v in form.items()
        if k not in run_bound and not cc.UUID_RE.search(v) and "epoch" not in k
    }


def test_the_queue_load_posts_the_configuration_form(flow, captures_dir):
    want = next(
        f for f in _captured_forms(captures_dir) if f["section"] == "configuration"
    )
    got = [dict(f) for f in flow.forms if dict(f)["section"] == "configuration"]
    assert len(got) == 1
    assert list(got[0]) == list(want)
    assert _stable(got[0]) == _stable(want)


def test_the_agent_call_posts_the_user_call_form(flow, captures_dir):
    want = next(
        f for f in _captured_forms(captures_dir) if f.get("action") == "user_call"
    )
    got = next(dict(f) for f in flow.forms if dict(f).get("action") == "user_call")
    assert list(got) == list(want)
    assert _stable(got) == _stable(want)
