"""The simulated mod_callcenter: api replies, strategies, abandons, limits.

A switch with three queues in its callcenter.conf (served over xml_curl),
phones 2001-2003 and a public context that puts callers in a queue. The
behaviour expected is mod_callcenter's (FreeSWITCH 1.10.12); capture 08 is
checked separately (test_capture_08_callcenter.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import capture_compare as cc
import pytest

from simulator import callcenter
from simulator.apps import Applications
from simulator.callcenter import separate_blank
from simulator.channel import Channel
from simulator.clock import Clock
from simulator.endpoints import Behaviour
from simulator.session import Router
from simulator.switch import Switch
from simulator.xmlcurl import StaticFetcher

QUEUE_PARAMS = """
  <param name="strategy" value="{strategy}"/>
  <param name="moh-sound" value="$${{hold_music}}"/>
  <param name="time-base-score" value="system"/>
  <param name="max-wait-time" value="{max_wait}"/>
  <param name="max-wait-time-with-no-agent" value="{no_agent}"/>
  <param name="max-wait-time-with-no-agent-time-reached" value="1"/>
  <param name="tier-rules-apply" value="{tier_rules}"/>
  <param name="tier-rule-wait-second" value="3"/>
  <param name="tier-rule-wait-multiply-level" value="{multiply}"/>
  <param name="tier-rule-no-agent-no-wait" value="false"/>
  <param name="discard-abandoned-after" value="30"/>
"""


def queue(
    name: str,
    strategy: str = "longest-idle-agent",
    max_wait: int = 0,
    no_agent: int = 0,
    tier_rules: str = "false",
) -> str:
    params = QUEUE_PARAMS.format(
        strategy=strategy,
        max_wait=max_wait,
        no_agent=no_agent,
        tier_rules=tier_rules,
        multiply=tier_rules,
    )
    return f'<queue name="{name}@default">{params}</queue>'


CONFIG = f"""<document type="freeswitch/xml"><section name="configuration">
<configuration name="callcenter.conf" description="test">
  <settings/>
  <queues>
    {queue("sales")}
    {queue("ring", strategy="ring-all")}
    {queue("order", strategy="sequentially-by-agent-order")}
    {queue("patience", max_wait=3)}
    {queue("empty", no_agent=2)}
    {queue("tiers", tier_rules="true")}
    <queue name="news@default">
      <param name="moh-sound" value="$${{hold_music}}"/>
      <param name="announce-sound" value="tone_stream://%(500,0,440)"/>
      <param name="announce-frequency" value="2"/>
    </queue>
    <queue name="again@default">
      <param name="abandoned-resume-allowed" value="true"/>
    </queue>
    <queue name="odd@default">
      <param name="max-wait-time" value="soon"/>
      <param name="discard-abandoned-after" value="99999"/>
      <param name="tier-rules-apply" value="maybe"/>
      <param name="agent-no-answer-status" value="Asleep"/>
    </queue>
  </queues>
  <agents>
    <agent name="conf@default" type="callback" contact="user/2003@127.0.0.1"
           status="Available" wrap-up-time="7" max-no-answer="2"/>
  </agents>
  <tiers>
    <tier agent="conf@default" queue="order@default" level="2" position="3"/>
  </tiers>
</configuration></section></document>"""

DIALPLAN = """<document type="freeswitch/xml"><section name="dialplan">
<context name="public">
  <extension name="queue">
    <condition field="destination_number" expression="^q-(\\w+)$">
      <action application="answer"/>
      <action application="callcenter" data="$1@default"/>
      <action application="playback" data="tone_stream://%(100,0,440)"/>
      <action application="hangup"/>
    </condition>
  </extension>
  <extension name="queue-with-exit-key">
    <condition field="destination_number" expression="^x-(\\w+)$">
      <action application="answer"/>
      <action application="set" data="cc_exit_keys=#"/>
      <action application="callcenter" data="$1@default"/>
      <action application="hangup"/>
    </condition>
  </extension>
  <extension name="standby">
    <condition field="destination_number" expression="^park-me$">
      <action application="answer"/>
      <action application="park"/>
    </condition>
  </extension>
  <extension name="tracked">
    <condition field="destination_number" expression="^t-(\\d+)$">
      <action application="answer"/>
      <action application="callcenter_track" data="$1@default"/>
      <action application="park"/>
    </condition>
  </extension>
</context></section></document>"""

USERS = "".join(
    f"""<user id="{user}"><params><param name="password" value="pw{user}"/></params>
    <variables><variable name="user_context" value="default"/></variables></user>"""
    for user in ("2001", "2002", "2003")
)
# The capture's dial-string: the contact of the user's registration.
DIAL_STRING = (
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@"
    "${dialed_domain}}${sofia_contact(*/${dialed_user}@${dialed_domain})}"
)
DIRECTORY = f"""<document type="freeswitch/xml"><section name="directory">
<domain name="127.0.0.1"><params><param name="dial-string" value="{DIAL_STRING}"/>
</params>{USERS}</domain></section></document>"""


@dataclass
class Desk:
    """A switch with mod_callcenter, its phones and its event log."""

    switch: Switch
    fetcher: StaticFetcher
    events: cc.EventRecorder
    module: callcenter.CallCenter

    def api(self, args: str) -> str:
        return self.switch.api("callcenter_config", args)

    def ok(self, *lines: str) -> None:
        for line in lines:
            assert self.api(line) == "+OK\n", line

    def agent(self, user: str, *, contact: str | None = None, **fields: Any) -> str:
        """Agent <user>@default, Available and Waiting."""
        name = f"{user}@default"
        self.ok(
            f"agent add {name} callback",
            f"agent set contact {name} {contact or f'user/{user}@127.0.0.1'}",
        )
        for key, value in fields.items():
            self.ok(f"agent set {key} {name} {value}")
        self.ok(f"agent set status {name} Available", f"agent set state {name} Waiting")
        return name

    def phone(self, user: str, **behaviour: Any) -> None:
        self.switch.add_phone(user, behaviour=Behaviour(**behaviour))
        assert self.switch.register(user)

    def call(self, destination: str, number: str = "0201234567") -> Channel:
        return self.switch.new_inbound_call(number, destination, caller_name="Caller")

    def wait(self, test: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        return self.events.wait(test, timeout)

    def action(self, name: str, **headers: str) -> Any:
        """The first callcenter::info event with that CC-Action (and headers)."""

        def test(event: Any) -> bool:
            if event.get("CC-Action") != name:
                return False
            return all(event.get(k.replace("_", "-")) == v for k, v in headers.items())

        return self.wait(test)

    def actions(self, name: str) -> list[Any]:
        return [e for e in self.events.events if e.get("CC-Action") == name]

    def row(self, listing: str, name: str) -> dict[str, str]:
        return next(r for r in rows(self.api(listing)) if name in r.values())

    def sleep(self, seconds: float) -> None:
        self.switch.clock.sleep(seconds)


def rows(reply: str) -> Iterator[dict[str, str]]:
    lines = reply.rstrip("\n").split("\n")
    assert lines[-1] == "+OK"
    if len(lines) == 1:
        return
    header = lines[0].split("|")
    for line in lines[1:-1]:
        yield dict(zip(header, line.split("|"), strict=True))


@pytest.fixture
def desk() -> Iterator[Desk]:
    fetcher = StaticFetcher(
        documents={
            "configuration.callcenter.conf.xml": CONFIG,
            "dialplan.public.xml": DIALPLAN,
            "directory.xml": DIRECTORY,
        }
    )
    switch = Switch(clock=Clock(speed=50), xml_fetcher=fetcher)
    Router(switch, Applications(switch)).install()
    recorder = cc.EventRecorder()
    switch.add_listener(recorder)
    module = callcenter.install(switch)
    try:
        yield Desk(switch, fetcher, recorder, module)
    finally:
        switch.stop()


# -- the api ---------------------------------------------------------------


def test_the_module_loads_every_queue_agent_and_tier_of_its_configuration(desk):
    queues = [r["name"] for r in rows(desk.api("queue list"))]
    assert queues == [
        f"{q}@default"
        for q in (
            "sales", "ring", "order", "patience", "empty", "tiers", "news", "again",
            "odd",
        )
    ]  # fmt: skip
    assert desk.api("queue count") == "9\n"
    agent = desk.row("agent list", "conf@default")
    assert (agent["status"], agent["state"], agent["wrap_up_time"]) == (
        "Available",
        "Waiting",
        "7",
    )
    assert agent["contact"] == "user/2003@127.0.0.1"
    assert desk.row("tier list", "conf@default") == {
        "queue": "order@default",
        "agent": "conf@default",
        "state": "Ready",
        "level": "2",
        "position": "3",
    }
    # At load time the module asked for callcenter.conf without parameters.
    first = list(desk.fetcher.requests)[0].form
    assert [name for name, _ in first] == [
        "hostname",
        "section",
        "tag_name",
        "key_name",
        "key_value",
    ]


def test_bad_queue_params_fall_back_to_mod_callcenter_s_defaults(desk):
    odd = desk.row("queue list", "odd@default")
    assert odd["max_wait_time"] == "0"
    assert odd["discard_abandoned_after"] == "60"
    assert odd["tier_rules_apply"] == "false"
    assert odd["agent_no_answer_status"] == "On Break"
    assert odd["strategy"] == "longest-idle-agent"
    assert odd["moh_sound"] == "" and odd["record_template"] == ""


def test_empty_lists_are_just_ok(desk):
    desk.ok("agent del conf@default")
    for listing in (
        "agent list",
        "tier list",
        "queue list agents sales@default",
        "queue list members sales@default",
        "queue list tiers sales@default",
    ):
        assert desk.api(listing) == "+OK\n", listing
    assert desk.api("queue count members sales@default") == "0\n"
    assert desk.api("queue count agents sales@default") == "0\n"


@pytest.mark.parametrize(
    ("setup", "command", "reply"),
    [
        ((), "agent", "-ERR Invalid!\n"),
        ((), "agent add a@default", "-ERR Invalid!\n"),
        ((), "agent add a@default robot", "-ERR Agent type invalid!\n"),
        (("agent add a@default callback",), "agent add a@default callback",
         "-ERR Agent already exist!\n"),
        ((), "agent set status nobody@default Available", "-ERR Agent not found!\n"),
        (("agent add a@default callback",), "agent set status a@default Asleep",
         "-ERR Invalid Agent Status!\n"),
        (("agent add a@default callback",), "agent set state a@default Dancing",
         "-ERR Invalid Agent State!\n"),
        (("agent add a@default callback",), "agent set type a@default robot",
         "-ERR Invalid Agent Type!\n"),
        (("agent add a@default callback",), "agent set colour a@default red",
         "-ERR Invalid Agent Update KEY!\n"),
        (("agent add a@default callback",), "agent get colour a@default",
         "-ERR Invalid Agent Update KEY!\n"),
        ((), "agent get status nobody@default", "-ERR Agent not found!\n"),
        ((), "agent list a b", "-ERR Invalid!\n"),
        ((), "tier add nosuch@default conf@default", "-ERR Queue not found!\n"),
        ((), "tier add sales@default nobody@default", "-ERR Agent not found!\n"),
        (("tier add sales@default conf@default",),
         "tier add sales@default conf@default", "-ERR Tier already exist!\n"),
        (("tier add sales@default conf@default",),
         "tier set state sales@default conf@default Sleeping",
         "-ERR Invalid Tier State!\n"),
        (("tier add sales@default conf@default",),
         "tier set colour sales@default conf@default red",
         "-ERR Invalid Tier Update KEY!\n"),
        ((), "tier set level sales@default conf@default 2", "-ERR Unknown Error!\n"),
        ((), "tier set level sales", "-ERR Invalid!\n"),
        ((), "queue load nosuch@default", "-ERR Invalid Queue not found!\n"),
        ((), "queue list colours sales@default", "-ERR Invalid!\n"),
        ((), "queue count colours sales@default", "-ERR Invalid!\n"),
        ((), "tier reload nosuch@default", "-ERR Unknown Error!\n"),
        ((), "agent get status", "-ERR Invalid!\n"),
    ],
)  # fmt: skip
def test_refusals_are_freeswitch_s(desk, setup, command, reply):
    desk.ok(*setup)
    assert desk.api(command) == reply


def test_no_arguments_prints_the_usage(desk):
    usage = desk.api("")
    assert usage.startswith("-USAGE: \ncallcenter_config <target> <args>,\n")
    assert usage.endswith("\tcallcenter_config queue count tiers [queue_name]\n")
    assert desk.api("agent bogus x") == ""


def test_a_quoted_status_with_a_space_is_one_argument(desk):
    desk.ok("agent add a@default callback", "agent set status a@default 'On Break'")
    assert desk.api("agent get status a@default") == "On Break"
    desk.ok('agent set status a@default "Logged Out"'.replace('"', "'"))
    assert desk.row("agent list", "a@default")["status"] == "Logged Out"


def test_agent_changes_fire_callcenter_events(desk):
    desk.events.clear()
    desk.agent("2001")
    desk.api("agent get state 2001@default")
    got = [
        [(k, v) for k, v in event.headers if k.startswith("CC-")]
        for event in desk.events.events
        if event.name == "CUSTOM"
    ]
    assert got == [
        [("CC-Agent", "2001@default"), ("CC-Agent-Type", "callback"),
         ("CC-Action", "agent-add")],
        [("CC-Agent", "2001@default"), ("CC-Action", "agent-contact-change"),
         ("CC-Agent-Contact", "user/2001@127.0.0.1")],
        [("CC-Agent", "2001@default"), ("CC-Action", "agent-status-change"),
         ("CC-Agent-Status", "Available")],
        [("CC-Agent", "2001@default"), ("CC-Action", "agent-state-change"),
         ("CC-Agent-State", "Waiting")],
        [("CC-Agent", "2001@default"), ("CC-Action", "agent-state-get"),
         ("CC-Agent-State", "Waiting")],
    ]  # fmt: skip
    # Each event comes before the API event of its command.
    names = [e.name for e in desk.events.events]
    assert names[:2] == ["CUSTOM", "API"]


def test_a_status_change_to_available_resets_the_counters_once(desk):
    name = desk.agent("2001")
    changed = desk.row("agent list", name)["last_status_change"]
    desk.sleep(2)
    desk.ok(f"agent set status {name} Available")
    assert desk.row("agent list", name)["last_status_change"] == changed
    desk.ok(f"agent set status {name} 'On Break'")
    assert int(desk.row("agent list", name)["last_status_change"]) > int(changed)


def test_agent_and_tier_reload_read_the_configuration_again(desk):
    desk.ok(
        "agent set wrap_up_time conf@default 1", "tier del order@default conf@default"
    )
    desk.ok("agent reload conf@default", "tier reload order@default")
    assert desk.row("agent list", "conf@default")["wrap_up_time"] == "7"
    assert desk.row("tier list", "conf@default")["position"] == "3"


def test_queue_unload_reload_and_load_on_first_use(desk):
    desk.ok("queue unload sales@default")
    assert "sales@default" not in desk.api("queue list")
    before = len(desk.fetcher.requests)
    desk.agent("2001")
    desk.ok("tier add sales@default 2001@default")
    # The tier needed the queue: it was looked up with CC-Queue and loaded.
    form = dict(list(desk.fetcher.requests)[before].form)
    assert form["CC-Queue"] == "sales@default"
    assert form["Event-Calling-Function"] == "load_queue"
    assert "sales@default" in desk.api("queue list")
    desk.ok("queue reload sales@default")
    assert desk.row("queue list", "sales@default")["calls_answered"] == "0"


# -- calls ---------------------------------------------------------------------


def test_the_longest_idle_agent_takes_the_next_caller(desk):
    desk.phone("2001", answer_after=1)
    desk.phone("2002", answer_after=1)
    first, second = desk.agent("2001"), desk.agent("2002")
    desk.ok(
        f"tier add sales@default {first} 1 1", f"tier add sales@default {second} 1 2"
    )
    call = desk.call("q-sales")
    start = desk.action("bridge-agent-start")
    assert start.get("CC-Agent") == first
    desk.sleep(2)
    desk.switch.remote_hangup(call.uuid)
    desk.action("member-queue-end")
    desk.wait(
        lambda e: e.get("CC-Agent-State") == "Waiting" and e.get("CC-Agent") == first
    )
    desk.events.clear()
    desk.call("q-sales")
    # 2001 took the last call; 2002 has been idle longer.
    assert desk.action("bridge-agent-start").get("CC-Agent") == second


def test_the_caller_hears_music_and_runs_on_after_the_agent_hangs_up(desk):
    desk.phone("2001", answer_after=1)
    name = desk.agent("2001")
    desk.ok(f"tier add sales@default {name}")
    call = desk.call("q-sales")
    desk.wait(lambda e: e.name == "PLAYBACK_START" and e.get("Unique-ID") == call.uuid)
    start = desk.action("bridge-agent-start")
    desk.sleep(1)
    desk.switch.remote_hangup(start.get("CC-Agent-UUID"))
    end = desk.action("member-queue-end")
    assert end.get("CC-Cause") == "Terminated"
    assert end.get("Unique-ID") == call.uuid
    assert call.wait_destroyed(10)
    assert call.get_variable("cc_cause") == "answered"
    assert call.get_variable("cc_agent") == name
    assert desk.row("queue list", "sales@default")["calls_answered"] == "1"


def test_ring_all_rings_every_agent_and_the_first_to_answer_takes_the_call(desk):
    desk.phone("2001", answer_after=3)
    desk.phone("2002", answer_after=1)
    slow, fast = desk.agent("2001"), desk.agent("2002")
    desk.ok(f"tier add ring@default {slow}", f"tier add ring@default {fast}")
    call = desk.call("q-ring")
    offered = {
        desk.action("agent-offering", CC_Agent=a).get("CC-Agent") for a in (slow, fast)
    }
    assert offered == {slow, fast}
    assert desk.action("bridge-agent-start").get("CC-Agent") == fast
    fail = desk.action("bridge-agent-fail")
    assert (fail.get("CC-Agent"), fail.get("CC-Hangup-Cause")) == (slow, "LOSE_RACE")
    desk.wait(lambda e: e.get("CC-Agent-State") == "In a queue call")
    member = desk.row("queue list members ring@default", call.uuid)
    assert (member["state"], member["serving_agent"]) == ("Answered", fast)
    # Losing the race costs the agent nothing.
    desk.wait(
        lambda e: e.get("CC-Agent-State") == "Waiting" and e.get("CC-Agent") == slow
    )
    assert desk.row("agent list", slow)["ready_time"] == "0"


def test_sequentially_by_agent_order_follows_the_tier_positions(desk):
    desk.phone("2001", answer_after=1)
    desk.phone("2002", answer_after=1)
    late, early = desk.agent("2001"), desk.agent("2002")
    desk.ok(f"tier add order@default {late} 1 5", f"tier add order@default {early} 1 2")
    desk.call("q-order")
    assert desk.action("bridge-agent-start").get("CC-Agent") == early


def test_a_caller_who_hangs_up_while_waiting_abandons(desk):
    call = desk.call("q-sales")
    start = desk.action("member-queue-start")
    desk.sleep(1)
    desk.switch.remote_hangup(call.uuid)
    end = desk.action("member-queue-end")
    assert [
        (k, v) for k, v in end.headers if k in ("CC-Cause", "CC-Cancel-Reason")
    ] == [
        ("CC-Cause", "Cancel"),
        ("CC-Cancel-Reason", "BREAK_OUT"),
    ]
    assert end.get("CC-Member-UUID") == start.get("CC-Member-UUID")
    counts = [e.get("CC-Count") for e in desk.actions("members-count")]
    assert counts == ["1", "0"]
    presence = [
        e.get("force-status")
        for e in desk.events.events
        if e.name == "PRESENCE_IN" and e.get("proto") == "callcenter"
    ]
    assert presence == ["Active (1 waiting)", "Idle"]
    member = desk.row("queue list members sales@default", start.get("CC-Member-UUID"))
    assert (member["state"], member["session_uuid"]) == ("Abandoned", "")
    assert member["abandoned_epoch"] != "0"
    assert desk.row("queue list", "sales@default")["calls_abandoned"] == "1"
    # An abandoned member is kept until discard-abandoned-after has passed.
    assert desk.api("queue count members sales@default") == "1\n"
    desk.sleep(32)
    assert desk.api("queue list members sales@default") == "+OK\n"


def test_a_caller_who_calls_back_resumes_the_abandoned_place(desk):
    first = desk.call("q-again")
    start = desk.action("member-queue-start")
    desk.sleep(2)
    desk.switch.remote_hangup(first.uuid)
    desk.action("member-queue-end")
    desk.events.clear()
    again = desk.call("q-again")
    resume = desk.action("member-queue-resume")
    assert resume.get("CC-Member-UUID") == start.get("CC-Member-UUID")
    member = desk.row("queue list members again@default", again.uuid)
    assert member["state"] == "Waiting" and member["rejoined_epoch"] != "0"
    assert desk.api("queue count members again@default") == "1\n"


def test_a_caller_who_hangs_up_while_the_agent_rings_cancels_the_agent(desk):
    desk.phone("2001", answer_after=None)
    name = desk.agent("2001", busy_delay_time=9)
    desk.ok(f"tier add sales@default {name}")
    call = desk.call("q-sales")
    desk.wait(
        lambda e: e.name == "CHANNEL_PROGRESS" and "2001" in str(e.get("Channel-Name"))
    )
    desk.switch.remote_hangup(call.uuid)
    fail = desk.action("bridge-agent-fail")
    assert fail.get("CC-Hangup-Cause") == "ORIGINATOR_CANCEL"
    desk.wait(lambda e: e.get("CC-Agent-State") == "Waiting")
    agent = desk.row("agent list", name)
    assert (agent["ready_time"], agent["no_answer_count"]) == ("0", "0")
    assert desk.row("tier list", name)["state"] == "Ready"


def test_an_agent_who_does_not_answer_rests_and_goes_on_break(desk):
    desk.phone("2001", answer_after=None)
    name = desk.agent(
        "2001",
        contact="[leg_timeout=2]user/2001@127.0.0.1",
        no_answer_delay_time=20,
        max_no_answer=1,
    )
    desk.ok(f"tier add sales@default {name}")
    desk.call("q-sales")
    fail = desk.action("bridge-agent-fail")
    assert fail.get("CC-Hangup-Cause") == "NO_ANSWER"
    limit = desk.action("agent-max-no-answer")
    assert limit.get("CC-Agent-No-Answer-Status") == "On Break"
    desk.wait(lambda e: e.get("CC-Agent-State") == "Waiting")
    agent = desk.row("agent list", name)
    assert (agent["status"], agent["no_answer_count"]) == ("On Break", "1")
    assert int(agent["ready_time"]) >= int(fail.get("CC-Agent-Aborted-Time")) + 20
    assert desk.row("tier list", name)["state"] == "No Answer"


def test_wrap_up_time_keeps_the_agent_from_the_next_caller(desk):
    desk.phone("2001", answer_after=1)
    name = desk.agent("2001", wrap_up_time=5)
    desk.ok(f"tier add sales@default {name}")
    first = desk.call("q-sales")
    desk.action("bridge-agent-start")
    desk.call("q-sales", number="0207654321")
    desk.sleep(1)
    desk.switch.remote_hangup(first.uuid)
    end = desk.action("bridge-agent-end")
    ended = int(desk.row("agent list", name)["last_bridge_end"])
    assert ended == int(end.get("CC-Bridge-Terminated-Time"))
    second = desk.wait(
        lambda e: (
            e.get("CC-Action") == "agent-offering"
            and e.get("CC-Member-CID-Number") == "0207654321"
        ),
        timeout=20,
    )
    called = int(second.get("Event-Date-Timestamp")) // 1_000_000
    assert called > ended + 5


def test_an_exit_key_takes_the_caller_out_of_the_queue(desk):
    call = desk.call("x-sales")
    desk.action("member-queue-start")
    desk.switch.inject_dtmf(call.uuid, "5")
    desk.switch.inject_dtmf(call.uuid, "#")
    end = desk.action("member-queue-end")
    assert end.get("CC-Cancel-Reason") == "EXIT_WITH_KEY"
    assert call.get_variable("cc_exit_key") == "#"
    assert call.get_variable("cc_cause") == "cancel"


def test_max_wait_time_breaks_the_caller_out_and_the_dialplan_runs_on(desk):
    call = desk.call("q-patience")
    start = desk.action("member-queue-start")
    end = desk.action("member-queue-end")
    assert end.get("CC-Cancel-Reason") == "TIMEOUT"
    waited = int(end.get("CC-Member-Leaving-Time")) - int(
        end.get("CC-Member-Joined-Time")
    )
    assert waited >= 3
    assert end.get("Unique-ID") == start.get("Unique-ID")
    desk.wait(
        lambda e: (
            e.name == "PLAYBACK_START"
            and e.get("Unique-ID") == call.uuid
            and "tone_stream" in str(e.get("Playback-File-Path"))
        )
    )


def test_a_queue_without_agents_lets_the_caller_go(desk):
    desk.call("q-empty")
    end = desk.action("member-queue-end")
    assert end.get("CC-Cancel-Reason") == "NO_AGENT_TIMEOUT"


def test_announcements_are_displaced_into_the_music_every_few_seconds(desk):
    call = desk.call("q-news")
    start = desk.action("member-queue-start")
    desk.sleep(5)
    desk.switch.remote_hangup(call.uuid)
    assert call.wait_destroyed(10)
    bugs = [
        e
        for e in desk.events.events
        if e.name.startswith("MEDIA_BUG") and e.get("Unique-ID") == call.uuid
    ]
    assert [e.name for e in bugs] == ["MEDIA_BUG_START", "MEDIA_BUG_STOP"] * 2
    assert {e.get("Media-Bug-Function") for e in bugs} == {"displace"}
    assert {e.get("Media-Bug-Target") for e in bugs} == {"tone_stream://%(500,0,440)"}
    # mod_callcenter counts in whole epoch seconds, polling every 0.5 s:
    # an announcement starts in the second two after the last one (the
    # first: two after the caller joined) and lasts its file's 0.5 s.
    second = [int(e.get("Event-Date-Timestamp")) // 1_000_000 for e in bugs]
    joined = int(start.get("Event-Date-Timestamp")) // 1_000_000
    assert (second[0] - joined, second[2] - second[0]) == (2, 2)
    micros = [int(e.get("Event-Date-Timestamp")) for e in bugs]
    assert micros[1] - micros[0] == micros[3] - micros[2] == 500_000


def test_tier_rules_hold_the_next_level_back(desk):
    desk.phone("2002", answer_after=1)
    away = desk.agent("2001")
    desk.ok(f"agent set status {away} 'On Break'")
    second = desk.agent("2002")
    desk.ok(
        f"tier add tiers@default {away} 1 1", f"tier add tiers@default {second} 2 1"
    )
    desk.call("q-tiers")
    start = desk.action("member-queue-start")
    offer = desk.action("agent-offering")
    assert offer.get("CC-Agent") == second
    # Level 2 waits twice tier-rule-wait-second (multiplied by the level).
    joined = int(start.get("Event-Date-Timestamp")) // 1_000_000
    assert int(offer.get("Event-Date-Timestamp")) // 1_000_000 - joined >= 6


def test_callcenter_break_releases_the_agent_during_the_call(desk):
    desk.phone("2001", answer_after=1)
    name = desk.agent("2001")
    desk.ok(f"tier add sales@default {name}")
    call = desk.call("q-sales")
    agent_uuid = desk.action("bridge-agent-start").get("CC-Agent-UUID")
    desk.sleep(1)
    assert desk.switch.api("callcenter_break", "agent") == (
        "-ERR Usage: callcenter_break agent <uuid>\n"
    )
    assert desk.switch.api("callcenter_break", f"agent {agent_uuid}") == ""
    desk.action("bridge-agent-end")
    desk.wait(lambda e: e.get("CC-Agent-State") == "Waiting")
    assert not call.hungup
    assert desk.row("agent list", name)["uuid"] == ""


def test_callcenter_track_keeps_an_agent_on_an_outside_call_from_the_queue(desk):
    desk.phone("2001", answer_after=1)
    name = desk.agent("2001")
    desk.ok(f"tier add sales@default {name}")
    tracked = desk.call("t-2001")
    desk.wait(lambda e: e.name == "CHANNEL_PARK" and e.get("Unique-ID") == tracked.uuid)
    assert desk.row("agent list", name)["external_calls_count"] == "1"
    desk.call("q-sales")
    desk.action("member-queue-start")
    desk.sleep(2)
    assert not desk.actions("agent-offering")
    desk.switch.remote_hangup(tracked.uuid)
    assert desk.action("agent-offering").get("CC-Agent") == name
    assert desk.row("agent list", name)["external_calls_count"] == "0"


def test_a_uuid_standby_agent_is_bridged_from_where_it_waits(desk):
    waiting = desk.call("park-me", number="0209999999")
    desk.wait(lambda e: e.name == "CHANNEL_PARK" and e.get("Unique-ID") == waiting.uuid)
    desk.ok(
        "agent add standby@default uuid-standby",
        f"agent set uuid standby@default {waiting.uuid}",
        "agent set status standby@default Available",
        "tier add sales@default standby@default",
    )
    call = desk.call("q-sales")
    start = desk.action("bridge-agent-start")
    assert start.get("Unique-ID") == start.get("CC-Agent-UUID") == waiting.uuid
    assert not [e for e in desk.events.events if e.name == "CHANNEL_ORIGINATE"]
    bridge = desk.wait(lambda e: e.name == "CHANNEL_BRIDGE")
    assert (bridge.get("Unique-ID"), bridge.get("Other-Leg-Unique-ID")) == (
        call.uuid,
        waiting.uuid,
    )
    assert waiting.get_variable("cc_side") == "agent"
    desk.wait(lambda e: e.get("CC-Agent-State") == "In a queue call")
    assert desk.row("agent list", "standby@default")["uuid"] == waiting.uuid


def test_the_agent_leg_carries_the_cc_variables(desk):
    desk.phone("2001", answer_after=1)
    name = desk.agent("2001")
    desk.ok(f"tier add sales@default {name}")
    call = desk.call("q-sales")
    start = desk.action("bridge-agent-start")
    member_uuid = start.get("CC-Member-UUID")
    assert start.get("variable_cc_member_session_uuid") == call.uuid
    assert start.get("variable_cc_member_uuid") == member_uuid
    assert start.get("variable_cc_side") == "agent"
    assert start.get("variable_cc_queue") == "sales@default"
    assert start.get("variable_originate_early_media") == "false"
    assert start.get("variable_cc_member_pre_answer_uuid") is None
    assert call.get_variable("cc_member_uuid") == member_uuid
    assert call.get_variable("cc_side") == "member"


# -- argument splitting ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "parts"),
    [
        ("agent add a@b callback", 8, ["agent", "add", "a@b", "callback"]),
        ("  agent   list  ", 8, ["agent", "list"]),
        ("agent set status a 'Available (On Demand)'", 8,
         ["agent", "set", "status", "a", "Available (On Demand)"]),
        ("a b c d e f g h i", 8, ["a", "b", "c", "d", "e", "f", "g", "h i"]),
        # A backslash before a blank is kept (only quotes and \n-style escapes go).
        (r"x a\ b", 8, ["x", r"a\ b"]),
    ],
)  # fmt: skip
def test_arguments_split_as_switch_separate_string(text, limit, parts):
    assert separate_blank(text, limit) == parts
