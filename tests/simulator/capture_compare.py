"""Compare what the simulator fired with what a real FreeSWITCH sent.

A capture (``freeswitch-captures/<name>/events.jsonl``) and a list of
simulator events are both split per channel (legs labelled A, B, ... by
first appearance). Per leg they must have:

- the same event names (with subclass) in the same order;
- per event, the same non-variable header names in the same order
  (duplicates included), and the same set of ``variable_*`` names;
- the same values, after normalising what depends on the run: UUIDs
  (mapped to leg labels), times, addresses, ports, Call-IDs, tags, SDP,
  sequence numbers (see ``VOLATILE``).

Known differences are passed in as ``allow`` (a set of ``Difference``
keys) by the test, each documented in docs/simulator.md; anything else
fails with a readable report of the two event streams.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Pairs = list[tuple[str, object]]

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Headers that identify the run, not the behaviour: never compared by value.
VOLATILE_HEADERS = frozenset(
    {
        "Core-UUID",
        "FreeSWITCH-Hostname",
        "FreeSWITCH-Switchname",
        "FreeSWITCH-IPv4",
        "FreeSWITCH-IPv6",
        "Event-Date-Local",
        "Event-Date-GMT",
        "Event-Date-Timestamp",
        "Event-Sequence",
        "Event-Calling-Line-Number",
        "Application-UUID",
        "Presence-Calling-Line",
        "Up-Time",
        "Uptime-msec",
        "Idle-CPU",
        "Task-Runtime",
        "Caller-Transfer-Source",
        "Other-Leg-Transfer-Source",
        "call-id",
        "Call-ID",
        "VM-Call-ID",
    }
)

# Variable names whose values depend on the run (SIP/RTP details, times).
VOLATILE_VARIABLE_PARTS = (
    "sip_",
    "rtp_",
    "sdp",
    "_epoch",
    "_uepoch",
    "_stamp",
    "media_port",
    "video_port",
    "hold_events",
    "media_ip",
    "session_id",
    "transfer_history",
    "transfer_source",
    "duration",
    "sec",
    "msec",
    "usec",
    "_ms",
    "samples",
    "offset_pos",
    "record_",
    "app_uuid",
    "ep_codec_string",
    "originator_codec",
    "advertised_media_ip",
    "remote_media_ip",
    "local_media_ip",
)

# Differences from FreeSWITCH every capture test accepts; each is explained
# in docs/simulator.md ("Known differences").
ALLOWED: frozenset[str] = frozenset(
    {
        # The caller's ACK to our 200 OK races with the dialplan thread: the
        # variables it sets show up one event earlier or later from run to run.
        "missing-variable:*:sip_cseq",
        "missing-variable:*:sip_to_tag",
        "extra-variable:*:sip_cseq",
        "extra-variable:*:sip_to_tag",
    }
)

TIME_HEADER = re.compile(r"-(Time|Hold|Hold-Accum)$")


@dataclass(frozen=True)
class Difference:
    """One mismatch, keyed so tests can allow documented ones."""

    leg: str
    kind: str
    detail: str

    def key(self) -> str:
        return f"{self.kind}:{self.detail}"


@dataclass
class Leg:
    label: str
    uuid: str
    events: list[Pairs] = field(default_factory=list)


def load_capture(path: Path) -> list[Pairs]:
    """events.jsonl as lists of (name, value) pairs, duplicates kept."""
    events = []
    for line in path.read_text().splitlines():
        if line.strip():
            events.append(json.loads(line, object_pairs_hook=list))
    return events


def from_simulator(events: Iterable[object]) -> list[Pairs]:
    """simulator Event objects as lists of pairs (what the wire carries)."""
    out = []
    for event in events:
        text = event.to_json()  # type: ignore[attr-defined]
        out.append(json.loads(text, object_pairs_hook=list))
    return out


def _get(event: Pairs, name: str) -> object | None:
    for key, value in event:
        if key == name:
            return value
    return None


def event_label(event: Pairs) -> str:
    name = str(_get(event, "Event-Name"))
    subclass = _get(event, "Event-Subclass")
    return f"{name} {subclass}" if subclass else name


def split_legs(events: Sequence[Pairs]) -> list[Leg]:
    """Channel events per Unique-ID, legs in order of first appearance."""
    legs: dict[str, Leg] = {}
    for event in events:
        uuid = _get(event, "Unique-ID")
        if not isinstance(uuid, str):
            continue
        if uuid not in legs:
            legs[uuid] = Leg(chr(ord("A") + len(legs)), uuid)
        legs[uuid].events.append(event)
    return list(legs.values())


def _normalise(value: object, uuids: dict[str, str]) -> object:
    if isinstance(value, list):
        return [_normalise(item, uuids) for item in value]
    text = str(value)
    return UUID_RE.sub(lambda m: uuids.get(m.group(0), "<uuid>"), text)


def _volatile_variable(name: str) -> bool:
    short = name[len("variable_") :]
    return any(part in short for part in VOLATILE_VARIABLE_PARTS)


def _volatile(name: str) -> bool:
    if name in VOLATILE_HEADERS or TIME_HEADER.search(name):
        return True
    if name.startswith("variable_"):
        return _volatile_variable(name)
    return name.endswith(("-Network-Addr", "Channel-Name")) or name in (
        "Channel-Name",
        "Other-Leg-Channel-Name",
        "Caller-Channel-Name",
        "Bridge-A-Unique-ID",
    )


def compare_event(
    leg: str,
    index: int,
    want: Pairs,
    got: Pairs,
    uuids_want: dict[str, str],
    uuids_got: dict[str, str],
) -> list[Difference]:
    label = event_label(want)
    where = f"{label}#{index}"
    out: list[Difference] = []
    names_want = [k for k, _ in want if not k.startswith("variable_")]
    names_got = [k for k, _ in got if not k.startswith("variable_")]
    if names_want != names_got:
        missing = [n for n in names_want if n not in names_got]
        extra = [n for n in names_got if n not in names_want]
        if missing or extra:
            for name in missing:
                out.append(Difference(leg, "missing-header", f"{label}:{name}"))
            for name in extra:
                out.append(Difference(leg, "extra-header", f"{label}:{name}"))
        else:
            out.append(Difference(leg, "header-order", f"{where}"))
    vars_want = {k for k, _ in want if k.startswith("variable_")}
    vars_got = {k for k, _ in got if k.startswith("variable_")}
    for name in sorted(vars_want - vars_got):
        out.append(Difference(leg, "missing-variable", f"{label}:{name[9:]}"))
    for name in sorted(vars_got - vars_want):
        out.append(Difference(leg, "extra-variable", f"{label}:{name[9:]}"))
    got_values = dict(got)
    for name, value in dict(want).items():
        if name not in got_values or _volatile(name):
            continue
        a = _normalise(value, uuids_want)
        b = _normalise(got_values[name], uuids_got)
        if a != b:
            out.append(
                Difference(leg, "value", f"{label}:{name}={a!r} (simulator {b!r})")
            )
    return out


@dataclass
class Report:
    differences: list[Difference]
    text: str

    def unexpected(self, allow: Iterable[str] = ()) -> list[Difference]:
        """Differences no ``allow`` pattern (fnmatch on the key) covers."""
        patterns = list(allow)
        return [
            d
            for d in self.differences
            if not any(fnmatch.fnmatchcase(d.key(), p) for p in patterns)
        ]


def compare(
    capture: Sequence[Pairs],
    simulated: Sequence[Pairs],
    legs: Sequence[str] | None = None,
) -> Report:
    """Compare per leg; ``legs`` limits the comparison to some labels."""
    want_legs = split_legs(capture)
    got_legs = split_legs(simulated)
    uuids_want = {leg.uuid: f"<{leg.label}>" for leg in want_legs}
    uuids_got = {leg.uuid: f"<{leg.label}>" for leg in got_legs}
    differences: list[Difference] = []
    lines: list[str] = []
    for position, want in enumerate(want_legs):
        if legs is not None and want.label not in legs:
            continue
        got = got_legs[position] if position < len(got_legs) else None
        if got is None:
            differences.append(Difference(want.label, "missing-leg", want.label))
            continue
        names_want = [event_label(e) for e in want.events]
        names_got = [event_label(e) for e in got.events]
        lines.append(
            f"leg {want.label}: capture {len(names_want)} events, "
            f"simulator {len(names_got)}"
        )
        width = max((len(n) for n in names_want), default=10) + 2
        for i in range(max(len(names_want), len(names_got))):
            a = names_want[i] if i < len(names_want) else ""
            b = names_got[i] if i < len(names_got) else ""
            mark = "  " if a == b else "!!"
            lines.append(f"  {mark} {i:3} {a:<{width}} {b}")
        if names_want != names_got:
            differences.append(
                Difference(want.label, "event-order", f"leg {want.label}")
            )
            continue
        for index, (a, b) in enumerate(zip(want.events, got.events, strict=True)):
            differences += compare_event(want.label, index, a, b, uuids_want, uuids_got)
    if legs is None and len(got_legs) > len(want_legs):
        for extra in got_legs[len(want_legs) :]:
            differences.append(Difference(extra.label, "extra-leg", extra.label))
    text = "\n".join(lines)
    if differences:
        text += "\n\ndifferences:\n" + "\n".join(
            f"  [{d.leg}] {d.kind}: {d.detail}" for d in differences
        )
    return Report(differences, text)


def assert_matches(
    capture: Sequence[Pairs],
    simulated: Sequence[Pairs],
    allow: Iterable[str] = (),
    legs: Sequence[str] | None = None,
) -> Report:
    """Fail with the side-by-side report when something unexpected differs."""
    report = compare(capture, simulated, legs)
    unexpected = report.unexpected(allow)
    if unexpected:
        listing = "\n".join(f"  [{d.leg}] {d.key()}" for d in unexpected)
        raise AssertionError(
            f"simulator differs from the capture:\n{listing}\n\n{report.text}"
        )
    return report


class EventRecorder:
    """A switch listener that keeps every event and lets a test await one.

    With the switch's ``clock`` a wait's ``timeout`` is virtual seconds (60
    by default), so that a loaded machine cannot make it run out; without
    one it is real seconds (5 by default).
    """

    def __init__(self, clock: Any = None) -> None:
        import gevent.event

        self.clock = clock
        self.events: list[object] = []
        self._new = gevent.event.Event()

    def __call__(self, event: object) -> None:
        self.events.append(event)
        self._new.set()

    def clear(self) -> None:
        self.events.clear()

    def wait(
        self, predicate: Callable[[Any], bool], timeout: float | None = None
    ) -> Any:
        """The first recorded event matching ``predicate``."""
        failure = AssertionError(f"no event matched {predicate}")
        if self.clock is None:
            import gevent

            with gevent.Timeout(5.0 if timeout is None else timeout, failure):
                return self._wait(predicate, None)
        return self._wait(predicate, 60.0 if timeout is None else timeout)

    def _wait(self, predicate: Callable[[Any], bool], within: float | None) -> Any:
        deadline = None if within is None else self.clock.monotonic() + within
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            self._new.clear()
            if deadline is None:
                self._new.wait()
            elif not self.clock.wait_until(self._new, deadline, late=True):
                raise AssertionError(f"no event matched {predicate} in {within} s")

    def wait_event(
        self, name: str, uuid: str | None = None, timeout: float | None = None
    ) -> Any:
        def match(event: Any) -> bool:
            if getattr(event, "name", None) != name:
                return False
            return uuid is None or event.get("Unique-ID") == uuid

        return self.wait(match, timeout)

    def pairs(self) -> list[Pairs]:
        return from_simulator(self.events)


class Scenario:
    """A simulated switch set up like the one a capture was made on.

    The simulator's own dialplan router fetches the dialplan over the
    switch's xml_curl path (answered from the capture's ``xmlcurl/`` folder)
    and runs it with the simulator's applications, as for any call; an
    application that fails fails the test.
    """

    speed = 50.0

    def __init__(self, capture: Path, allowed: Iterable[str] = ()) -> None:
        from simulator.apps import Applications
        from simulator.clock import Clock
        from simulator.session import Router
        from simulator.switch import Switch
        from simulator.xmlcurl import StaticFetcher

        self.capture = capture
        self.fetcher = StaticFetcher(capture / "xmlcurl")
        self.switch = Switch(clock=Clock(speed=self.speed), xml_fetcher=self.fetcher)
        self.recorder = EventRecorder(self.switch.clock)
        self.switch.add_listener(self.recorder)
        self.allowed = set(ALLOWED) | set(allowed)
        # The captured dialplan, fetched and run as the simulator runs any.
        self.apps = Applications(self.switch)
        Router(self.switch, self.apps).install()

    def __enter__(self) -> Scenario:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self.switch.stop()
        if kind is None:
            assert self.apps.errors == [], self.apps.errors

    def capture_events(self) -> list[Pairs]:
        return load_capture(self.capture / "events.jsonl")

    def wait_all_destroyed(self, timeout: float = 60.0) -> None:
        """Until every channel is destroyed (virtual seconds)."""
        clock = self.switch.clock
        deadline = clock.monotonic() + timeout
        while self.switch.channels:
            for channel in list(self.switch.channels.values()):
                left = deadline - clock.monotonic()
                if left <= 0 or not channel.wait_destroyed(left):
                    raise AssertionError(f"channels left over: {self.switch.channels}")


def _decode_rendered(lines: list[str]) -> str:
    """Undo the transcript rendering: ``\\n`` then a line break, ``\\\\``."""
    marker = "   <<frame ends here, no final \\n>>"
    text = "".join(
        line[: -len(marker)] if line.endswith(marker) else line for line in lines
    )
    out = []
    index = 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text):
            escaped = text[index + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(escaped, escaped))
            index += 2
            continue
        out.append(text[index])
        index += 1
    return "".join(out)


def api_replies(transcript: Path) -> list[tuple[str, str]]:
    """(api command line, api/response body) pairs of a capture transcript."""
    blocks: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in transcript.read_text().splitlines():
        if line.startswith("[t="):
            current = []
            blocks.append((line, current))
        elif current is not None:
            if line.startswith("# ") or line == "":
                current = None if line.startswith("# ") else current
                if line == "" and current is not None and current:
                    current = None
                continue
            current.append(line)
    out: list[tuple[str, str]] = []
    pending: str | None = None
    for head, lines in blocks:
        if "C->S" in head and lines and lines[0].startswith(("api ", "bgapi ")):
            pending = _decode_rendered(lines).strip()
        elif (
            "S->C" in head
            and pending
            and lines[:1] == ["Content-Type: api/response\\n"]
        ):
            raw = _decode_rendered(lines)
            _, _, body = raw.partition("\n\n")
            out.append((pending, body))
            pending = None
    return out


def compare_stream(
    capture: Sequence[Pairs],
    simulated: Sequence[Pairs],
    ignore: Iterable[str] = ("HEARTBEAT", "RE_SCHEDULE"),
) -> Report:
    """Compare events that belong to no channel (registrations, API ...).

    The events named in ``ignore`` (timers) are left out on both sides; the
    rest must match one to one, in order, like the events of a leg.
    """
    skip = set(ignore)

    def pick(events: Sequence[Pairs]) -> list[Pairs]:
        return [
            e
            for e in events
            if not isinstance(_get(e, "Unique-ID"), str)
            and str(_get(e, "Event-Name")) not in skip
        ]

    want, got = pick(capture), pick(simulated)
    names_want = [event_label(e) for e in want]
    names_got = [event_label(e) for e in got]
    lines = [f"capture {len(want)} events, simulator {len(got)}"]
    for i in range(max(len(want), len(got))):
        a = names_want[i] if i < len(names_want) else ""
        b = names_got[i] if i < len(names_got) else ""
        lines.append(f"  {'  ' if a == b else '!!'} {i:3} {a:<40} {b}")
    differences: list[Difference] = []
    if names_want != names_got:
        differences.append(Difference("-", "event-order", "stream"))
    else:
        for index, (a, b) in enumerate(zip(want, got, strict=True)):
            differences += compare_event("-", index, a, b, {}, {})
    text = "\n".join(lines)
    if differences:
        text += "\n\ndifferences:\n" + "\n".join(
            f"  {d.kind}: {d.detail}" for d in differences
        )
    return Report(differences, text)
