"""A simulated switch for tests, driven by a script that reads like the flow.

::

    with Simulation(xml_fetcher=StaticFetcher("dialplans/"), speed=50) as sim:
        anna = sim.phone("anna", "2301", answers_after=2)
        call = sim.dial("0612345678", "0317492300")
        call.expect_answered_by(anna, within=20)
        call.hangup()
        call.expect_hangup(cause="NORMAL_CLEARING", within=5)

`Simulation` owns a `Switch` on a virtual clock (``speed`` times real
time), installs the dialplan router and the applications, optionally serves
the Event Socket on a port (for orchestrator-level tests) and shuts
everything down on exit. Every event the switch fires is recorded; every
``expect_*`` waits on those events (no polling) for at most ``within``
virtual seconds and, when it fails, raises `ExpectationFailed` with the
events so far as a table (time, sequence, leg, event, details).

The log keeps the last ``keep_events`` events (10,000 by default, None for
all), so that a long-running demo does not grow without end.

An application the simulator does not know, or an xml_curl lookup that
failed, is an error of the simulation: ``expect_*`` raise it at once and
leaving the ``with`` block raises it too (``strict=True``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event

from simulator.apps import ApplicationError, Applications, Speech, VoicemailStore
from simulator.clock import Clock
from simulator.dialplan import HuntTrace
from simulator.events import Event
from simulator.parties import (
    DEFAULT_GATEWAY,
    AgentParty,
    CallerParty,
    MobileParty,
    Party,
    PhoneParty,
)
from simulator.session import Router
from simulator.switch import Switch
from simulator.xmlcurl import XmlFetcher, fetcher_for

if TYPE_CHECKING:
    from simulator.channel import Channel
    from simulator.esl_server import EslServer

log = logging.getLogger(__name__)


class SimulationError(AssertionError):
    """The simulation itself went wrong (unknown application, failed lookup)."""


class ExpectationFailed(AssertionError):
    """An ``expect_*`` did not happen in time; the message shows the events."""


@dataclass
class Recorded:
    """One event with the virtual time it was fired at."""

    at: float
    event: Event

    @property
    def name(self) -> str:
        event = self.event
        return f"{event.name} {event.subclass}" if event.subclass else event.name

    def get(self, header: str) -> Any:
        return self.event.get(header)


class EventLog:
    """Every event of the switch, with event-driven waiting."""

    def __init__(self, clock: Clock, keep: int | None = None) -> None:
        self.clock = clock
        self.started = clock.monotonic()
        # A long-running simulator keeps only the last ``keep`` events.
        self.records: deque[Recorded] = deque(maxlen=keep)
        self._waiters: set[gevent.event.Event] = set()

    def __call__(self, event: Event) -> None:
        self.records.append(Recorded(self.clock.monotonic() - self.started, event))
        for waiter in list(self._waiters):
            waiter.set()

    def wait_for(
        self, test: Callable[[], Any], within: float, check: Callable[[], None]
    ) -> Any:
        """The first truthy ``test()`` within ``within`` virtual seconds, else None.

        ``test`` is evaluated now and after every new event; ``check``
        raises when the simulation has failed meanwhile.
        """
        waiter = gevent.event.Event()
        self._waiters.add(waiter)
        deadline = self.clock.monotonic() + within
        try:
            while True:
                check()
                found = test()
                if found:
                    return found
                if self.clock.monotonic() >= deadline:
                    return None
                waiter.clear()
                # A late deadline: what happens at that very instant counts.
                self.clock.wait_until(waiter, deadline, late=True)
        finally:
            self._waiters.discard(waiter)

    def table(
        self, labels: dict[str, str] | None = None, uuids: Iterable[str] | None = None
    ) -> str:
        """The events as a readable table (optionally only some legs')."""
        labels = labels if labels is not None else leg_labels(self.records)
        wanted = set(uuids) if uuids is not None else None
        rows = [("time", "seq", "leg", "event", "details")]
        for record in list(self.records):
            uuid = record.get("Unique-ID")
            if wanted is not None and uuid not in wanted:
                continue
            rows.append(
                (
                    f"{record.at:8.2f}",
                    str(record.get("Event-Sequence") or ""),
                    labels.get(uuid, "") if uuid else "",
                    record.name,
                    describe(record.event, labels),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4]))
            + "  "
            + row[4]
            for row in rows
        ]
        return "\n".join(line.rstrip() for line in lines)


def leg_labels(records: Iterable[Recorded]) -> dict[str, str]:
    """A, B, C ... per Unique-ID in order of first appearance."""
    labels: dict[str, str] = {}
    for record in records:
        uuid = record.get("Unique-ID")
        if isinstance(uuid, str) and uuid not in labels:
            index = len(labels)
            labels[uuid] = chr(ord("A") + index) if index < 26 else f"L{index}"
    return labels


def describe(event: Event, labels: dict[str, str]) -> str:
    """The headers that say what an event is about, in a few words."""
    name = event.name
    get = event.get
    parts: list[str] = []
    if name == "CHANNEL_STATE":
        parts.append(str(get("Channel-State")))
    elif name == "CHANNEL_CALLSTATE":
        parts.append(
            f"{get('Original-Channel-Call-State')}->{get('Channel-Call-State')}"
        )
    elif name in ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"):
        parts.append(f"{get('Application')}({get('Application-Data') or ''})")
        if name == "CHANNEL_EXECUTE_COMPLETE":
            parts.append(f"resp={get('Application-Response')}")
    elif name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
        parts.append(str(get("Hangup-Cause")))
    elif name == "DTMF":
        parts.append(f"digit={get('DTMF-Digit')}")
    elif name in ("PLAYBACK_START", "PLAYBACK_STOP"):
        parts.append(str(get("Playback-File-Path")))
    elif name in ("RECORD_START", "RECORD_STOP"):
        parts.append(str(get("Record-File-Path")))
    elif name == "API":
        parts.append(f"{get('API-Command')} {get('API-Command-Argument') or ''}")
    elif name == "MESSAGE_WAITING":
        parts.append(f"{get('MWI-Message-Account')} {get('MWI-Messages-Waiting')}")
    elif event.subclass == "vm::maintenance":
        parts.append(str(get("VM-Action")))
    if name.startswith("CHANNEL_") and get("Caller-Destination-Number"):
        parts.append(f"dest={get('Caller-Destination-Number')}")
    other = get("Other-Leg-Unique-ID")
    if isinstance(other, str):
        parts.append(f"other={labels.get(other, other[:8])}")
    return " ".join(parts)


class Call:
    """One call as a party sees it: the leg it placed (or answered)."""

    def __init__(self, sim: Simulation, channel: Channel, party: Party | None) -> None:
        self.sim = sim
        self.channel = channel
        self.uuid = channel.uuid
        self.party = party

    def __repr__(self) -> str:
        return f"<Call {self.uuid} {self.channel.profile.destination_number}>"

    # -- what the party does ------------------------------------------------

    def press(self, digits: str, *, gap: float = 0.3, duration_ms: int = 2000) -> None:
        """Press keys (RFC 2833), ``gap`` virtual seconds apart."""
        switch = self.sim.switch
        for index, digit in enumerate(digits):
            if index:
                switch.clock.sleep(gap)
            switch.inject_dtmf(self.uuid, digit, duration_ms=duration_ms)

    def talks(
        self,
        *,
        delay: float = 0.0,
        duration: float | None = None,
        media_before: bool = True,
    ) -> None:
        """When this party talks into a recording (see `simulator.apps.Speech`)."""
        self.sim.apps.speech[self.uuid] = Speech(delay, duration, media_before)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The party hangs up (BYE, or CANCEL before the answer)."""
        if not self.channel.hungup:
            self.sim.switch.remote_hangup(self.uuid, cause)

    def hold(self) -> None:
        self.sim.switch.hold(self.uuid)

    def unhold(self) -> None:
        self.sim.switch.unhold(self.uuid)

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass (a pause in the party's script)."""
        self.sim.switch.clock.sleep(seconds)

    # -- what the test checks -----------------------------------------------

    def variable(self, name: str) -> str | None:
        return self.channel.get_variable(name)

    @property
    def answered(self) -> bool:
        return self.channel.answered

    @property
    def hungup(self) -> bool:
        return self.channel.hungup

    def events(self, name: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.sim.log.records
            if r.get("Unique-ID") == self.uuid and (name is None or r.name == name)
        ]

    def traces(self) -> list[HuntTrace]:
        """Every dialplan hunt of this leg (one per routing, transfers included)."""
        return list(self.sim.router.traces.get(self.uuid, []))

    def expect_event(
        self, name: str, *, within: float = 30.0, after: int = 0, **headers: str
    ) -> Recorded:
        """An event of this leg (``name`` with subclass for CUSTOM events)."""

        def test() -> Recorded | None:
            for record in self.events()[after:]:
                if record.name == name and _headers_match(record.event, headers):
                    return record
            return None

        what = name + (f" with {headers}" if headers else "")
        return self._expect(test, what, within)

    def expect_answered(self, *, within: float = 60.0) -> Recorded:
        return self.expect_event("CHANNEL_ANSWER", within=within)

    def expect_answered_by(
        self, party: Party | str, *, within: float = 60.0
    ) -> Channel:
        """Bridged to a leg of ``party``; returns that leg."""
        target = self.sim.party(party) if isinstance(party, str) else party

        def test() -> Channel | None:
            for record in self.sim.log.records:
                if record.event.name != "CHANNEL_BRIDGE":
                    continue
                pair = {record.get("Unique-ID"), record.get("Other-Leg-Unique-ID")}
                if self.uuid not in pair:
                    continue
                pair.discard(self.uuid)
                other = self.sim.leg(pair.pop()) if pair else None
                if other is not None and target.owns(other):
                    return other
            return None

        return self._expect(test, f"answered by {target.name}", within)

    def expect_hangup(
        self, *, cause: str | None = None, within: float = 60.0
    ) -> Recorded:
        record = self.expect_event("CHANNEL_HANGUP", within=within)
        got = record.get("Hangup-Cause")
        if cause is not None and got != cause:
            self._fail(f"hangup cause {cause}, got {got}")
        return record

    def expect_parked(self, *, within: float = 30.0) -> Recorded:
        return self.expect_event("CHANNEL_PARK", within=within)

    def expect_variable(self, name: str, value: str, *, within: float = 30.0) -> None:
        def test() -> bool:
            return self.channel.get_variable(name) == value

        self._expect(test, f"variable {name}={value!r}", within)

    def _expect(self, test: Callable[[], Any], what: str, within: float) -> Any:
        found = self.sim.log.wait_for(test, within, self.sim.check)
        if not found:
            self._fail(f"{what} within {within} s")
        return found

    def _fail(self, what: str) -> None:
        raise ExpectationFailed(
            f"call {self.uuid} ({self.channel.profile.destination_number}): "
            f"expected {what}\n\nevents so far:\n{self.sim.log.table()}"
        )


def _headers_match(event: Event, headers: dict[str, str]) -> bool:
    """Header values by name; ``VM_Action`` also matches ``VM-Action``."""
    for key, value in headers.items():
        if event.get(key) != value and event.get(key.replace("_", "-")) != value:
            return False
    return True


class Simulation:
    """A switch, its dialplan side, its parties and its event log."""

    def __init__(
        self,
        xml_fetcher: XmlFetcher | str | Path | None = None,
        *,
        speed: float = 50.0,
        domain: str = "127.0.0.1",
        timezone: dt.tzinfo | str | None = None,
        esl_port: int | None = None,
        esl_host: str = "127.0.0.1",
        password: str = "ClueCon",
        voicemail_storage: Path | None = None,
        sounds: dict[str, float] | None = None,
        strict: bool = True,
        start: float | None = None,
        keep_events: int | None = 10_000,
    ) -> None:
        if isinstance(xml_fetcher, str | Path):
            xml_fetcher = fetcher_for(xml_fetcher)
        self.clock = Clock(speed=speed, start=start)
        self.switch = Switch(clock=self.clock, xml_fetcher=xml_fetcher, domain=domain)
        if sounds:
            self.switch.sounds.update(sounds)
        self.strict = strict
        self.errors: list[ApplicationError] = []
        self.apps = Applications(
            self.switch,
            voicemail=VoicemailStore(self.switch, storage=voicemail_storage),
            on_error=self.errors.append,
        )
        self.router = Router(self.switch, self.apps, tz=timezone)
        self.router.install()
        self.log = EventLog(self.clock, keep_events)
        self.keep = keep_events
        self.legs: OrderedDict[str, Channel] = OrderedDict()
        self.switch.add_listener(self._on_event)
        self.parties: dict[str, Party] = {}
        self.calls: list[Call] = []
        self.esl: EslServer | None = None
        self.switch.start()
        if esl_port is not None:
            self.start_esl(esl_host, esl_port, password)

    # -- life cycle -----------------------------------------------------------

    def start_esl(
        self, host: str = "127.0.0.1", port: int = 0, password: str = "ClueCon"
    ) -> tuple[str, int]:
        """Serve the Event Socket (port 0: any free port); returns the address."""
        from simulator.esl_server import EslServer

        self.esl = EslServer(self.switch, password=password, host=host, port=port)
        self.esl.start()
        return self.esl.address

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.close(raise_errors=kind is None)

    def close(self, *, raise_errors: bool = True) -> None:
        """Hang up what is left, stop the switch and the Event Socket."""
        for channel in list(self.switch.channels.values()):
            if not channel.hungup:
                channel.hangup("SYSTEM_SHUTDOWN")
        for channel in list(self.switch.channels.values()):
            channel.wait_destroyed(5)
        if self.esl is not None:
            self.esl.stop()
        self.switch.stop()
        self.clock.stop()
        if raise_errors and self.strict:
            self.check()

    def check(self) -> None:
        """Raise `SimulationError` if the simulation went wrong somewhere."""
        if self.errors:
            listing = "\n".join(f"  - {error}" for error in self.errors)
            raise SimulationError(
                f"the simulation failed:\n{listing}\n\n"
                f"events so far:\n{self.log.table()}"
            )

    # -- parties ----------------------------------------------------------------

    def _add(self, party: Party) -> Any:
        if party.name in self.parties:
            raise ValueError(f"there is already a party called {party.name!r}")
        self.parties[party.name] = party
        return party

    def phone(self, name: str, user_id: str | None = None, **kw: Any) -> PhoneParty:
        """A user's phone: ``answers_after``, ``busy``, ``rejects``,
        ``answers=False``, ``dnd``, ``registered``, ``talks_for``, ``domain``."""
        return self._add(PhoneParty(self, name, user_id or name, **kw))

    def agent(self, name: str, user_id: str | None = None, **kw: Any) -> AgentParty:
        return self._add(AgentParty(self, name, user_id or name, **kw))

    def mobile(self, name: str, number: str | None = None, **kw: Any) -> MobileParty:
        """A number behind the trunk (``gateway``, ``aliases``, behaviour words)."""
        return self._add(MobileParty(self, name, number or name, **kw))

    def caller(self, name: str, number: str | None = None, **kw: Any) -> CallerParty:
        return self._add(CallerParty(self, name, number or name, **kw))

    def party(self, name: str) -> Party:
        try:
            return self.parties[name]
        except KeyError:
            raise KeyError(
                f"no party called {name!r}; known: {sorted(self.parties)}"
            ) from None

    def gateway(self, name: str = DEFAULT_GATEWAY, **kw: Any) -> Any:
        """The trunk gateway (made on first use)."""
        return self.switch.endpoints.gateway(name) or self.switch.add_gateway(
            name, **kw
        )

    # -- calls ------------------------------------------------------------------

    def dial(
        self,
        caller: str,
        destination: str,
        *,
        name: str | None = None,
        display: str | None = None,
    ) -> Call:
        """An outside caller ``caller`` dials ``destination`` over the trunk."""
        party_name = name or f"caller {caller}"
        party = self.parties.get(party_name)
        if not isinstance(party, CallerParty):
            party = self._add(CallerParty(self, party_name, caller, display=display))
        return party.dial(destination)

    def track(self, channel: Channel, party: Party | None) -> Call:
        call = Call(self, channel, party)
        self.calls.append(call)
        if self.keep is not None and len(self.calls) > self.keep:
            del self.calls[0]
        return call

    def leg(self, uuid: str) -> Channel | None:
        """A channel by uuid, also after it was destroyed."""
        return self.switch.channels.get(uuid) or self.legs.get(uuid)

    def _on_event(self, event: Event) -> None:
        # Channels leave switch.channels when destroyed; keep every leg seen
        # so that a test can still ask whose it was.
        uuid = event.get("Unique-ID")
        if isinstance(uuid, str) and uuid not in self.legs:
            channel = self.switch.channels.get(uuid)
            if channel is not None:
                self.legs[uuid] = channel
                if self.keep is not None and len(self.legs) > self.keep:
                    self.legs.popitem(last=False)
        self.log(event)

    def wait(self, seconds: float) -> None:
        """Let virtual time pass."""
        self.clock.sleep(seconds)

    def events(self, name: str | None = None) -> list[Recorded]:
        return [r for r in self.log.records if name is None or r.name == name]

    def expect_event(
        self, name: str, *, within: float = 30.0, **headers: str
    ) -> Recorded:
        """Any event (``MESSAGE_WAITING``, ``CUSTOM vm::maintenance`` ...)."""

        def test() -> Recorded | None:
            for record in self.log.records:
                if record.name == name and _headers_match(record.event, headers):
                    return record
            return None

        found = self.log.wait_for(test, within, self.check)
        if not found:
            raise ExpectationFailed(
                f"expected {name} {headers or ''} within {within} s\n\n"
                f"events so far:\n{self.log.table()}"
            )
        return found

    def wait_idle(self, *, within: float = 60.0) -> None:
        """Until no channel is left (every call ended and was destroyed)."""

        def test() -> bool:
            return not self.switch.channels

        if not self.log.wait_for(test, within, self.check):
            raise ExpectationFailed(
                f"channels still up after {within} s: {list(self.switch.channels)}\n\n"
                f"events so far:\n{self.log.table()}"
            )


# --------------------------------------------------------------------------
# scenario files (``schakel simulator --scenario FILE``, docs/scenarios.md)
# --------------------------------------------------------------------------


class ScenarioFileError(ValueError):
    """A scenario file that cannot be used; the message names the place."""


_PARTY_KINDS = ("phone", "agent", "mobile", "caller")
_PARTY_WORDS = {
    "phone": {"answers_after", "answers", "busy", "rejects", "rejects_after",
              "rings", "early_media", "dnd", "registered", "talks_for", "domain"},
    "mobile": {"answers_after", "answers", "busy", "rejects", "rejects_after",
               "rings", "early_media", "talks_for", "gateway", "aliases"},
    "caller": {"display"},
}  # fmt: skip
_PARTY_WORDS["agent"] = _PARTY_WORDS["phone"]
_STEPS = ("wait", "wait_for", "press", "talk", "hold", "unhold", "hangup")


@dataclass
class PartySpec:
    name: str
    kind: str
    address: str  # user id, number
    words: dict[str, Any]


@dataclass
class Step:
    action: str
    value: Any
    within: float = 60.0


@dataclass
class CallSpec:
    name: str
    at: float
    source: str  # a party name or a caller number
    destination: str
    display: str | None
    steps: list[Step]
    every: float | None = None
    count: int = 1


@dataclass
class ScenarioScript:
    parties: list[PartySpec]
    calls: list[CallSpec]
    speed: float | None = None


def load_scenario(path: str | Path) -> ScenarioScript:
    """Read and check a YAML or JSON scenario file."""
    import yaml

    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioFileError(f"{source}: cannot read: {error}") from error
    except yaml.YAMLError as error:
        raise ScenarioFileError(f"{source}: not YAML/JSON: {error}") from error
    return parse_scenario(data, str(source))


def parse_scenario(data: Any, where: str = "scenario") -> ScenarioScript:
    """Check a scenario given as data (what the file holds)."""
    _need(isinstance(data, dict), where, "must be a mapping with parties and calls")
    _only(data, {"speed", "parties", "calls"}, where)
    parties = [
        _party(name, spec, f"{where}: parties.{name}")
        for name, spec in (data.get("parties") or {}).items()
    ]
    calls_data = data.get("calls") or []
    _need(isinstance(calls_data, list), where, "calls must be a list")
    calls = [
        _call(item, i, f"{where}: calls[{i}]") for i, item in enumerate(calls_data)
    ]
    speed = data.get("speed")
    _need(speed is None or _number(speed) > 0, where, "speed must be positive")
    return ScenarioScript(parties, calls, float(speed) if speed is not None else None)


def _need(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise ScenarioFileError(f"{where}: {message}")


def _only(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    _need(
        not unknown,
        where,
        f"unknown {', '.join(unknown)} (known: {', '.join(sorted(allowed))})",
    )


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)


def _party(name: Any, spec: Any, where: str) -> PartySpec:
    _need(isinstance(spec, dict), where, "must be a mapping")
    kinds = [kind for kind in _PARTY_KINDS if kind in spec]
    _need(len(kinds) == 1, where, f"needs exactly one of {', '.join(_PARTY_KINDS)}")
    kind = kinds[0]
    _only(spec, _PARTY_WORDS[kind] | {kind}, where)
    words = {key: value for key, value in spec.items() if key != kind}
    return PartySpec(str(name), kind, str(spec[kind]), words)


def _call(item: Any, index: int, where: str) -> CallSpec:
    _need(isinstance(item, dict), where, "must be a mapping")
    _only(
        item, {"name", "at", "from", "to", "display", "steps", "every", "count"}, where
    )
    _need("from" in item and "to" in item, where, "needs from and to")
    at = _number(item.get("at", 0))
    _need(at >= 0, where, "at must be seconds (0 or more)")
    every = item.get("every")
    _need(every is None or _number(every) > 0, where, "every must be positive seconds")
    count = item.get("count", 1 if every is None else 0)
    _need(isinstance(count, int) and count >= 0, where, "count must be a whole number")
    steps = [
        _step(step, f"{where}.steps[{i}]")
        for i, step in enumerate(item.get("steps") or [])
    ]
    return CallSpec(
        name=str(item.get("name") or f"call {index + 1}"),
        at=at,
        source=str(item["from"]),
        destination=str(item["to"]),
        display=item.get("display"),
        steps=steps,
        every=float(every) if every is not None else None,
        count=count,
    )


def _step(step: Any, where: str) -> Step:
    _need(isinstance(step, dict), where, "must be a mapping like {press: '1'}")
    actions = [key for key in step if key in _STEPS]
    _need(len(actions) == 1, where, f"needs exactly one of {', '.join(_STEPS)}")
    _only(step, {actions[0], "within"}, where)
    action = actions[0]
    value = step[action]
    if action == "wait":
        _need(_number(value) >= 0, where, "wait must be seconds")
    if action == "talk":
        _need(isinstance(value, dict), where, "talk must be {delay, duration}")
        _only(value, {"delay", "duration", "media_before"}, where)
    within = step.get("within", 60)
    _need(_number(within) > 0, where, "within must be positive seconds")
    return Step(action, value, float(within))


def run_scenario(sim: Simulation, script: ScenarioScript) -> list[gevent.Greenlet]:
    """Create the parties and start every call at its time (greenlets)."""
    for party in script.parties:
        words = dict(party.words)
        if party.kind == "phone":
            sim.phone(party.name, party.address, **words)
        elif party.kind == "agent":
            sim.agent(party.name, party.address, **words)
        elif party.kind == "mobile":
            sim.mobile(party.name, party.address, **words)
        else:
            sim.caller(party.name, party.address, **words)
    return [gevent.spawn(_run_call_spec, sim, spec) for spec in script.calls]


def _run_call_spec(sim: Simulation, spec: CallSpec) -> None:
    sim.clock.sleep(spec.at)
    placed = 0
    while spec.count == 0 or placed < spec.count:
        gevent.spawn(_one_call, sim, spec, placed)
        placed += 1
        if spec.every is None:
            break
        sim.clock.sleep(spec.every)


def _one_call(sim: Simulation, spec: CallSpec, number: int) -> None:
    label = spec.name if spec.every is None else f"{spec.name} #{number + 1}"
    try:
        call = _place(sim, spec)
        log.info("scenario: %s placed: %s -> %s (%s)", label, spec.source,
                 spec.destination, call.uuid)  # fmt: skip
        for step in spec.steps:
            if call.hungup and step.action != "wait":
                break
            _do(call, step)
    except AssertionError as error:
        log.warning("scenario: %s: %s", label, str(error).split("\n", 1)[0])
    except Exception:
        log.exception("scenario: %s failed", label)


def _place(sim: Simulation, spec: CallSpec) -> Call:
    party = sim.parties.get(spec.source)
    if isinstance(party, PhoneParty):
        return party.dial(spec.destination)
    if isinstance(party, CallerParty):
        return party.dial(spec.destination)
    if isinstance(party, MobileParty):
        # A mobile calls in over the trunk with its own number.
        return sim.dial(party.number, spec.destination, display=spec.display)
    return sim.dial(spec.source, spec.destination, display=spec.display)


def _do(call: Call, step: Step) -> None:
    value = step.value
    if step.action == "wait":
        call.wait(float(value))
    elif step.action == "wait_for":
        call.expect_event(str(value), within=step.within)
    elif step.action == "press":
        call.press(str(value))
    elif step.action == "talk":
        call.talks(**value)
    elif step.action == "hold" and value:
        call.hold()
    elif step.action == "unhold" and value:
        call.unhold()
    elif step.action == "hangup" and value:
        call.hangup()
