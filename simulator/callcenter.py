"""mod_callcenter as FreeSWITCH 1.10.12 runs it, seen through the Event Socket.

Queues come from the ``callcenter.conf`` configuration: the one the switch
read when the module loaded (``install(switch, config=...)``, or an xml_curl
lookup of ``callcenter.conf`` without parameters), and an xml_curl lookup
with ``CC-Queue`` whenever a queue is loaded later (``queue load``,
``queue reload``, or a queue used before it was loaded). Agents and tiers are
added over the api (``callcenter_config``) or from the configuration's
``<agents>`` and ``<tiers>``. Members are callers running the ``callcenter``
application.

mod_callcenter's threads are greenlets here, doing what they do there:

- the member's own session runs the application: it joins the queue
  (``member-queue-start``, ``members-count``, the queue's PRESENCE_IN) and
  hears the queue's music until an agent is bridged to it, it hangs up,
  presses one of ``cc_exit_keys`` or the member thread breaks it out;
- a member thread per waiting caller looks every 0.5 s at max-wait-time and
  max-wait-time-with-no-agent;
- the dispatcher (the agent dispatch thread) looks at the waiting members
  every 0.1 s and offers each to the agents its queue's strategy picks
  (longest-idle-agent, ring-all, ring-progressively, round-robin, top-down,
  agent-with-least-talk-time, agent-with-fewest-calls, random,
  sequentially-by-agent-order) within the tier rules;
- an agent thread per offer: ``agent-offering``, the originate of the
  agent's contact with the ``cc_*`` variables, ``bridge-agent-start``,
  uuid_bridge to the member, ``bridge-agent-end`` and ``member-queue-end``
  once the agent's leg is gone, then the agent's state back to Waiting (the
  wrap-up time shows only in ``last_bridge_end``). A failed offer fires
  ``bridge-agent-fail`` and delays the agent by its busy, reject or
  no-answer delay.

The module's database tables (agents, tiers, members) are kept in memory in
the order their rows were inserted, so that ``callcenter_config`` listings
come out as FreeSWITCH's SQL writes them: ``|``-separated with a header row
and a final ``+OK`` line, just ``+OK`` when empty.

Public interface:

- ``install(switch, *, config=None) -> CallCenter``: load the module
  (``config`` is the ``callcenter.conf`` text the switch reads at startup);
  ``callcenter_of(switch)`` gets it, loading it on first use.
- ``CallCenter``: ``queues``, ``agents``, ``tiers``, ``members``;
  ``get_queue``, ``load_queue``, ``unload_queue``, ``agent_add``,
  ``agent_del``, ``agent_update``, ``agent_get``, ``tier_add``,
  ``tier_update``, ``tier_del``, ``config_api(args)``, ``run_member``.
- ``api_callcenter_config``, ``api_callcenter_break`` (api table) and
  ``app_callcenter``, ``app_callcenter_track`` (application table).
- ``CallCenterError`` and one subclass per refusal of mod_callcenter.
"""

from __future__ import annotations

import logging
import random
import re
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import gevent
import gevent.event

from simulator.channel import CS_DESTROY, CS_REPORTING
from simulator.events import CallSite, Event, stamp
from simulator.headers import channel_event
from simulator.xmlcurl import XmlCurlError, configuration_form, parse_answer

if TYPE_CHECKING:
    from simulator.apps import AppCall
    from simulator.channel import Channel
    from simulator.switch import Switch

log = logging.getLogger(__name__)

CALLCENTER_EVENT = "callcenter::info"
CONFIG_NAME = "callcenter.conf"
SELF = "single_box"
SOURCE = "mod_callcenter.c"

TYPE_CALLBACK = "Callback"
TYPE_UUID_STANDBY = "uuid-standby"

AGENT_STATUSES = ("Logged Out", "Available", "Available (On Demand)", "On Break")
AGENT_STATES = ("Waiting", "Receiving", "In a queue call", "Idle", "Reserved")
TIER_STATES = ("No Answer", "Ready", "Offering", "Active Inbound", "Standby")

# The dispatcher's and the member thread's polling periods (seconds).
DISPATCH_PERIOD = 0.1
MEMBER_PERIOD = 0.5
AGENT_PERIOD = 0.1

# Agent statuses the dispatcher's query lets through (SQL: exact match).
_LISTED_STATUSES = ("Available", "On Break", "Available (On Demand)")

_GLOBAL_VAR = re.compile(r"\$\$\{([^}]+)\}")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def _site(function: str, line: int) -> CallSite:
    return CallSite(SOURCE, function, line)


# Where mod_callcenter.c of 1.10.12 creates each event.
SITE_AGENT_ADD = _site("cc_agent_add", 915)
SITE_AGENT_GET = _site("cc_agent_get", 970)
SITE_AGENT_STATUS = _site("cc_agent_update", 1043)
SITE_AGENT_STATE = _site("cc_agent_update", 1067)
SITE_AGENT_CONTACT = _site("cc_agent_update", 1091)
SITE_AGENT_STATE_IF_WAITING = _site("cc_agent_update", 1160)
SITE_LOAD_QUEUE = _site("load_queue", 724)
SITE_COUNT = _site("cc_queue_count", 878)
SITE_OFFERING = _site("outbound_agent_thread_run", 1717)
SITE_OVARS = _site("outbound_agent_thread_run", 1755)
SITE_BRIDGE_START = _site("outbound_agent_thread_run", 1934)
SITE_BRIDGE_END = _site("outbound_agent_thread_run", 2062)
SITE_MEMBER_END = _site("outbound_agent_thread_run", 2098)
SITE_MAX_NO_ANSWER = _site("outbound_agent_thread_run", 2176)
SITE_BRIDGE_FAIL = _site("outbound_agent_thread_run", 2200)
SITE_MEMBER_START = _site("callcenter_function", 3113)
SITE_MEMBER_CANCEL = _site("callcenter_function", 3274)
SITE_PRESENCE = _site("cc_send_presence", 3392)
# The displace media bug of a periodic announcement.
SITE_BUG_START = CallSite("switch_core_media_bug.c", "switch_core_media_bug_add", 1014)
SITE_BUG_STOP = CallSite("switch_core_media_bug.c", "switch_core_media_bug_destroy", 84)


# --------------------------------------------------------------------------
# errors (cc_status_t)
# --------------------------------------------------------------------------


class CallCenterError(Exception):
    """A request mod_callcenter refuses."""


class AgentNotFound(CallCenterError):
    """No agent of that name."""


class AgentExists(CallCenterError):
    """``agent add`` of a name that is taken."""


class InvalidAgentType(CallCenterError):
    """An agent type other than callback or uuid-standby."""


class InvalidAgentStatus(CallCenterError):
    """A status not in mod_callcenter's list."""


class InvalidAgentState(CallCenterError):
    """A state not in mod_callcenter's list."""


class QueueNotFound(CallCenterError):
    """A queue neither loaded nor in the configuration."""


class TierExists(CallCenterError):
    """``tier add`` of an agent already in that queue."""


class TierNotFound(CallCenterError):
    """No tier for that agent in that queue."""


class InvalidTierState(CallCenterError):
    """A tier state not in mod_callcenter's list."""


class InvalidKey(CallCenterError):
    """``set``/``get`` of a field that cannot be set or read."""


# --------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------


def _canonical(names: Iterable[str], text: str) -> str | None:
    """The chart entry ``text`` names (strcasecmp), or None (Unknown)."""
    lowered = text.lower()
    return next((name for name in names if name.lower() == lowered), None)


def _same(a: str | None, b: str) -> bool:
    return a is not None and a.lower() == b.lower()


def _atoi(text: str | None) -> int:
    """C's atoi: leading digits (with a sign), 0 for anything else."""
    match = re.match(r"\s*([+-]?\d+)", text or "")
    return int(match.group(1)) if match else 0


def _text(value: object) -> str:
    """A column as sqlite hands it to the listing (NULL prints empty)."""
    return "" if value is None else str(value)


@dataclass
class Queue:
    """cc_queue_t: a queue's configuration and counters."""

    name: str
    strategy: str = "longest-idle-agent"
    moh_sound: str | None = None
    announce_sound: str | None = None
    announce_frequency: int = 0
    record_template: str | None = None
    time_base_score: str = "queue"
    ring_progressively_delay: int = 0
    tier_rules_apply: bool = False
    tier_rule_wait_second: int = 0
    tier_rule_wait_multiply_level: bool = False
    tier_rule_no_agent_no_wait: bool = True
    discard_abandoned_after: int = 60
    abandoned_resume_allowed: bool = False
    max_wait_time: int = 0
    max_wait_time_with_no_agent: int = 0
    max_wait_time_with_no_agent_time_reached: int = 5
    agent_no_answer_status: str = "On Break"
    skip_agents_with_external_calls: bool = True
    calls_answered: int = 0
    calls_abandoned: int = 0
    last_agent_exist: int = 0
    last_agent_exist_check: int = 0

    def row(self) -> str:
        def flag(value: bool) -> str:
            return "true" if value else "false"

        return "|".join(
            [
                self.name,
                self.strategy,
                _text(self.moh_sound),
                self.time_base_score,
                flag(self.tier_rules_apply),
                str(self.tier_rule_wait_second),
                flag(self.tier_rule_wait_multiply_level),
                flag(self.tier_rule_no_agent_no_wait),
                str(self.discard_abandoned_after),
                flag(self.abandoned_resume_allowed),
                str(self.max_wait_time),
                str(self.max_wait_time_with_no_agent),
                str(self.max_wait_time_with_no_agent_time_reached),
                _text(self.record_template),
                str(self.calls_answered),
                str(self.calls_abandoned),
                str(self.ring_progressively_delay),
                flag(self.skip_agents_with_external_calls),
                self.agent_no_answer_status,
            ]
        )


QUEUE_COLUMNS = (
    "name|strategy|moh_sound|time_base_score|tier_rules_apply|tier_rule_wait_second|"
    "tier_rule_wait_multiply_level|tier_rule_no_agent_no_wait|discard_abandoned_after|"
    "abandoned_resume_allowed|max_wait_time|max_wait_time_with_no_agent|"
    "max_wait_time_with_no_agent_time_reached|record_template|calls_answered|"
    "calls_abandoned|ring_progressively_delay|skip_agents_with_external_calls|"
    "agent_no_answer_status"
)

# (param name, attribute, kind, default) as queue_set_config declares them.
_QUEUE_PARAMS: tuple[tuple[str, str, str, object], ...] = (
    ("strategy", "strategy", "str", "longest-idle-agent"),
    ("moh-sound", "moh_sound", "str", None),
    ("announce-sound", "announce_sound", "str", None),
    ("announce-frequency", "announce_frequency", "int", 0),
    ("record-template", "record_template", "str", None),
    ("time-base-score", "time_base_score", "str", "queue"),
    ("ring-progressively-delay", "ring_progressively_delay", "int", 0),
    ("tier-rules-apply", "tier_rules_apply", "bool", False),
    ("tier-rule-wait-second", "tier_rule_wait_second", "int", 0),
    ("tier-rule-wait-multiply-level", "tier_rule_wait_multiply_level", "bool", False),
    ("tier-rule-no-agent-no-wait", "tier_rule_no_agent_no_wait", "bool", True),
    ("discard-abandoned-after", "discard_abandoned_after", "int", 60),
    ("abandoned-resume-allowed", "abandoned_resume_allowed", "bool", False),
    ("max-wait-time", "max_wait_time", "int", 0),
    ("max-wait-time-with-no-agent", "max_wait_time_with_no_agent", "int", 0),
    (
        "max-wait-time-with-no-agent-time-reached",
        "max_wait_time_with_no_agent_time_reached",
        "int",
        5,
    ),
    ("agent-no-answer-status", "agent_no_answer_status", "str", "On Break"),
    (
        "skip-agents-with-external-calls",
        "skip_agents_with_external_calls",
        "bool",
        True,
    ),
)


@dataclass
class Agent:
    """A row of the agents table, columns in its order."""

    name: str
    instance_id: str = SELF
    uuid: str | None = None
    type: str = ""
    contact: str | None = None
    status: str = "Logged Out"
    state: str = "Waiting"
    max_no_answer: int = 0
    wrap_up_time: int = 0
    reject_delay_time: int = 0
    busy_delay_time: int = 0
    no_answer_delay_time: int = 0
    last_bridge_start: int = 0
    last_bridge_end: int = 0
    last_offered_call: int = 0
    last_status_change: int = 0
    no_answer_count: int = 0
    calls_answered: int = 0
    talk_time: int = 0
    ready_time: int = 0
    external_calls_count: int = 0

    def row(self) -> str:
        return "|".join(_text(getattr(self, f.name)) for f in fields(self))


AGENT_COLUMNS = "|".join(f.name for f in fields(Agent))


@dataclass
class Tier:
    """A row of the tiers table."""

    queue: str
    agent: str
    state: str = "Ready"
    level: int = 1
    position: int = 1

    def row(self) -> str:
        return f"{self.queue}|{self.agent}|{self.state}|{self.level}|{self.position}"


TIER_COLUMNS = "queue|agent|state|level|position"


@dataclass
class Member:
    """A row of the members table (a caller in a queue)."""

    queue: str
    instance_id: str
    uuid: str
    session_uuid: str
    cid_number: str
    cid_name: str
    system_epoch: int = 0
    joined_epoch: int = 0
    rejoined_epoch: int = 0
    bridge_epoch: int = 0
    abandoned_epoch: int = 0
    base_score: int = 0
    skill_score: int = 0
    serving_agent: str = ""
    serving_system: str = ""
    state: str = "Waiting"

    def score(self, now: int) -> int:
        return now - self.joined_epoch + self.base_score + self.skill_score

    def row(self, now: int) -> str:
        cells = [_text(getattr(self, f.name)) for f in fields(self)]
        return "|".join([*cells, str(self.score(now))])


MEMBER_COLUMNS = "|".join([*(f.name for f in fields(Member)), "score"])


@dataclass
class _Waiting:
    """member_thread_helper: what the member thread and the app share."""

    queue_name: str
    member_uuid: str
    session_uuid: str
    cid_name: str
    cid_number: str
    joined: int
    cancel_reason: str = "NONE"
    running: bool = True
    last_announce: int = 0
    announce_valid: bool = True
    # The announcement being displaced into the music, and its end.
    announcing: str | None = None
    announce_done: gevent.event.Event | None = None


@dataclass
class _Offer:
    """call_helper: one offer of a member to an agent, as the dispatcher saw it."""

    member_uuid: str
    member_session_uuid: str
    queue_name: str
    strategy: str
    member_joined_epoch: int
    member_cid_name: str
    member_cid_number: str
    agent_name: str
    agent_system: str
    agent_status: str
    agent_type: str
    agent_uuid: str
    contact: str
    record_template: str | None
    no_answer_count: int
    max_no_answer: int
    reject_delay_time: int
    busy_delay_time: int
    no_answer_delay_time: int
    agent_no_answer_status: str


@dataclass
class _Pass:
    """agent_callback: the dispatcher's state while it looks at one member."""

    queue: Queue
    member: Member
    now: int
    tier: int = 0
    tier_agent_available: int = 0
    agent_found: bool = False


# --------------------------------------------------------------------------
# argument splitting (switch_separate_string on blanks)
# --------------------------------------------------------------------------

_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def separate_blank(text: str, limit: int) -> list[str]:
    """Split on blanks outside single quotes; the last field takes the rest.

    Quotes are then removed and backslash escapes undone, as
    switch_separate_string does for a blank delimiter.
    """
    raw: list[str] = []
    index = 0
    length = len(text)
    while index < length and len(raw) < limit:
        while index < length and text[index] == " ":
            index += 1
        if index >= length:
            break
        start = index
        if len(raw) == limit - 1:
            raw.append(text[start:])
            break
        quoted = False
        while index < length:
            char = text[index]
            if char == "\\":
                index += 2
                continue
            if char == "'":
                quoted = not quoted
            elif char == " " and not quoted:
                break
            index += 1
        raw.append(text[start:index])
    return [_cleanup(part) for part in raw]


def _cleanup(part: str) -> str:
    out: list[str] = []
    quoted = False
    index = 0
    while index < len(part):
        char = part[index]
        if char == "\\" and index + 1 < len(part):
            following = part[index + 1]
            if following in "'\"\\":
                out.append(following)
                index += 2
                continue
            if following in _UNESCAPE:
                out.append(_UNESCAPE[following])
                index += 2
                continue
        if char == "'" and (quoted or "'" in part[index + 1 :]):
            quoted = not quoted
        else:
            out.append(char)
        index += 1
    return "".join(out).strip(" ")


# --------------------------------------------------------------------------
# the module
# --------------------------------------------------------------------------

_MODULES: weakref.WeakKeyDictionary[Switch, CallCenter] = weakref.WeakKeyDictionary()


def install(switch: Switch, *, config: str | None = None) -> CallCenter:
    """Load mod_callcenter on ``switch``.

    ``config`` is the ``callcenter.conf`` the switch has on disk (its
    ``<configuration>`` element, or a whole document); without it the
    module looks its configuration up over xml_curl, as at a switch's start
    with the configuration binding in place. The text is also what later
    lookups fall back to when xml_curl has no answer.
    """
    module = CallCenter(switch, static_config=config)
    _MODULES[switch] = module
    module.load_config()
    return module


def callcenter_of(switch: Switch) -> CallCenter:
    """The switch's mod_callcenter (loaded on first use)."""
    module = _MODULES.get(switch)
    if module is None:
        module = install(switch)
    return module


class CallCenter:
    """mod_callcenter of one switch: queues, agents, tiers, members."""

    def __init__(self, switch: Switch, *, static_config: str | None = None) -> None:
        self.switch = switch
        self.clock = switch.clock
        self.queues: dict[str, Queue] = {}
        self.agents: dict[str, Agent] = {}
        self.tiers: list[Tier] = []
        self.members: list[Member] = []
        self.instance_id = SELF
        self.reserve_agents = False
        self.originate_timeout = 60
        self._static = self._parse(static_config) if static_config else None
        self._dispatcher: gevent.Greenlet | None = None
        # cc_app flags: members an agent is being connected to, agents
        # whose call callcenter_break released.
        self.connecting: set[str] = set()
        self.should_break: set[str] = set()

    # -- time and events -------------------------------------------------

    def now(self) -> int:
        """local_epoch_time_now: whole epoch seconds."""
        return int(self.clock.now())

    def _fire(self, site: CallSite, headers: Iterable[tuple[str, str]]) -> None:
        """A callcenter::info event about no channel."""
        event = Event("CUSTOM", subclass=CALLCENTER_EVENT, origin=site)
        for name, value in headers:
            event.add(name, value)
        self.switch.fire(event)

    def _fire_on(
        self, channel: Channel, site: CallSite, headers: list[tuple[str, str]]
    ) -> None:
        """A callcenter::info event with a channel's data and variables."""
        event = channel_event(
            channel, "CUSTOM", tail=headers, subclass=CALLCENTER_EVENT
        )
        event.origin = site
        self.switch.fire(event)

    # -- configuration -----------------------------------------------------

    def _parse(self, text: str) -> ET.Element | None:
        """The ``callcenter.conf`` element of a document ($${vars} expanded)."""
        globals_ = self.switch.global_vars
        text = _GLOBAL_VAR.sub(lambda m: globals_.get(m.group(1), ""), text)
        try:
            root = parse_answer(text)
        except XmlCurlError as error:
            log.error("callcenter: %s is not XML: %s", CONFIG_NAME, error)
            return None
        if root is None:
            return None
        for node in root.iter("configuration"):
            if node.get("name") == CONFIG_NAME:
                return node
        return None

    def open_config(self, queue_name: str | None = None) -> ET.Element | None:
        """switch_xml_open_cfg: xml_curl first, then the switch's own file.

        With a queue name the lookup carries a REQUEST_PARAMS event with
        ``CC-Queue`` (load_queue); without, just the binding's fields.
        """
        switch = self.switch
        event = None
        if queue_name is not None:
            event = Event("REQUEST_PARAMS", origin=SITE_LOAD_QUEUE)
            event.add("CC-Queue", queue_name)
            stamp(event, switch.identity, switch.next_sequence(), self.clock.now_us())
        if switch.xml_fetcher is not None:
            form = configuration_form(switch.hostname, CONFIG_NAME, event)
            try:
                text = switch.call_fetcher("configuration", form)
            except Exception:
                log.exception("callcenter: %s lookup failed", CONFIG_NAME)
                text = None
            found = self._parse(text) if text else None
            if found is not None:
                return found
        return self._static

    def load_config(self) -> None:
        """mod_callcenter's load: settings, every queue, agents and tiers.

        The switch's own file when it has one (xml_curl is bound later, as
        at a switch's start), otherwise the configuration lookup.
        """
        config = self._static if self._static is not None else self.open_config()
        if config is None:
            log.error("callcenter: open of %s failed", CONFIG_NAME)
            return
        for param in config.iterfind("settings/param"):
            self._setting(param.get("name", ""), param.get("value", ""))
        queues = config.find("queues")
        for node in queues.iterfind("queue") if queues is not None else ():
            self._add_queue(node.get("name", ""), node)
        agents = config.find("agents")
        for node in agents.iterfind("agent") if agents is not None else ():
            if node.get("name"):
                self._load_agent(node)
        tiers = config.find("tiers")
        if tiers is not None:
            self._load_tiers(tiers, load_all=True)

    def _setting(self, name: str, value: str) -> None:
        lowered = name.lower()
        if lowered == "reserve-agents":
            self.reserve_agents = _true(value)
        elif lowered == "cc-instance-id" and value:
            self.instance_id = value
        elif lowered == "agent-originate-timeout":
            self.originate_timeout = _atoi(value) or 60

    def _add_queue(self, name: str, node: ET.Element) -> Queue:
        """Build a queue from its params (bad values fall back to defaults)."""
        queue = Queue(name)
        params: dict[str, str | None] = {}
        for param in node.iterfind("param"):
            params.setdefault(param.get("name", ""), param.get("value"))
        for key, attr, kind, default in _QUEUE_PARAMS:
            setattr(queue, attr, _config_value(params.get(key), kind, default, key))
        if _canonical(AGENT_STATUSES, queue.agent_no_answer_status) is None:
            log.warning(
                "callcenter: queue %s has invalid agent-no-answer-status, setting "
                "to On Break",
                name,
            )
            queue.agent_no_answer_status = "On Break"
        # A reload replaces the queue where it was (same hash slot).
        self.queues[name] = queue
        log.info("callcenter: added queue %s", name)
        return queue

    def load_queue(
        self, name: str, *, agents: bool = False, tiers: bool = False
    ) -> Queue | None:
        """load_queue: look the queue up (``CC-Queue``) and load it."""
        config = self.open_config(name)
        if config is None:
            log.error("callcenter: open of %s failed", CONFIG_NAME)
            return None
        node = next(
            (q for q in config.iterfind("queues/queue") if q.get("name") == name),
            None,
        )
        if node is None:
            return None
        queue = self._add_queue(name, node)
        agents_node = config.find("agents")
        if agents and agents_node is not None:
            for agent in agents_node.iterfind("agent"):
                if agent.get("name"):
                    self._load_agent(agent)
        tiers_node = config.find("tiers")
        if tiers and tiers_node is not None:
            self._load_tiers(tiers_node, queue_name=name)
        return queue

    def get_queue(self, name: str) -> Queue | None:
        """A loaded queue, or the configuration's (loaded now)."""
        return self.queues.get(name) or self.load_queue(name)

    def unload_queue(self, name: str) -> None:
        if self.queues.pop(name, None) is None:
            log.error("callcenter: [%s] invalid queue", name)

    def _load_agent(self, node: ET.Element) -> None:
        """load_agent: add (or update) an agent the configuration lists."""
        name = node.get("name", "")
        agent_type = node.get("type")
        if not agent_type:
            return
        try:
            self.agent_add(name, agent_type)
            existed = False
        except AgentExists:
            existed = True
        except InvalidAgentType:
            return
        for attr, key in (
            ("contact", "contact"),
            ("status", "status"),
            ("wrap-up-time", "wrap_up_time"),
            ("max-no-answer", "max_no_answer"),
            ("reject-delay-time", "reject_delay_time"),
            ("busy-delay-time", "busy_delay_time"),
            ("no-answer-delay-time", "no_answer_delay_time"),
        ):
            value = node.get(attr)
            if value is not None:
                self._quietly(self.agent_update, key, value, name)
        if existed:
            self._quietly(self.agent_update, "type", agent_type, name)

    @staticmethod
    def _quietly(function: Callable[..., object], *args: str) -> bool:
        try:
            function(*args)
        except CallCenterError as error:
            log.warning("callcenter: %s%s: %s", function.__name__, args, type(error))
            return False
        return True

    def _load_tiers(
        self,
        node: ET.Element,
        *,
        load_all: bool = False,
        queue_name: str | None = None,
        agent_name: str | None = None,
    ) -> bool:
        """load_tiers: True when a tier of the configuration matched."""
        loaded = False
        for tier in node.iterfind("tier"):
            agent = tier.get("agent") or ""
            queue = tier.get("queue") or ""
            if not (
                load_all
                or (
                    agent_name
                    and queue_name
                    and _same(agent, agent_name)
                    and _same(queue, queue_name)
                )
                or (not agent_name and queue_name and _same(queue, queue_name))
                or (not queue_name and agent_name and _same(agent, agent_name))
            ):
                continue
            self._load_tier(queue, agent, tier.get("level"), tier.get("position"))
            loaded = True
        return loaded

    def _load_tier(
        self, queue: str, agent: str, level: str | None, position: str | None
    ) -> None:
        existing = self._tier(queue, agent)
        if existing is None:
            self._quietly(
                self.tier_add,
                queue,
                agent,
                "Ready",
                str(_atoi(level) if level else 1),
                str(_atoi(position) if position else 1),
            )
            return
        self._quietly(self.tier_update, "level", level or "1", queue, agent)
        self._quietly(self.tier_update, "position", position or "1", queue, agent)

    # -- agents --------------------------------------------------------------

    def agent_add(self, name: str, agent_type: str) -> Agent:
        """cc_agent_add: a new agent, Logged Out and Waiting."""
        if not (
            _same(agent_type, TYPE_CALLBACK) or _same(agent_type, TYPE_UUID_STANDBY)
        ):
            raise InvalidAgentType(agent_type)
        if name in self.agents:
            raise AgentExists(name)
        agent = Agent(name, type=agent_type)
        self.agents[name] = agent
        log.debug("callcenter: agent %s added (%s)", name, agent_type)
        self._fire(
            SITE_AGENT_ADD,
            [
                ("CC-Agent", name),
                ("CC-Agent-Type", agent_type),
                ("CC-Action", "agent-add"),
            ],
        )
        return agent

    def agent_del(self, name: str) -> None:
        """cc_agent_del: the agent and its tiers go (a running call goes on)."""
        self.agents.pop(name, None)
        self.tiers = [tier for tier in self.tiers if tier.agent != name]
        log.debug("callcenter: agent %s deleted", name)

    def _agent(self, name: str) -> Agent:
        agent = self.agents.get(name)
        if agent is None:
            raise AgentNotFound(name)
        return agent

    def agent_get(self, key: str, name: str) -> str:
        """cc_agent_get: status, state or uuid (and an agent-<key>-get event)."""
        agent = self._agent(name)
        lowered = key.lower()
        if lowered not in ("status", "state", "uuid"):
            raise InvalidKey(key)
        value = _text(getattr(agent, lowered))
        header = (
            "CC-Agent-UUID"
            if lowered == "uuid"
            else f"CC-Agent-{key[0].upper()}{key[1:]}"
        )
        self._fire(
            SITE_AGENT_GET,
            [("CC-Agent", name), ("CC-Action", f"agent-{key}-get"), (header, value)],
        )
        return value

    def agent_update(self, key: str, value: str, name: str) -> None:
        """cc_agent_update: set one field, with FreeSWITCH's side effects."""
        agent = self._agent(name)
        lowered = key.lower()
        setter = _AGENT_SETTERS.get(lowered)
        if setter is None:
            raise InvalidKey(key)
        setter(self, agent, value)
        log.debug("callcenter: agent %s set %s = %s", name, key, value)

    def _set_status(self, agent: Agent, value: str) -> None:
        status = _canonical(AGENT_STATUSES, value)
        if status is None:
            raise InvalidAgentStatus(value)
        now = self.now()
        if status == "Available":
            # Counters reset only when the agent becomes Available.
            if agent.status != value:
                agent.status = value
                agent.last_status_change = now
                agent.talk_time = agent.calls_answered = agent.no_answer_count = 0
        else:
            agent.status = value
            agent.last_status_change = now
            # Stop a callback still ringing this agent.
            member = next(
                (
                    m
                    for m in self.members
                    if m.serving_agent == agent.name
                    and m.serving_system == SELF
                    and m.state != "Answered"
                ),
                None,
            )
            if member is not None:
                self.hangup_matching(
                    "cc_member_pre_answer_uuid", member.uuid, "ORIGINATOR_CANCEL"
                )
        self._fire(
            SITE_AGENT_STATUS,
            [
                ("CC-Agent", agent.name),
                ("CC-Action", "agent-status-change"),
                ("CC-Agent-Status", value),
            ],
        )

    def _set_state(self, agent: Agent, value: str) -> None:
        state = _canonical(AGENT_STATES, value)
        if state is None:
            raise InvalidAgentState(value)
        agent.state = value
        if state == "Receiving":
            agent.last_offered_call = self.now()
        self._state_event(agent, value)

    def _state_event(
        self, agent: Agent, value: str, site: CallSite = SITE_AGENT_STATE
    ) -> None:
        self._fire(
            site,
            [
                ("CC-Agent", agent.name),
                ("CC-Action", "agent-state-change"),
                ("CC-Agent-State", value),
            ],
        )

    def _set_state_if_waiting(self, agent: Agent, value: str) -> None:
        if _canonical(AGENT_STATES, value) is None:
            raise InvalidAgentState(value)
        if agent.state != "Waiting" or agent.status not in (
            "Available",
            "Available (On Demand)",
        ):
            raise AgentNotFound(agent.name)
        agent.state = value
        self._state_event(agent, value, SITE_AGENT_STATE_IF_WAITING)

    def _set_contact(self, agent: Agent, value: str) -> None:
        agent.contact = value
        agent.instance_id = SELF
        self._fire(
            SITE_AGENT_CONTACT,
            [
                ("CC-Agent", agent.name),
                ("CC-Action", "agent-contact-change"),
                ("CC-Agent-Contact", value),
            ],
        )

    def _set_type(self, agent: Agent, value: str) -> None:
        if not (_same(value, TYPE_CALLBACK) or _same(value, TYPE_UUID_STANDBY)):
            raise InvalidAgentType(value)
        agent.type = value

    def _set_uuid(self, agent: Agent, value: str) -> None:
        agent.uuid = value
        agent.instance_id = SELF

    # -- tiers ---------------------------------------------------------------

    def _tier(self, queue: str, agent: str) -> Tier | None:
        return next(
            (t for t in self.tiers if t.queue == queue and t.agent == agent), None
        )

    def tier_add(
        self, queue_name: str, agent: str, state: str = "Ready", level: str = "1",
        position: str = "1",
    ) -> Tier:  # fmt: skip
        """cc_tier_add: the queue must exist (or load), the agent too."""
        if self.get_queue(queue_name) is None:
            raise QueueNotFound(queue_name)
        if _canonical(TIER_STATES, state) is None:
            raise InvalidTierState(state)
        if agent not in self.agents:
            raise AgentNotFound(agent)
        if self._tier(queue_name, agent) is not None:
            raise TierExists(f"{queue_name} {agent}")
        tier = Tier(queue_name, agent, state, _atoi(level), _atoi(position))
        self.tiers.append(tier)
        log.debug(
            "callcenter: queue %s: tier for agent %s, level %s, position %s",
            queue_name, agent, tier.level, tier.position,
        )  # fmt: skip
        return tier

    def tier_update(self, key: str, value: str, queue_name: str, agent: str) -> None:
        """cc_tier_update: state, level or position of an existing tier."""
        tier = self._tier(queue_name, agent)
        if tier is None:
            raise TierNotFound(f"{queue_name} {agent}")
        if agent not in self.agents:
            raise AgentNotFound(agent)
        if self.get_queue(queue_name) is None:
            raise QueueNotFound(queue_name)
        lowered = key.lower()
        if lowered == "state":
            if _canonical(TIER_STATES, value) is None:
                raise InvalidTierState(value)
            tier.state = value
        elif lowered == "level":
            tier.level = _atoi(value)
        elif lowered == "position":
            tier.position = _atoi(value)
        else:
            raise InvalidKey(key)

    def tier_del(self, queue_name: str, agent: str) -> None:
        self.tiers = [
            t for t in self.tiers if not (t.queue == queue_name and t.agent == agent)
        ]

    # -- queue counters and presence -------------------------------------------

    def queue_count(self, queue_name: str) -> int:
        """cc_queue_count: waiting and trying members, as a members-count event."""
        if queue_name.startswith("*"):
            selection = "All-Queues"
            rows = self.members
        else:
            selection = "Single-Queue"
            rows = [m for m in self.members if m.queue == queue_name]
        count = sum(1 for m in rows if m.state in ("Waiting", "Trying"))
        self._fire(
            SITE_COUNT,
            [
                ("CC-Queue", queue_name),
                ("CC-Action", "members-count"),
                ("CC-Count", str(count)),
                ("CC-Selection", selection),
            ],
        )
        return count

    def send_presence(self, queue_name: str) -> None:
        """cc_send_presence: the queue's PRESENCE_IN (waiting members only)."""
        count = sum(
            1 for m in self.members if m.queue == queue_name and m.state == "Waiting"
        )
        event = Event("PRESENCE_IN", origin=SITE_PRESENCE)
        for name, value in (
            ("proto", "callcenter"),
            ("login", queue_name),
            ("from", queue_name),
            ("force-status", f"Active ({count} waiting)" if count else "Idle"),
            ("rpid", "unknown"),
            ("event_type", "presence"),
            ("alt_event_type", "dialog"),
            ("event_count", "0"),
            ("channel-state", "CS_ROUTING" if count else "CS_HANGUP"),
            ("unique-id", queue_name),
            ("answer-state", "confirmed" if count else "terminated"),
            ("presence-call-direction", "inbound"),
        ):
            event.add(name, value)
        self.switch.fire(event)

    def hangup_matching(self, name: str, value: str, cause: str) -> None:
        """switch_core_session_hupall_matching_var."""
        for channel in list(self.switch.channels.values()):
            if not channel.hungup and channel.get_variable(name) == value:
                channel.hangup(cause)

    # -- the api ---------------------------------------------------------------

    def config_api(self, args: str) -> str:
        """``callcenter_config <section> <action> ...`` with FreeSWITCH's replies."""
        if not args.strip():
            return f"-USAGE: \n{CONFIG_API_SYNTAX}\n"
        argv = separate_blank(args, 8)
        if len(argv) < 2:
            return "-ERR Invalid!\n"
        section, action, rest = argv[0].lower(), argv[1].lower(), argv[2:]
        handler = _API.get((section, action))
        if handler is None:
            return ""
        return handler(self, rest)

    def _api_agent_add(self, rest: list[str]) -> str:
        if len(rest) < 2:
            return "-ERR Invalid!\n"
        return self._reply(
            lambda: self.agent_add(rest[0], rest[1]),
            {
                AgentExists: "-ERR Agent already exist!\n",
                InvalidAgentType: "-ERR Agent type invalid!\n",
            },
        )

    def _api_agent_del(self, rest: list[str]) -> str:
        if not rest:
            return "-ERR Invalid!\n"
        self.agent_del(rest[0])
        return "+OK\n"

    def _api_agent_reload(self, rest: list[str]) -> str:
        if not rest:
            return "-ERR Invalid!\n"
        config = self.open_config()
        if config is None:
            return "-ERR Unknown Error!\n"
        for node in config.iterfind("agents/agent"):
            if node.get("name") == rest[0]:
                self._load_agent(node)
                break
        return "+OK\n"

    def _api_agent_set(self, rest: list[str]) -> str:
        if len(rest) < 3:
            return "-ERR Invalid!\n"
        key, name, value = rest[0], rest[1], rest[2]
        return self._reply(
            lambda: self.agent_update(key, value, name),
            {
                InvalidAgentStatus: "-ERR Invalid Agent Status!\n",
                InvalidAgentState: "-ERR Invalid Agent State!\n",
                InvalidAgentType: "-ERR Invalid Agent Type!\n",
                InvalidKey: "-ERR Invalid Agent Update KEY!\n",
                AgentNotFound: "-ERR Agent not found!\n",
            },
        )

    def _api_agent_get(self, rest: list[str]) -> str:
        if len(rest) < 2:
            return "-ERR Invalid!\n"
        try:
            # The value alone, without a newline.
            return self.agent_get(rest[0], rest[1])
        except InvalidKey:
            return "-ERR Invalid Agent Update KEY!\n"
        except AgentNotFound:
            return "-ERR Agent not found!\n"

    def _api_agent_list(self, rest: list[str]) -> str:
        if len(rest) > 1:
            return "-ERR Invalid!\n"
        agents = [a for a in self.agents.values() if not rest or a.name == rest[0]]
        return _listing(AGENT_COLUMNS, [a.row() for a in agents])

    def _api_tier_add(self, rest: list[str]) -> str:
        if len(rest) < 2:
            return "-ERR Invalid!\n"
        level = rest[2] if len(rest) > 2 and rest[2] else "1"
        position = rest[3] if len(rest) > 3 and rest[3] else "1"
        return self._reply(
            lambda: self.tier_add(rest[0], rest[1], "Ready", level, position),
            {
                QueueNotFound: "-ERR Queue not found!\n",
                InvalidTierState: "-ERR Invalid Tier State!\n",
                AgentNotFound: "-ERR Agent not found!\n",
                TierExists: "-ERR Tier already exist!\n",
            },
        )

    def _api_tier_set(self, rest: list[str]) -> str:
        if len(rest) < 4:
            return "-ERR Invalid!\n"
        key, queue_name, agent, value = rest[:4]
        # A missing queue is reported as a missing agent, as FreeSWITCH does.
        return self._reply(
            lambda: self.tier_update(key, value, queue_name, agent),
            {
                InvalidTierState: "-ERR Invalid Tier State!\n",
                InvalidKey: "-ERR Invalid Tier Update KEY!\n",
                AgentNotFound: "-ERR Agent not found!\n",
                QueueNotFound: "-ERR Agent not found!\n",
            },
        )

    def _api_tier_del(self, rest: list[str]) -> str:
        if len(rest) < 2:
            return "-ERR Invalid!\n"
        self.tier_del(rest[0], rest[1])
        return "+OK\n"

    def _api_tier_reload(self, rest: list[str]) -> str:
        if not rest:
            return "-ERR Invalid!\n"
        queue_name = rest[0]
        agent = rest[1] if len(rest) > 1 else None
        config = self.open_config()
        tiers = config.find("tiers") if config is not None else None
        if tiers is None:
            return "-ERR Unknown Error!\n"
        loaded = self._load_tiers(
            tiers,
            load_all=queue_name.lower() == "all",
            queue_name=queue_name,
            agent_name=agent,
        )
        return "+OK\n" if loaded else "-ERR Unknown Error!\n"

    def _api_tier_list(self, rest: list[str]) -> str:
        ordered = sorted(self.tiers, key=lambda t: (t.level, t.position))
        return _listing(TIER_COLUMNS, [t.row() for t in ordered])

    def _api_queue_load(self, rest: list[str]) -> str:
        if not rest:
            return "-ERR Invalid!\n"
        if self.load_queue(rest[0], agents=True, tiers=True) is None:
            return "-ERR Invalid Queue not found!\n"
        return "+OK\n"

    def _api_queue_unload(self, rest: list[str]) -> str:
        if not rest:
            return "-ERR Invalid!\n"
        self.unload_queue(rest[0])
        return "+OK\n"

    def _api_queue_reload(self, rest: list[str]) -> str:
        if not rest:
            return "-ERR Invalid!\n"
        self.unload_queue(rest[0])
        return self._api_queue_load(rest)

    def _api_queue_list(self, rest: list[str]) -> str:
        if not rest:
            # The queue table has its header even when empty.
            lines = [QUEUE_COLUMNS] + [q.row() for q in self.queues.values()]
            return "\n".join(lines) + "\n+OK\n"
        what = rest[0].lower()
        queue_name = rest[1] if len(rest) > 1 else None
        now = self.now()
        if what == "agents":
            pairs = self._queue_agents(queue_name, rest[2:4])
            return _listing(AGENT_COLUMNS, [a.row() for a in pairs])
        if what == "members":
            members = self._members_by_score(queue_name, now)
            return _listing(MEMBER_COLUMNS, [m.row(now) for m in members])
        if what == "tiers":
            tiers = [t for t in self.tiers if t.queue == queue_name]
            return _listing(TIER_COLUMNS, [t.row() for t in tiers])
        return "-ERR Invalid!\n"

    def _queue_agents(self, queue_name: str | None, filters: list[str]) -> list[Agent]:
        """The queue's tiers' agents (``queue list agents q [status [state]]``)."""
        status = filters[0] if filters else None
        state = filters[1] if len(filters) > 1 else None
        out = []
        for agent in self.agents.values():
            for tier in self.tiers:
                if tier.agent != agent.name or tier.queue != queue_name:
                    continue
                if status is not None and agent.status != status:
                    continue
                if state is not None and agent.state != state:
                    continue
                out.append(agent)
        return out

    def _members_by_score(self, queue_name: str | None, now: int) -> list[Member]:
        if queue_name is None:
            # ORDER BY queue, score DESC (stable: equal scores in row order).
            return sorted(self.members, key=lambda m: (m.queue, -m.score(now)))
        members = [m for m in self.members if m.queue == queue_name]
        return sorted(members, key=lambda m: -m.score(now))

    def _api_queue_count(self, rest: list[str]) -> str:
        if not rest:
            return f"{len(self.queues)}\n"
        what = rest[0].lower()
        queue_name = rest[1] if len(rest) > 1 else None
        if what == "agents":
            count = len(self._queue_agents(queue_name, rest[2:4]))
        elif what == "members":
            count = sum(1 for m in self.members if m.queue == queue_name)
        elif what == "tiers":
            count = sum(1 for t in self.tiers if t.queue == queue_name)
        else:
            return "-ERR Invalid!\n"
        return f"{count}\n"

    @staticmethod
    def _reply(
        action: Callable[[], object], errors: dict[type[CallCenterError], str]
    ) -> str:
        try:
            action()
        except CallCenterError as error:
            return errors.get(type(error), "-ERR Unknown Error!\n")
        return "+OK\n"

    def break_api(self, args: str) -> str:
        """``callcenter_break agent <uuid>``: release the agent of that leg."""
        argv = separate_blank(args, 2) if args.strip() else []
        if len(argv) < 2:
            return "-ERR Usage: callcenter_break agent <uuid>\n"
        uuid = argv[1]
        if uuid not in self.switch.channels:
            return f"-ERR Session not found for uuid {uuid}\n"
        self.should_break.add(uuid)
        return ""

    # -- the member side (the callcenter application) --------------------------

    def run_member(self, channel: Channel, data: str) -> None:
        """callcenter_function: the caller waits in the queue for an agent."""
        argv = separate_blank(data, 6) if data.strip() else []
        if not argv:
            log.warning("channel %s: callcenter: no queue name provided", channel.uuid)
            return
        queue_name = argv[0]
        queue = self.get_queue(queue_name)
        if queue is None:
            log.warning("channel %s: queue %s not found", channel.uuid, queue_name)
            return
        joined = self.now()
        channel.answer()
        wait = self._enter_queue(channel, queue, joined)
        log.info("channel %s: %s <%s> joins queue %s", channel.uuid,
                 wait.cid_name, wait.cid_number, queue_name)  # fmt: skip
        self.queue_count(queue_name)
        self.send_presence(queue_name)
        self._wake_dispatcher()
        gevent.spawn(self._member_thread, channel, wait)
        moh = channel.get_variable("cc_moh_override") or queue.moh_sound
        self._hold(channel, wait, _expand(channel, moh) if moh else None)
        self._leave(channel, wait)

    def _enter_queue(self, channel: Channel, queue: Queue, joined: int) -> _Waiting:
        """The member's variables, member-queue-start (or -resume), its row."""
        start_epoch = channel.profile.times.get("answered", 0) // 1_000_000
        member_uuid, abandoned = self._resumable(queue, channel)
        channel.set_variable("cc_side", "member")
        channel.set_variable("cc_member_uuid", member_uuid)
        channel.set_variable("cc_agent_found", None)
        channel.set_variable("cc_agent_bridged", None)
        base_score = _atoi(channel.get_variable("cc_base_score"))
        if start_epoch and _same(queue.time_base_score, "system"):
            base_score += self.now() - start_epoch
        channel.set_variable("cc_queue_joined_epoch", str(self.now()))
        channel.set_variable("cc_queue", queue.name)
        if abandoned:
            abandoned = self._rejoin(queue.name, member_uuid, channel)
        cid_name = _caller_field(channel, "caller_id_name")
        cid_number = _caller_field(channel, "caller_id_number")
        action = "member-queue-resume" if abandoned else "member-queue-start"
        self._fire_on(
            channel,
            SITE_MEMBER_START,
            [
                ("CC-Queue", queue.name),
                ("CC-Action", action),
                ("CC-Member-UUID", member_uuid),
                ("CC-Member-Session-UUID", channel.uuid),
                ("CC-Member-CID-Name", cid_name),
                ("CC-Member-CID-Number", cid_number),
            ],
        )
        if not abandoned:
            self._join(queue, member_uuid, channel, start_epoch, base_score)
        return _Waiting(
            queue.name, member_uuid, channel.uuid, cid_name, cid_number, joined
        )

    def _resumable(self, queue: Queue, channel: Channel) -> tuple[str, int]:
        """A previous abandoned place of this caller (abandoned-resume-allowed)."""
        if queue.abandoned_resume_allowed:
            number = _caller_field(channel, "caller_id_number")
            candidates = [
                m
                for m in self.members
                if m.queue == queue.name
                and m.cid_number == number
                and m.state == "Abandoned"
            ]
            candidates.sort(key=lambda m: -m.abandoned_epoch)
            if candidates:
                return candidates[0].uuid, candidates[0].abandoned_epoch
        return self.switch.new_uuid(), 0

    def _rejoin(self, queue_name: str, member_uuid: str, channel: Channel) -> int:
        member = self._member(member_uuid)
        if member is not None and member.state == "Abandoned":
            member.session_uuid = channel.uuid
            member.state = "Waiting"
            member.rejoined_epoch = self.now()
            member.instance_id = self.instance_id
        if (
            member is not None
            and member.session_uuid == channel.uuid
            and member.state == "Waiting"
            and member.queue == queue_name
        ):
            return member.abandoned_epoch
        log.error("channel %s: restoring the place in %s failed, joining again",
                  channel.uuid, queue_name)  # fmt: skip
        return 0

    def _join(
        self, queue: Queue, member_uuid: str, channel: Channel, start: int, score: int
    ) -> None:
        strategy = queue.strategy.lower()
        serving = strategy if strategy in ("ring-all", "ring-progressively") else ""
        self.members.append(
            Member(
                queue=queue.name,
                instance_id=self.instance_id,
                uuid=member_uuid,
                session_uuid=channel.uuid,
                cid_number=_caller_field(channel, "caller_id_number"),
                cid_name=_caller_field(channel, "caller_id_name"),
                system_epoch=start,
                joined_epoch=self.now(),
                base_score=score,
                serving_agent=serving,
            )
        )

    def _member(self, member_uuid: str) -> Member | None:
        return next((m for m in self.members if m.uuid == member_uuid), None)

    def _hold(self, channel: Channel, wait: _Waiting, moh: str | None) -> None:
        """The music-on-hold loop, until bridged, gone, broken out or a key."""
        moh_valid = True
        while not channel.interrupted:
            if _true(channel.get_variable("cc_agent_bridged")):
                break
            if wait.cancel_reason != "NONE":
                break
            keys = channel.get_variable("cc_exit_keys") or ""
            if moh_valid and moh:
                result = _play(channel, moh, keys)
                if result == "FILE NOT FOUND":
                    log.warning("channel %s: can't play %s, waiting without audio",
                                channel.uuid, moh)  # fmt: skip
                    moh_valid = False
                key = _exit_key(channel, keys)
            else:
                digit = channel.read_digit(MEMBER_PERIOD)
                key = digit if digit and keys and digit in keys else None
            if key:
                channel.set_variable("cc_exit_key", key)
                wait.cancel_reason = "EXIT_WITH_KEY"
                break

    def _leave(self, channel: Channel, wait: _Waiting) -> None:
        """After the wait: answered by an agent, or abandoned."""
        agent_found = _true(channel.get_variable("cc_agent_bridged")) or _true(
            channel.get_variable("cc_agent_found")
        )
        wait.running = False
        if wait.cancel_reason == "NONE" and not agent_found:
            wait.cancel_reason = "BREAK_OUT"
        channel.set_variable("cc_agent_found", None)
        queue_name = wait.queue_name
        if channel.hungup or wait.cancel_reason != "NONE":
            self._abandon(channel, wait)
        else:
            log.info("channel %s: answered by an agent in queue %s",
                     channel.uuid, queue_name)  # fmt: skip
            channel.set_variable("cc_cause", "answered")
            queue = self.get_queue(queue_name)
            if queue is not None:
                queue.calls_answered += 1
        self.queue_count(queue_name)
        self.send_presence(queue_name)

    def _abandon(self, channel: Channel, wait: _Waiting) -> None:
        now = self.now()
        log.info("channel %s: abandoned queue %s (%s)", channel.uuid,
                 wait.queue_name, wait.cancel_reason)  # fmt: skip
        member = self._member(wait.member_uuid)
        if member is not None and member.instance_id == self.instance_id:
            member.state = "Abandoned"
            member.session_uuid = ""
            member.abandoned_epoch = now
        self.hangup_matching(
            "cc_member_pre_answer_uuid", wait.member_uuid, "ORIGINATOR_CANCEL"
        )
        self._fire_on(
            channel,
            SITE_MEMBER_CANCEL,
            [
                ("CC-Queue", wait.queue_name),
                ("CC-Action", "member-queue-end"),
                ("CC-Member-Leaving-Time", str(now)),
                ("CC-Member-Joined-Time", str(wait.joined)),
                ("CC-Cause", "Cancel"),
                ("CC-Cancel-Reason", wait.cancel_reason),
                ("CC-Member-UUID", wait.member_uuid),
                ("CC-Member-Session-UUID", wait.session_uuid),
                ("CC-Member-CID-Name", _caller_field(channel, "caller_id_name")),
                ("CC-Member-CID-Number", _caller_field(channel, "caller_id_number")),
            ],
        )
        channel.set_variable("cc_queue_canceled_epoch", str(self.now()))
        channel.set_variable("cc_cause", "cancel")
        channel.set_variable("cc_cancel_reason", wait.cancel_reason)
        queue = self.get_queue(wait.queue_name)
        if queue is not None:
            queue.calls_abandoned += 1
        self._wake_dispatcher()

    def _member_thread(self, channel: Channel, wait: _Waiting) -> None:
        """cc_member_thread_run: the member's time limits, every 0.5 s."""
        if channel.state == CS_DESTROY:
            return
        channel.read_lock()
        wait.last_announce = self.now()
        try:
            while not channel.interrupted and wait.running:
                queue = self.get_queue(wait.queue_name)
                if queue is None:
                    log.warning("channel %s: queue %s not found",
                                channel.uuid, wait.queue_name)  # fmt: skip
                    break
                self._check_limits(channel, wait, queue)
                self._announce(channel, wait, queue)
                self.clock.sleep(MEMBER_PERIOD)
        finally:
            channel.read_unlock()

    def _announce(self, channel: Channel, wait: _Waiting, queue: Queue) -> None:
        """announce-sound every announce-frequency seconds, over the music.

        FreeSWITCH displaces the file into what the member hears (a media
        bug: MEDIA_BUG_START, MEDIA_BUG_STOP when the file has played).
        """
        path = queue.announce_sound
        now = self.now()
        frequency = queue.announce_frequency
        if not (
            wait.announce_valid and path and 0 < frequency <= now - wait.last_announce
        ):
            return
        self._stop_announcement(channel, wait)
        length = self.switch.duration_of(path)
        if length is None:
            log.warning("channel %s: can't play announcement %s", channel.uuid, path)
            wait.announce_valid = False
            return
        wait.last_announce = now
        wait.announcing = path
        wait.announce_done = gevent.event.Event()
        self._media_bug(channel, "MEDIA_BUG_START", path, SITE_BUG_START)
        gevent.spawn(self._announcement, channel, wait, wait.announce_done, length)

    def _announcement(
        self,
        channel: Channel,
        wait: _Waiting,
        done: gevent.event.Event,
        length: float,
    ) -> None:
        """The displaced file ends by itself, with the call, or when replaced."""
        ended = gevent.spawn(
            channel.wait_hangup, None if length == float("inf") else length
        )
        try:
            gevent.wait([done, ended], count=1)
        finally:
            ended.kill()
        if wait.announce_done is done:
            self._stop_announcement(channel, wait)

    def _stop_announcement(self, channel: Channel, wait: _Waiting) -> None:
        """switch_ivr_stop_displace_session: the bug goes (MEDIA_BUG_STOP)."""
        if wait.announcing is None or wait.announce_done is None:
            return
        path, done = wait.announcing, wait.announce_done
        wait.announcing = wait.announce_done = None
        done.set()
        self._media_bug(channel, "MEDIA_BUG_STOP", path, SITE_BUG_STOP)

    def _media_bug(
        self, channel: Channel, name: str, path: str, site: CallSite
    ) -> None:
        event = channel_event(
            channel,
            name,
            lead=[("Media-Bug-Function", "displace"), ("Media-Bug-Target", path)],
        )
        event.origin = site
        self.switch.fire(event)

    def _check_limits(self, channel: Channel, wait: _Waiting, queue: Queue) -> None:
        now = self.now()
        if queue.max_wait_time > 0 and queue.max_wait_time <= now - wait.joined:
            # Give an agent being connected its chance first.
            while channel.uuid in self.connecting:
                self.clock.sleep(0.01)
            if channel.partner is None:
                log.info("channel %s: max wait time of queue %s reached",
                         channel.uuid, queue.name)  # fmt: skip
                self._break_out(channel, wait, "TIMEOUT")
        limit = queue.max_wait_time_with_no_agent
        check, exist = queue.last_agent_exist_check, queue.last_agent_exist
        if (
            limit > 0
            and check > exist
            and wait.joined <= check
            and check - exist >= limit
        ):
            grace = queue.max_wait_time_with_no_agent_time_reached
            if grace <= 0 or check - wait.joined >= grace + limit:
                log.info("channel %s: no agent in queue %s for %s s",
                         channel.uuid, queue.name, limit)  # fmt: skip
                self._break_out(channel, wait, "NO_AGENT_TIMEOUT")

    @staticmethod
    def _break_out(channel: Channel, wait: _Waiting, reason: str) -> None:
        wait.cancel_reason = reason
        channel.request_break()

    # -- the dispatcher ------------------------------------------------------

    def _wake_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.dead:
            self._dispatcher = gevent.spawn(self._dispatch_loop)

    def _dispatch_loop(self) -> None:
        """cc_agent_dispatch_thread_run, alive while there are members."""
        try:
            while True:
                try:
                    self._dispatch_pass()
                except Exception:
                    log.exception("callcenter: dispatch failed")
                delay = self._next_dispatch()
                if delay is None:
                    return
                self.clock.sleep(delay)
        finally:
            if self._dispatcher is gevent.getcurrent():
                self._dispatcher = None

    def _dispatchable(self, member: Member) -> bool:
        if member.instance_id != self.instance_id:
            return False
        if member.state in ("Waiting", "Abandoned"):
            return True
        return member.state == "Trying" and member.serving_agent in (
            "ring-all",
            "ring-progressively",
        )

    def _next_dispatch(self) -> float | None:
        """Poll while members wait; otherwise sleep until an abandoned one expires."""
        waiting = [m for m in self.members if self._dispatchable(m)]
        if any(m.state != "Abandoned" for m in waiting):
            return DISPATCH_PERIOD
        deadlines = []
        for member in waiting:
            queue = self.queues.get(member.queue)
            discard = queue.discard_abandoned_after if queue else 0
            since = member.abandoned_epoch or member.joined_epoch
            deadlines.append(since + discard + 1)
        if not deadlines:
            return None
        return max(min(deadlines) - self.clock.now(), DISPATCH_PERIOD)

    def _dispatch_pass(self) -> None:
        now = self.now()
        members = [m for m in self.members if self._dispatchable(m)]
        members.sort(key=lambda m: -m.score(now))
        for member in members:
            if member in self.members:
                self._members_callback(member, now)

    def _members_callback(self, member: Member, now: int) -> None:
        queue = self.get_queue(member.queue)
        if queue is None:
            log.warning("callcenter: queue %s not found, member %s deleted",
                        member.queue, member.uuid)  # fmt: skip
            self.members.remove(member)
            return
        if member.state == "Abandoned":
            since = member.abandoned_epoch or member.joined_epoch
            if since + queue.discard_abandoned_after < now:
                self.members.remove(member)
            return
        strategy = queue.strategy.lower()
        _track_strategy(member, strategy)
        if strategy in ("ring-all", "ring-progressively") and member.state == "Waiting":
            member.state = "Trying"
        if strategy == "ring-progressively" and self._progressing(queue, member, now):
            return
        state = _Pass(queue, member, now)
        for agent, tier in self._candidates(queue, member, strategy):
            if self._agents_callback(state, agent, tier):
                break
        queue.last_agent_exist_check = now
        if state.agent_found:
            queue.last_agent_exist = now
        elif strategy == "top-down":
            channel = self.switch.channels.get(member.session_uuid)
            if channel is not None:
                channel.set_variable("cc_last_agent_tier_position", None)
                channel.set_variable("cc_last_agent_tier_level", None)

    def _progressing(self, queue: Queue, member: Member, now: int) -> bool:
        """ring-progressively: too soon to ring the next agent."""
        channel = self.switch.channels.get(member.session_uuid)
        if channel is None:
            return False
        last = channel.get_variable("cc_last_originated_call")
        delay = queue.ring_progressively_delay or 10
        return bool(
            last
            and not channel.interrupted
            and now < _atoi(last) + delay
            and not _true(channel.get_variable("cc_agent_found"))
        )

    def _candidates(
        self, queue: Queue, member: Member, strategy: str
    ) -> list[tuple[Agent, Tier]]:
        """The agents of the queue in the order the strategy's SQL lists them."""
        rows = [
            (agent, tier)
            for agent in self.agents.values()
            for tier in self.tiers
            if tier.agent == agent.name and tier.queue == queue.name
        ]
        listed = [(a, t) for a, t in rows if a.status in _LISTED_STATUSES]
        if strategy == "top-down":
            return self._top_down(listed, member)
        if strategy == "round-robin":
            return _round_robin(rows, listed)
        # sequentially-by-agent-order's order serves unknown strategies too.
        order = _ORDERS.get(strategy, _ORDERS["sequentially-by-agent-order"])
        return sorted(listed, key=order)

    def _top_down(
        self, listed: list[tuple[Agent, Tier]], member: Member
    ) -> list[tuple[Agent, Tier]]:
        channel = self.switch.channels.get(member.session_uuid)
        position = level = 0
        if channel is not None:
            position = _atoi(channel.get_variable("cc_last_agent_tier_position"))
            level = _atoi(channel.get_variable("cc_last_agent_tier_level"))
        first = [
            (1, a, t) for a, t in listed if t.position > position and t.level == level
        ]
        second = [(2, a, t) for a, t in listed if t.level > level]
        ordered = sorted(
            first + second,
            key=lambda r: (r[0], r[2].level, r[2].position, r[1].last_offered_call),
        )
        return [(a, t) for _, a, t in ordered]

    def _agents_callback(self, state: _Pass, agent: Agent, tier: Tier) -> bool:
        """agents_callback: offer the member to this agent; True stops the list."""
        queue, member, now = state.queue, state.member, state.now
        strategy = queue.strategy.lower()
        state.agent_found = True
        if queue.tier_rules_apply and tier.level > state.tier:
            waited = now - member.joined_epoch
            if queue.tier_rule_no_agent_no_wait and state.tier_agent_available == 0:
                state.tier = tier.level
            elif (
                queue.tier_rule_wait_multiply_level
                and waited >= tier.level * queue.tier_rule_wait_second
            ) or (
                not queue.tier_rule_wait_multiply_level
                and waited >= queue.tier_rule_wait_second
            ):
                state.tier = tier.level
                state.tier_agent_available = 0
            else:
                return True
        state.tier_agent_available += 1
        if not self._can_take(queue, agent, tier, now):
            return False
        if not _same(agent.instance_id, SELF):
            return strategy == "ring-all"
        if self.reserve_agents and not self._quietly(
            self.agent_update, "state_if_waiting", "Reserved", agent.name
        ):
            return False
        if not self._assign(member, agent, strategy):
            return True
        self._start_offer(queue, member, agent, tier, strategy)
        return strategy != "ring-all"

    @staticmethod
    def _can_take(queue: Queue, agent: Agent, tier: Tier, now: int) -> bool:
        return (
            (_same(tier.state, "No Answer") or _same(tier.state, "Ready"))
            and _same(agent.state, "Waiting")
            and agent.last_bridge_end < now - agent.wrap_up_time
            and agent.ready_time <= now
            and not _same(agent.status, "On Break")
            and not (
                queue.skip_agents_with_external_calls and agent.external_calls_count > 0
            )
        )

    def _assign(self, member: Member, agent: Agent, strategy: str) -> bool:
        """The member goes to this agent (or, ring-all, stays everyone's)."""
        if strategy in ("ring-all", "ring-progressively"):
            return member.serving_agent == strategy
        if member.state == "Waiting":
            member.serving_agent = agent.name
            member.serving_system = agent.instance_id
            member.state = "Trying"
        return member.serving_agent == agent.name and (
            member.serving_system == agent.instance_id
        )

    def _start_offer(
        self, queue: Queue, member: Member, agent: Agent, tier: Tier, strategy: str
    ) -> None:
        offer = _Offer(
            member_uuid=member.uuid,
            member_session_uuid=member.session_uuid,
            queue_name=queue.name,
            strategy=queue.strategy,
            member_joined_epoch=member.joined_epoch,
            member_cid_name=member.cid_name,
            member_cid_number=member.cid_number,
            agent_name=agent.name,
            agent_system=agent.instance_id,
            agent_status=agent.status,
            agent_type=agent.type,
            agent_uuid=_text(agent.uuid),
            contact=_text(agent.contact),
            record_template=queue.record_template,
            no_answer_count=agent.no_answer_count,
            max_no_answer=agent.max_no_answer,
            reject_delay_time=agent.reject_delay_time,
            busy_delay_time=agent.busy_delay_time,
            no_answer_delay_time=agent.no_answer_delay_time,
            agent_no_answer_status=_canonical(
                AGENT_STATUSES, queue.agent_no_answer_status
            )
            or "On Break",
        )
        channel = self.switch.channels.get(member.session_uuid)
        if channel is not None and strategy == "ring-progressively":
            channel.set_variable("cc_last_originated_call", str(self.now()))
        if channel is not None and strategy == "top-down":
            channel.set_variable("cc_last_agent_tier_position", str(tier.position))
            channel.set_variable("cc_last_agent_tier_level", str(tier.level))
        self._quietly(self.agent_update, "state", "Receiving", agent.name)
        for other in self.tiers:
            if other.agent != agent.name:
                continue
            if other.queue == queue.name:
                other.state = "Offering"
            elif other.state == "Ready":
                other.state = "Standby"
        log.info("callcenter: queue %s offers %s to agent %s",
                 queue.name, member.session_uuid, agent.name)  # fmt: skip
        gevent.spawn(self._agent_thread, offer)

    # -- the agent side ----------------------------------------------------------

    def _agent_thread(self, offer: _Offer) -> None:
        """outbound_agent_thread_run: one offer, from originate to wrap-up."""
        member = self.switch.channels.get(offer.member_session_uuid)
        locked: list[Channel] = []
        result = _OfferResult()
        try:
            if member is None or member.state == CS_DESTROY:
                self._member_gone(offer)
            else:
                member.read_lock()
                locked.append(member)
                self._offer_to_agent(offer, member, locked, result)
        except Exception:
            log.exception("callcenter: offer to agent %s failed", offer.agent_name)
        finally:
            self._offer_done(offer, result)
            for channel in locked:
                channel.read_unlock()
            self._wake_dispatcher()

    def _member_gone(self, offer: _Offer) -> None:
        log.debug(
            "channel %s: gone from queue %s before agent %s was called",
            offer.member_session_uuid,
            offer.queue_name,
            offer.agent_name,
        )
        member = self._member(offer.member_uuid)
        if member is not None and member.state != "Abandoned":
            member.state = "Abandoned"
            member.session_uuid = ""
            member.abandoned_epoch = self.now()

    def _offer_to_agent(
        self,
        offer: _Offer,
        member: Channel,
        locked: list[Channel],
        result: _OfferResult,
    ) -> None:
        headers = [
            ("CC-Queue", offer.queue_name),
            ("CC-Action", "agent-offering"),
            ("CC-Agent", offer.agent_name),
            ("CC-Agent-Type", offer.agent_type),
            ("CC-Agent-System", offer.agent_system),
            ("CC-Member-UUID", offer.member_uuid),
            ("CC-Member-Session-UUID", offer.member_session_uuid),
            ("CC-Member-CID-Name", offer.member_cid_name),
            ("CC-Member-CID-Number", offer.member_cid_number),
        ]
        if member.profile.rdnis:
            headers.append(("CC-Member-DNIS", member.profile.rdnis))
        self._fire(SITE_OFFERING, headers)
        if _same(offer.agent_type, TYPE_CALLBACK):
            agent = self._call_agent(offer, member, result)
        elif _same(offer.agent_type, TYPE_UUID_STANDBY):
            agent = self._standby_agent(offer, member)
        else:
            log.warning("callcenter: agent %s has invalid type %s",
                        offer.agent_name, offer.agent_type)  # fmt: skip
            result.cause = "USER_NOT_REGISTERED"
            agent = None
        if agent is None:
            self._offer_failed(offer, member, result)
            return
        agent.read_lock()
        locked.append(agent)
        self._connect(offer, member, agent, result)

    def _ovars(self, offer: _Offer, member: Channel) -> tuple[dict[str, str], str, str]:
        """The REQUEST_PARAMS event handed to the originate as its variables."""
        cid_name = (
            member.get_variable("effective_caller_id_name") or offer.member_cid_name
        )
        cid_number = (
            member.get_variable("effective_caller_id_number") or offer.member_cid_number
        )
        prefix = member.get_variable("cc_outbound_cid_name_prefix")
        if prefix:
            cid_name = f"{prefix}{cid_name}"
        event = Event("REQUEST_PARAMS", origin=SITE_OVARS)
        switch = self.switch
        stamp(event, switch.identity, switch.next_sequence(), self.clock.now_us())
        ovars = dict(event.headers)  # type: ignore[arg-type]
        ovars.update(
            {
                "cc_queue": offer.queue_name,
                "cc_queue_joined_epoch": str(offer.member_joined_epoch),
                "cc_member_uuid": offer.member_uuid,
                "cc_member_session_uuid": offer.member_session_uuid,
                "cc_member_pre_answer_uuid": offer.member_uuid,
                "cc_agent": offer.agent_name,
                "cc_agent_type": offer.agent_type,
                "cc_side": "agent",
                "loopback_bowout": "false",
                "loopback_bowout_on_execute": "false",
                "ignore_early_media": "true",
            }
        )
        for name, value in _exports(member, "cc_export_vars"):
            ovars.pop(name, None)
            ovars[name] = value
        return ovars, cid_name, cid_number

    def _call_agent(
        self, offer: _Offer, member: Channel, result: _OfferResult
    ) -> Channel | None:
        """Callback agents: originate the contact (no calling session)."""
        from simulator.originate import DialStringError, accepted

        ovars, cid_name, cid_number = self._ovars(offer, member)
        ovars["origination_caller_id_name"] = cid_name
        ovars["origination_caller_id_number"] = cid_number
        result.called = self.now()
        dial = _expand(member, offer.contact)
        self.connecting.add(member.uuid)
        log.info("channel %s: calling agent %s at %s", member.uuid,
                 offer.agent_name, dial)  # fmt: skip
        try:
            outcome = self.switch.originate(
                dial, timeout=float(self.originate_timeout), variables=ovars
            )
        except DialStringError:
            result.cause = "DESTINATION_OUT_OF_ORDER"
            return None
        result.cause = outcome.cause
        agent = outcome.channel
        result.originated = agent
        if agent is None:
            return None
        # As after every answered originate: a second CHANNEL_OUTGOING and
        # the variables of the leg that answered.
        agent.fire("CHANNEL_OUTGOING")
        accepted(agent)
        if agent.get_variable("other_loopback_leg_uuid"):
            return self._behind_loopback(offer, member, agent)
        return agent

    def _behind_loopback(
        self, offer: _Offer, member: Channel, loop_a: Channel
    ) -> Channel | None:
        """A loopback contact: the real agent leg is bridged to its -b side."""
        loop_b = self.switch.channels.get(
            loop_a.get_variable("other_loopback_leg_uuid") or ""
        )
        if loop_b is None:
            loop_a.hangup("DESTINATION_OUT_OF_ORDER")
            return None
        if not self._wait_for(lambda: loop_b.partner is not None, 5.0, member):
            loop_a.hangup("DESTINATION_OUT_OF_ORDER")
            return None
        real = loop_b.partner
        if real is None or real.hungup:
            loop_a.hangup("DESTINATION_OUT_OF_ORDER")
            return None
        for name, value in (
            ("cc_side", "agent"),
            ("cc_queue", offer.queue_name),
            ("cc_agent", offer.agent_name),
            ("cc_agent_type", offer.agent_type),
            ("cc_member_uuid", offer.member_uuid),
            ("cc_member_session_uuid", offer.member_session_uuid),
        ):
            real.set_variable(name, value)
        for name, value in _exports(member, "cc_export_vars"):
            real.set_variable(name, value)
        # Keep the loopback legs out of a ring-all hangup.
        loop_a.set_variable("cc_member_pre_answer_uuid", None)
        loop_b.set_variable("cc_member_pre_answer_uuid", None)
        return real

    def _standby_agent(self, offer: _Offer, member: Channel) -> Channel | None:
        """uuid-standby agents: their own leg, already up."""
        agent = self.switch.channels.get(offer.agent_uuid)
        if agent is None or agent.hungup:
            self._quietly(self.agent_update, "status", "Logged Out", offer.agent_name)
            self._quietly(self.agent_update, "uuid", "", offer.agent_name)
            return None
        for name, value in (
            ("cc_side", "agent"),
            ("cc_queue", offer.queue_name),
            ("cc_agent", offer.agent_name),
            ("cc_agent_type", offer.agent_type),
            ("cc_member_uuid", offer.member_uuid),
            ("cc_member_session_uuid", offer.member_session_uuid),
        ):
            agent.set_variable(name, value)
        for name in (member.get_variable("cc_export_vars") or "").split(","):
            if name:
                agent.set_variable(name, member.get_variable(name))
        return agent

    def _wait_for(
        self, test: Callable[[], bool], seconds: float, member: Channel | None = None
    ) -> bool:
        """switch_channel_wait_for_flag: poll until ``test`` or the time is up."""
        deadline = self.clock.monotonic() + seconds
        while not test():
            if member is not None and member.hungup:
                return False
            if self.clock.monotonic() >= deadline:
                return False
            self.clock.sleep(0.001)
        return True

    def _connect(
        self, offer: _Offer, member: Channel, agent: Channel, result: _OfferResult
    ) -> None:
        """The agent answered: bridge-agent-start, uuid_bridge, the call."""
        agent.set_variable("cc_member_pre_answer_uuid", None)
        strategy = offer.strategy.lower()
        if strategy in ("ring-all", "ring-progressively") and not self._won(
            offer, strategy, agent
        ):
            return
        result.answered = self.now()
        self._bridge_event(offer, member, agent, result, "bridge-agent-start")
        if offer.record_template:
            self._record(member, offer.record_template)
        announce = member.get_variable("cc_outbound_announce")
        if announce:
            _play_array(agent, announce)
        member.set_variable("cc_agent_found", "true")
        member.set_variable("cc_agent_uuid", agent.uuid)
        result.bridged = self._bridge(member, agent, result.originated is agent)
        if not result.bridged and member.hungup:
            self._bridge_failed_member_gone(offer, member, agent)
        elif not result.bridged and agent.hungup:
            log.info("channel %s: agent %s gone before the bridge",
                     member.uuid, offer.agent_name)  # fmt: skip
            row = self._member(offer.member_uuid)
            if row is not None:
                row.state = "Waiting"
        else:
            result.bridged = True
            self._bridged(offer, member, agent)
        self.connecting.discard(member.uuid)
        self._talk(offer, member, agent, result)

    def _won(self, offer: _Offer, strategy: str, agent: Channel) -> bool:
        """ring-all: the first agent to answer takes the member."""
        row = self._member(offer.member_uuid)
        if (
            row is not None
            and row.state == "Trying"
            and row.instance_id == self.instance_id
            and row.serving_agent == strategy
        ):
            row.serving_agent = offer.agent_name
            row.serving_system = SELF
        if row is None or row.serving_agent != offer.agent_name:
            # Another agent was faster; this leg has no one to talk to.
            agent.hangup("LOSE_RACE")
            return False
        self.hangup_matching(
            "cc_member_pre_answer_uuid", offer.member_uuid, "LOSE_RACE"
        )
        return True

    def _bridge_event(
        self,
        offer: _Offer,
        member: Channel,
        agent: Channel,
        result: _OfferResult,
        action: str,
    ) -> None:
        headers = [
            ("CC-Queue", offer.queue_name),
            ("CC-Action", action),
        ]
        if action == "bridge-agent-end":
            headers.append(("CC-Hangup-Cause", result.cause))
        headers += [
            ("CC-Agent", offer.agent_name),
            ("CC-Agent-System", offer.agent_system),
            ("CC-Agent-UUID", agent.uuid),
        ]
        if action == "bridge-agent-end":
            headers.append(("CC-Agent-Bridged", "true" if result.bridged else "false"))
        headers += [
            ("CC-Agent-Called-Time", str(result.called)),
            ("CC-Agent-Answered-Time", str(result.answered)),
            ("CC-Member-Joined-Time", str(offer.member_joined_epoch)),
        ]
        if action == "bridge-agent-end":
            headers.append(("CC-Bridge-Terminated-Time", str(self.now())))
        headers += [
            ("CC-Member-UUID", offer.member_uuid),
            ("CC-Member-Session-UUID", offer.member_session_uuid),
            ("CC-Member-CID-Name", offer.member_cid_name),
            ("CC-Member-CID-Number", offer.member_cid_number),
        ]
        if action == "bridge-agent-start" and member.profile.rdnis:
            headers.append(("CC-Member-DNIS", member.profile.rdnis))
        site = SITE_BRIDGE_START if action == "bridge-agent-start" else SITE_BRIDGE_END
        self._fire_on(agent, site, headers)

    def _record(self, member: Channel, template: str) -> None:
        """record-template: the member's leg is recorded until it hangs up."""
        path = _expand(member, template)
        member.set_variable("cc_record_filename", path)
        member.record_start(path)

        def stop() -> None:
            member.wait_hangup()
            member.record_stop(path)

        gevent.spawn(stop)

    def _bridge(self, member: Channel, agent: Channel, idle: bool) -> bool:
        """switch_ivr_uuid_bridge, then wait (3 s at most) until it holds."""
        if member.hungup or agent.hungup:
            return False
        settled = gevent.event.Event()

        def watch(event: Event) -> None:
            # CF_BRIDGED: the thread goes on as soon as the bridge is up.
            uuid = event.get("Unique-ID")
            if event.name == "CHANNEL_BRIDGE" and uuid == member.uuid:
                settled.set()
            elif event.name == "CHANNEL_HANGUP" and uuid in (member.uuid, agent.uuid):
                settled.set()

        self.switch.add_listener(watch)
        try:
            self.switch.uuid_bridge(member, agent)
            if idle:
                # The leg we originated had nothing to run: now the bridge.
                agent.set_driver(agent.route_loop)
            self.clock.wait(settled, 3.0)
        finally:
            self.switch.remove_listener(watch)
        return member.partner is agent and not agent.hungup

    def _bridge_failed_member_gone(
        self, offer: _Offer, member: Channel, agent: Channel
    ) -> None:
        log.info("channel %s: gone before agent %s was bridged",
                 member.uuid, offer.agent_name)  # fmt: skip
        agent.set_variable("cc_agent_bridged", "false")
        member.set_variable("cc_agent_bridged", "false")
        row = self._member(offer.member_uuid)
        if row is not None:
            row.state = "Abandoned"
            row.session_uuid = ""
            row.abandoned_epoch = self.now()
        announce = member.get_variable("cc_bridge_failed_outbound_announce")
        if announce:
            _play_array(agent, announce)
        if _same(offer.agent_type, TYPE_CALLBACK):
            agent.hangup("ORIGINATOR_CANCEL")

    def _bridged(self, offer: _Offer, member: Channel, agent: Channel) -> None:
        log.info("channel %s: bridged to agent %s", member.uuid, offer.agent_name)
        now = self.now()
        member.set_variable("cc_agent_bridged", "true")
        agent.set_variable("cc_agent_bridged", "true")
        row = self._member(offer.member_uuid)
        if row is not None:
            row.state = "Answered"
            row.bridge_epoch = now
        member.set_variable("cc_agent", offer.agent_name)
        member.set_variable("cc_queue_answered_epoch", str(self.now()))
        record = self.agents.get(offer.agent_name)
        if record is not None and record.instance_id == offer.agent_system:
            record.uuid = agent.uuid
            record.last_bridge_start = now
            record.calls_answered += 1
            record.no_answer_count = 0
        self._quietly(
            self.tier_update,
            "state",
            "Active Inbound",
            offer.queue_name,
            offer.agent_name,
        )
        self._quietly(self.agent_update, "state", "In a queue call", offer.agent_name)

    def _talk(
        self, offer: _Offer, member: Channel, agent: Channel, result: _OfferResult
    ) -> None:
        """Until the agent's leg goes: then bridge-agent-end, member-queue-end."""
        standby = _same(offer.agent_type, TYPE_UUID_STANDBY)
        while result.bridged and not agent.hungup:
            if standby and agent.partner is None:
                break
            if agent.uuid in self.should_break:
                log.info("channel %s: callcenter_break releases agent %s",
                         agent.uuid, offer.agent_name)  # fmt: skip
                self.should_break.discard(agent.uuid)
                break
            self.clock.sleep(AGENT_PERIOD)
        # The thread polls every 100 ms; by then the legs have run their
        # hangup states (they wait for this thread only to be destroyed).
        self._wait_for(lambda: _reported(agent) and _reported(member), 5.0)
        result.tier_state = "Ready"
        self._bridge_event(offer, member, agent, result, "bridge-agent-end")
        if not result.bridged:
            return
        member.set_variable("cc_queue_terminated_epoch", str(self.now()))
        now = self.now()
        record = self.agents.get(offer.agent_name)
        if record is not None and record.instance_id == offer.agent_system:
            if not standby:
                record.uuid = ""
            record.last_bridge_end = now
            record.talk_time += now - record.last_bridge_start
        row = self._member(offer.member_uuid)
        if row is not None and row.instance_id == self.instance_id:
            self.members.remove(row)
        self._fire_on(
            member,
            SITE_MEMBER_END,
            [
                ("CC-Queue", offer.queue_name),
                ("CC-Action", "member-queue-end"),
                ("CC-Hangup-Cause", result.cause),
                ("CC-Cause", "Terminated"),
                ("CC-Agent", offer.agent_name),
                ("CC-Agent-System", offer.agent_system),
                ("CC-Agent-UUID", agent.uuid),
                ("CC-Agent-Called-Time", str(result.called)),
                ("CC-Agent-Answered-Time", str(result.answered)),
                ("CC-Member-Leaving-Time", str(self.now())),
                ("CC-Member-Joined-Time", str(offer.member_joined_epoch)),
                ("CC-Member-UUID", offer.member_uuid),
                ("CC-Member-Session-UUID", offer.member_session_uuid),
                ("CC-Member-CID-Name", offer.member_cid_name),
                ("CC-Member-CID-Number", offer.member_cid_number),
            ],
        )

    def _offer_failed(
        self, offer: _Offer, member: Channel, result: _OfferResult
    ) -> None:
        """The agent did not answer (or could not be called)."""
        self.connecting.discard(member.uuid)
        row = self._member(offer.member_uuid)
        if (
            row is not None
            and row.serving_agent == offer.agent_name
            and row.serving_system == offer.agent_system
            and row.instance_id == self.instance_id
        ):
            # Only Trying goes back to Waiting (the member may have left).
            if row.state == "Trying":
                row.state = "Waiting"
            row.serving_agent = row.serving_system = ""
        cause = result.cause
        log.info("channel %s: agent %s not reached: %s",
                 member.uuid, offer.agent_name, cause)  # fmt: skip
        delay = self._delay_after(offer, cause, result)
        if delay > 0:
            self._quietly(
                self.agent_update,
                "ready_time",
                str(self.now() + delay),
                offer.agent_name,
            )
        self._fire(
            SITE_BRIDGE_FAIL,
            [
                ("CC-Queue", offer.queue_name),
                ("CC-Action", "bridge-agent-fail"),
                ("CC-Hangup-Cause", cause),
                ("CC-Agent", offer.agent_name),
                ("CC-Agent-System", offer.agent_system),
                ("CC-Agent-Called-Time", str(result.called)),
                ("CC-Agent-Aborted-Time", str(self.now())),
                ("CC-Member-UUID", offer.member_uuid),
                ("CC-Member-Session-UUID", offer.member_session_uuid),
                ("CC-Member-CID-Name", offer.member_cid_name),
                ("CC-Member-CID-Number", offer.member_cid_number),
                ("CC-Member-Joined-Time", str(offer.member_joined_epoch)),
            ],
        )

    def _delay_after(self, offer: _Offer, cause: str, result: _OfferResult) -> int:
        """How long the agent rests after a failed offer (and no-answer counting)."""
        if cause in ("LOSE_RACE", "ORIGINATOR_CANCEL"):
            return 0
        if cause in ("NORMAL_CIRCUIT_CONGESTION", "USER_BUSY"):
            return offer.busy_delay_time
        if cause == "CALL_REJECTED":
            return offer.reject_delay_time
        if cause == "USER_NOT_REGISTERED":
            # Protection against a fast loop on an unregistered phone.
            return 5
        result.tier_state = "No Answer"
        name = offer.agent_name
        record = self.agents.get(name)
        if record is not None and record.instance_id == offer.agent_system:
            record.no_answer_count += 1
        limit = offer.max_no_answer
        if limit > 0 and offer.no_answer_count + 1 >= limit:
            status = offer.agent_no_answer_status
            log.info("callcenter: agent %s reached %s unanswered calls: %s",
                     name, limit, status)  # fmt: skip
            self._fire(
                SITE_MAX_NO_ANSWER,
                [
                    ("CC-Agent", name),
                    ("CC-Action", "agent-max-no-answer"),
                    ("CC-Agent-No-Answer-Count", str(limit)),
                    ("CC-Agent-No-Answer-Status", status),
                    ("CC-Member-UUID", offer.member_uuid),
                    ("CC-Member-Session-UUID", offer.member_session_uuid),
                ],
            )
            self._quietly(self.agent_update, "status", status, name)
        return offer.no_answer_delay_time

    def _offer_done(self, offer: _Offer, result: _OfferResult) -> None:
        """Make the agent available again (its tiers, its state)."""
        name = offer.agent_name
        for tier in self.tiers:
            if tier.agent != name:
                continue
            if tier.queue == offer.queue_name:
                if tier.state in ("Active Inbound", "Standby", "Offering"):
                    tier.state = result.tier_state
            elif tier.state == "Standby":
                tier.state = "Ready"
        on_demand = _same(offer.agent_status, "Available (On Demand)")
        state = "Idle" if on_demand and result.bridged else "Waiting"
        self._quietly(self.agent_update, "state", state, name)


@dataclass
class _OfferResult:
    """What an offer came to (the agent thread's locals)."""

    cause: str = "NONE"
    called: int = 0
    answered: int = 0
    bridged: bool = False
    tier_state: str = "Ready"
    originated: Channel | None = None


_AGENT_SETTERS: dict[str, Callable[[CallCenter, Agent, str], None]] = {
    "status": CallCenter._set_status,
    "state": CallCenter._set_state,
    "state_if_waiting": CallCenter._set_state_if_waiting,
    "contact": CallCenter._set_contact,
    "type": CallCenter._set_type,
    "uuid": CallCenter._set_uuid,
}


def _number_setter(attr: str) -> Callable[[CallCenter, Agent, str], None]:
    def setter(module: CallCenter, agent: Agent, value: str) -> None:
        setattr(agent, attr, _atoi(value))
        agent.instance_id = SELF

    return setter


for _attr in (
    "ready_time",
    "busy_delay_time",
    "reject_delay_time",
    "no_answer_delay_time",
    "max_no_answer",
    "wrap_up_time",
):
    _AGENT_SETTERS[_attr] = _number_setter(_attr)

_API: dict[tuple[str, str], Callable[[CallCenter, list[str]], str]] = {
    ("agent", "add"): CallCenter._api_agent_add,
    ("agent", "del"): CallCenter._api_agent_del,
    ("agent", "reload"): CallCenter._api_agent_reload,
    ("agent", "set"): CallCenter._api_agent_set,
    ("agent", "get"): CallCenter._api_agent_get,
    ("agent", "list"): CallCenter._api_agent_list,
    ("tier", "add"): CallCenter._api_tier_add,
    ("tier", "set"): CallCenter._api_tier_set,
    ("tier", "del"): CallCenter._api_tier_del,
    ("tier", "reload"): CallCenter._api_tier_reload,
    ("tier", "list"): CallCenter._api_tier_list,
    ("queue", "load"): CallCenter._api_queue_load,
    ("queue", "unload"): CallCenter._api_queue_unload,
    ("queue", "reload"): CallCenter._api_queue_reload,
    ("queue", "list"): CallCenter._api_queue_list,
    ("queue", "count"): CallCenter._api_queue_count,
}

# The usage mod_callcenter prints for ``callcenter_config`` without arguments.
CONFIG_API_SYNTAX = "\n".join(
    [
        "callcenter_config <target> <args>,",
        "\tcallcenter_config agent add [name] [type] | ",
        "\tcallcenter_config agent del [name] | ",
        "\tcallcenter_config agent reload [name] | ",
        "\tcallcenter_config agent set status [agent_name] [status] | ",
        "\tcallcenter_config agent set state [agent_name] [state] | ",
        "\tcallcenter_config agent set contact [agent_name] [contact] | ",
        "\tcallcenter_config agent set ready_time [agent_name] [wait till epoch] | ",
        "\tcallcenter_config agent set reject_delay_time [agent_name] [wait second] | ",
        "\tcallcenter_config agent set busy_delay_time [agent_name] [wait second] | ",
        "\tcallcenter_config agent set no_answer_delay_time [agent_name] "
        "[wait second] | ",
        "\tcallcenter_config agent get status [agent_name] | ",
        "\tcallcenter_config agent get state [agent_name] | ",
        "\tcallcenter_config agent get uuid [agent_name] | ",
        "\tcallcenter_config agent list [[agent_name]] | ",
        "\tcallcenter_config tier add [queue_name] [agent_name] [[level]] "
        "[[position]] | ",
        "\tcallcenter_config tier set state [queue_name] [agent_name] [state] | ",
        "\tcallcenter_config tier set level [queue_name] [agent_name] [level] | ",
        "\tcallcenter_config tier set position [queue_name] [agent_name] [position] | ",
        "\tcallcenter_config tier del [queue_name] [agent_name] | ",
        "\tcallcenter_config tier reload [queue_name] [agent_name] | ",
        "\tcallcenter_config tier list | ",
        "\tcallcenter_config queue load [queue_name] | ",
        "\tcallcenter_config queue unload [queue_name] | ",
        "\tcallcenter_config queue reload [queue_name] | ",
        "\tcallcenter_config queue list | ",
        "\tcallcenter_config queue list agents [queue_name] [status] [state] | ",
        "\tcallcenter_config queue list members [queue_name] | ",
        "\tcallcenter_config queue list tiers [queue_name] | ",
        "\tcallcenter_config queue count | ",
        "\tcallcenter_config queue count agents [queue_name] [status] [state] | ",
        "\tcallcenter_config queue count members [queue_name] | ",
        "\tcallcenter_config queue count tiers [queue_name]",
    ]
)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _true(value: str | None) -> bool:
    """switch_true."""
    return (value or "").lower() in (
        "true",
        "yes",
        "on",
        "1",
        "enabled",
        "active",
        "allow",
    )


def _false(value: str | None) -> bool:
    """switch_false."""
    return (value or "").lower() in ("false", "no", "off", "0", "disabled", "inactive")


def _config_value(value: str | None, kind: str, default: object, key: str) -> object:
    """switch_xml_config_parse_event for one item: bad values become the default."""
    if value is None:
        return default
    if kind == "str":
        return value
    if kind == "bool":
        if _true(value):
            return True
        if _false(value):
            return False
        log.error("callcenter: invalid value [%s] for [%s], default used", value, key)
        return default
    if not _NUMBER.fullmatch(value.strip()):
        log.error("callcenter: invalid value [%s] for [%s], default used", value, key)
        return default
    number = _atoi(value)
    if not 0 <= number <= 86400:
        log.error("callcenter: [%s] must be 0..86400, not %s; default used", key, value)
        return default
    return number


def _listing(columns: str, rows: list[str]) -> str:
    """list_result_callback: header and rows, or just ``+OK`` when empty."""
    if not rows:
        return "+OK\n"
    return "\n".join([columns, *rows]) + "\n+OK\n"


def _track_strategy(member: Member, strategy: str) -> None:
    """The queue's strategy changed under a waiting member."""
    serving = member.serving_agent
    ringing = ("ring-all", "ring-progressively")
    if serving in ringing and strategy not in ringing:
        if member.state == "Trying":
            member.serving_agent = ""
            member.state = "Waiting"
    elif serving in ringing and strategy in ringing and serving != strategy:
        if member.state == "Trying":
            member.serving_agent = strategy
    elif strategy in ringing and serving not in ringing and serving == "":
        if member.state == "Waiting":
            member.serving_agent = strategy
            member.state = "Trying"


_Row = tuple[Agent, Tier]

# ORDER BY of the dispatcher's agent query, per strategy (a stable sort keeps
# equal rows in table order, as sqlite does here).
_ORDERS: dict[str, Callable[[_Row], tuple[float, ...]]] = {
    "longest-idle-agent": lambda r: (r[1].level, r[0].last_bridge_end, r[1].position),
    "agent-with-least-talk-time": lambda r: (r[1].level, r[0].talk_time, r[1].position),
    "agent-with-fewest-calls": lambda r: (
        r[1].level,
        r[0].calls_answered,
        r[1].position,
    ),
    "ring-all": lambda r: (r[1].level, r[1].position),
    "ring-progressively": lambda r: (r[1].level, r[1].position),
    "random": lambda r: (r[1].level, random.random()),
    "sequentially-by-agent-order": lambda r: (
        r[1].level,
        r[1].position,
        r[0].last_offered_call,
    ),
}


def _round_robin(
    rows: list[tuple[Agent, Tier]], listed: list[tuple[Agent, Tier]]
) -> list[tuple[Agent, Tier]]:
    """After the agent offered a call last, then everyone from the top."""
    offered = [r for r in rows if r[0].last_offered_call > 0]
    first: list[tuple[int, Agent, Tier]] = []
    if offered:
        last_tier = max(offered, key=lambda r: r[0].last_offered_call)[1]
        first = [
            (1, a, t)
            for a, t in listed
            if t.position > last_tier.position and t.level == last_tier.level
        ]
    second = [(2, a, t) for a, t in listed]
    ordered = sorted(
        first + second,
        key=lambda r: (r[0], r[2].level, r[2].position, r[1].last_offered_call),
    )
    return [(a, t) for _, a, t in ordered]


def _caller_field(channel: Channel, name: str) -> str:
    """switch_channel_get_variable with the caller profile's fields behind it."""
    from simulator.apps import profile_field

    value = channel.get_variable(name)
    if value is None:
        value = profile_field(channel, name)
    return value or ""


def _expand(channel: Channel, text: str) -> str:
    from simulator.apps import expand

    return expand(channel, text)


def _play(channel: Channel, path: str, terminators: str = "") -> str:
    """switch_ivr_play_file inside the application (its response untouched)."""
    from simulator.apps import play_file

    return play_file(channel, path, terminators)


def _exports(channel: Channel, list_name: str) -> list[tuple[str, str]]:
    """switch_channel_process_export: the list itself, then each set variable."""
    names = channel.get_variable(list_name)
    if not names:
        return []
    out = [(list_name, names)]
    for name in names.split(","):
        value = channel.get_variable(name) if name else None
        if value is None:
            continue
        for prefix in ("nolocal:", "_nolocal_"):
            if name.lower().startswith(prefix):
                name = name[len(prefix) :]
        out.append((name, value))
    return out


def _exit_key(channel: Channel, keys: str) -> str | None:
    """The first queued digit that is an exit key (others are dropped)."""
    found = None
    while not channel.dtmf_queue.empty():
        digit = channel.dtmf_queue.get_nowait()
        if keys and digit in keys:
            found = digit
            break
    return found


def _play_array(channel: Channel, files: str) -> None:
    """playback_array: ``ARRAY::a::b`` plays each file in turn."""
    paths = (
        files[len("ARRAY::") :].split("::") if files.startswith("ARRAY::") else [files]
    )
    for path in paths:
        if channel.hungup:
            return
        _play(channel, path)


def _reported(channel: Channel) -> bool:
    """Up, or hung up and through CHANNEL_HANGUP_COMPLETE."""
    return not channel.hungup or channel.state in (CS_REPORTING, CS_DESTROY)


# --------------------------------------------------------------------------
# the api commands and applications
# --------------------------------------------------------------------------


def api_callcenter_config(switch: Switch, args: str) -> str:
    """``callcenter_config``."""
    return callcenter_of(switch).config_api(args)


def api_callcenter_break(switch: Switch, args: str) -> str:
    """``callcenter_break agent <uuid>``."""
    return callcenter_of(switch).break_api(args)


def app_callcenter(call: AppCall) -> None:
    """``callcenter <queue>``: the caller waits in the queue."""
    callcenter_of(call.switch).run_member(call.channel, call.data)


def app_callcenter_track(call: AppCall) -> None:
    """``callcenter_track <agent>``: count this call as the agent's external call."""
    module = callcenter_of(call.switch)
    channel = call.channel
    name = call.data.strip()
    if not name:
        log.error("channel %s: callcenter_track: missing agent name", channel.uuid)
        return
    agent = module.agents.get(name)
    if agent is None:
        log.warning(
            "channel %s: callcenter_track: invalid agent %s", channel.uuid, name
        )
        return
    module.agent_get("status", name)
    channel.set_variable("cc_tracked_agent", name)
    agent.external_calls_count += 1

    def untrack() -> None:
        channel.wait_hangup()
        tracked = module.agents.get(name)
        if tracked is not None:
            tracked.external_calls_count -= 1

    gevent.spawn(untrack)
