"""Replay capture 01 against the simulator's event socket, byte for byte.

Every frame the recorder sent to the real FreeSWITCH is sent again, in the
same order, and what comes back must be what FreeSWITCH sent: the same
reply texts, Content-Types, header order, lengths and bodies. The switch
behind the server answers api commands with the captured outputs and fires
the captured events at the points where they arrived, so what is compared
is the event socket itself: framing, subscriptions, formats, filters,
BACKGROUND_JOB delivery and the plain/json serialisation of events.

Only the Job-UUID that the server draws at random differs; it is mapped to
the captured one before comparing.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gevent.socket
import pytest

from simulator.esl_server import EslServer
from simulator.events import CallSite, Event, SwitchIdentity, stamp

A_LEG = "404b9219-f56c-4329-8684-202a8c88bb66"
B_LEG = "ec8e33d9-e8f7-43f9-9853-993432a85546"
IDENTITY = SwitchIdentity(
    "b9e8e40d-cfbd-4851-b9aa-8fa5fd55389a", ipv4="192.0.2.10", ipv6="192.0.2.10"
)
API_SITE = CallSite("switch_loadable_module.c", "switch_api_execute", 2954)
_JOB_UUID = re.compile(rb"Job-UUID: ([0-9a-f-]{36})")


@dataclass
class Row:
    conn: str
    direction: str
    raw: bytes

    @property
    def event_name(self) -> str | None:
        head, _, body = self.raw.partition(b"\n\n")
        if b"Content-Type: text/event-" not in head:
            return None
        if body.startswith(b"{"):
            return json.loads(body)["Event-Name"]
        return body.split(b"\n", 1)[0].split(b": ", 1)[1].decode()


def load_rows(captures_dir: Path) -> list[Row]:
    path = captures_dir / "01-esl-protocol" / "wire.jsonl"
    with path.open() as fh:
        return [
            Row(r["conn"], r["dir"], r["raw"].encode()) for r in map(json.loads, fh)
        ]


def event_from_frame(raw: bytes) -> Event:
    """A simulator event holding exactly what a captured frame carried."""
    body = raw.partition(b"\n\n")[2]
    if body.startswith(b"{"):
        pairs = json.loads(body, object_pairs_hook=list)
        return _event(pairs)
    return _plain_event(body.decode())


def _event(pairs: list[tuple[str, object]]) -> Event:
    headers = [(k, v) for k, v in pairs if k not in ("_body", "Content-Length")]
    body = dict(pairs).get("_body")
    name = dict(pairs)["Event-Name"]
    return Event(str(name), headers, body)  # type: ignore[arg-type]


def _plain_event(text: str) -> Event:
    from urllib.parse import unquote

    head, _, rest = text.partition("\n\n")
    pairs = [tuple(line.split(": ", 1)) for line in head.split("\n") if line]
    decoded = [(k, unquote(v)) for k, v in pairs]
    if "Content-Length" in dict(decoded):
        decoded.append(("_body", rest))
    return _event(decoded)


class ReplaySwitch:
    """Answers api commands with the captured outputs, fires captured events."""

    def __init__(self, rows: list[Row]) -> None:
        self.listeners: list = []
        self.outputs: dict[str, deque[str]] = defaultdict(deque)
        # The captured API event of each api command run, where one arrived.
        self.api_events: dict[str, deque[Event | None]] = defaultdict(deque)
        # Sequence and timestamp of each captured BACKGROUND_JOB, by its output.
        self.job_stamps: dict[str, tuple[int, int]] = {}
        self.sequence = 2000
        self._learn(rows)

    def _learn(self, rows: list[Row]) -> None:
        last_command = ""
        for row in rows:
            text = row.raw.decode()
            if row.direction == "tx":
                last_command = text.split("\n", 1)[0]
                continue
            if "Content-Type: api/response" in text and last_command.startswith("api "):
                self.outputs[last_command[4:]].append(text.partition("\n\n")[2])
                self.api_events[last_command[4:]].append(None)
            elif row.event_name == "API":
                self.api_events[last_command[4:]][-1] = event_from_frame(row.raw)
            elif row.event_name == "BACKGROUND_JOB":
                job = event_from_frame(row.raw)
                self.outputs[f"{job.get('Job-Command')}"].append(job.body or "")
                self.job_stamps[job.body or ""] = (
                    int(job.get("Event-Sequence")),
                    int(job.get("Event-Date-Timestamp")),
                )
        # The first `bgapi status` was never delivered; any output will do.
        self.outputs["status"].insert(1, "+OK\n")

    def add_listener(self, listener) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener) -> None:
        self.listeners.remove(listener)

    def channel_exists(self, uuid: str) -> bool:
        return False

    def deliver(self, event: Event) -> None:
        for listener in list(self.listeners):
            listener(event)

    def fire(self, event: Event) -> None:
        if event.name == "BACKGROUND_JOB" and event.body in self.job_stamps:
            sequence, timestamp = self.job_stamps[event.body]
        else:
            self.sequence += 1
            sequence, timestamp = self.sequence, 1796314880000000
        self.deliver(stamp(event, IDENTITY, sequence, timestamp))

    def api(self, command: str, args: str) -> str:
        line = f"{command} {args}".strip()
        output = self.outputs[line].popleft()
        captured = self.api_events[line].popleft() if self.api_events[line] else None
        if captured is not None:
            self.deliver(captured)
        else:
            event = Event("API", [("API-Command", command)], origin=API_SITE)
            if args:
                event.add("API-Command-Argument", args)
            self.fire(event)
        return output

    def sendmsg(self, uuid, headers, body) -> str:
        return f"-ERR invalid session id [{uuid}]"


class Reader:
    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = gevent.socket.create_connection(address, timeout=5)
        self.buffer = b""

    def read_exactly(self, expected: bytes) -> bytes:
        """Read as many bytes as ``expected`` has (or until the server closes)."""
        while len(self.buffer) < len(expected):
            data = self.sock.recv(65536)
            if not data:
                break
            self.buffer += data
        got, self.buffer = self.buffer[: len(expected)], self.buffer[len(expected) :]
        return got

    def at_eof(self) -> bool:
        return not self.buffer and self.sock.recv(1) == b""


@pytest.fixture(scope="module")
def rows(captures_dir: Path) -> list[Row]:
    return load_rows(captures_dir)


@pytest.fixture
def replay(rows: list[Row]) -> Iterator[tuple[ReplaySwitch, EslServer]]:
    switch = ReplaySwitch(rows)
    server = EslServer(switch, password="ClueCon", port=0)
    server.start()
    yield switch, server
    server.stop()


def spontaneous(row: Row) -> bool:
    """An event the switch fired by itself (not the result of a command)."""
    return row.event_name not in (None, "API", "BACKGROUND_JOB")


def b_leg_copy(event: Event) -> Event:
    """The same event for the other leg: a Unique-ID filter must drop it."""
    headers = [
        (key, B_LEG if value == A_LEG else value) for key, value in event.headers
    ]
    return Event(event.name, headers, event.body)


@pytest.mark.parametrize("conn", ["noauth", "wrongpw", "main"])
def test_replay_of_capture_01(rows, replay, conn):
    switch, server = replay
    reader = Reader(server.address)
    mine = [row for row in rows if row.conn == conn]
    filtered = False

    for index, row in enumerate(mine):
        if row.direction == "tx":
            reader.sock.sendall(row.raw)
            filtered = filtered or row.raw.startswith(b"filter ")
            continue
        if spontaneous(row):
            event = event_from_frame(row.raw)
            if filtered:
                switch.deliver(b_leg_copy(event))
            switch.deliver(event)
        got = reader.read_exactly(row.raw)
        assert _same_job(got, row.raw) == row.raw, f"frame {index} of {conn}"

    assert reader.at_eof()


def _same_job(got: bytes, expected: bytes) -> bytes:
    ours, theirs = _JOB_UUID.search(got), _JOB_UUID.search(expected)
    if ours and theirs:
        return got.replace(ours.group(1), theirs.group(1))
    return got
