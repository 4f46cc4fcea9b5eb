"""The simulator's mod_event_socket: an inbound Event Socket server.

It speaks the protocol exactly as FreeSWITCH 1.10 does on the wire and asks
the simulated switch (anything implementing `SwitchCore`) for the rest.
"""

from __future__ import annotations

import logging
import re
import socket
import uuid as uuidlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import gevent
import gevent.event
import gevent.lock
from gevent.server import StreamServer

from simulator.events import Event, background_job

EventListener = Callable[[Event], None]


class SwitchCore(Protocol):
    """What the Event Socket server needs from the simulated switch.

    Every method is called from a gevent greenlet of the server; a method may
    block that greenlet (e.g. ``api`` waiting for an originate) but must not
    block the hub.
    """

    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener(event)`` for every event the switch fires from now on.

        Events are passed in firing order, already stamped with the core
        headers (``Event-Name``, ``Core-UUID`` ... ``Event-Sequence``, see
        `simulator.events.stamp`), including the ``API`` event of every api
        command and the BACKGROUND_JOB events handed to `fire`. The listener
        only queues the event and returns at once; the same `Event` object
        goes to every listener, which must not modify it.
        """

    def remove_listener(self, listener: EventListener) -> None:
        """Stop calling a listener given to `add_listener` (no error if absent)."""

    def api(self, command: str, args: str) -> str:
        """Run an api command and return its output exactly as FreeSWITCH would.

        ``command`` is the first word, ``args`` the rest of the line ("" if
        none): ``api("uuid_kill", "<uuid>")``. The return value is the whole
        ``api/response`` body, e.g. ``"+OK\\n"``, ``"-ERR No such channel!\\n"``,
        ``'{"row_count": 0}\\n'``, or for a command the switch does not know
        ``"-ERR <command> Command not found!\\n"``. Like FreeSWITCH, the switch
        fires an ``API`` event (``API-Command``, ``API-Command-Argument``) once
        the command has finished. Also used for ``bgapi``, from a separate
        greenlet.
        """

    def sendmsg(
        self, uuid: str, headers: Sequence[tuple[str, str]], body: str | None
    ) -> str:
        """Queue a message on a channel; return the ``Reply-Text``.

        ``headers`` are the lines after ``sendmsg <uuid>`` in order, e.g.
        ``[("call-command", "execute"), ("execute-app-name", "playback"),
        ("execute-app-arg", "tone_stream://%(500,0,440)")]`` (values are
        given as sent; the server does not URL-decode them), ``body`` the
        frame's body if it had a ``Content-Length``. Returns ``"+OK"`` when
        queued, ``"-ERR invalid session id [<uuid>]"`` for an unknown channel.
        """

    def channel_exists(self, uuid: str) -> bool:
        """Whether a channel with this Unique-ID exists now (for ``myevents``)."""

    def fire(self, event: Event) -> None:
        """Stamp the core headers on an event and deliver it to every listener.

        The server fires BACKGROUND_JOB events through this, so they get the
        switch's clock, identity and global Event-Sequence.
        """


logger = logging.getLogger(__name__)

DISCONNECT_MESSAGE = (
    "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
)
# mod_event_socket's limits: body of a command, header part, queued events.
MAX_CONTENT_LENGTH = 16 * 1024 * 1024
MAX_COMMAND_BYTES = 10 * 1024 * 1024
MAX_QUEUE_LEN = 100_000
MAX_MISSED = 500

# The event type names FreeSWITCH 1.10 knows (ALL last), as `event` takes them.
EVENT_NAMES = frozenset(
    """CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE
    CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE
    CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE
    CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_OUTGOING
    CHANNEL_PARK CHANNEL_UNPARK CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID
    API LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP SHUTDOWN PUBLISH UNPUBLISH TALK
    NOTALK SESSION_CRASH MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE PRESENCE_IN
    NOTIFY_IN PRESENCE_OUT PRESENCE_PROBE MESSAGE_WAITING MESSAGE_QUERY ROSTER
    CODEC BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE PRIVATE_COMMAND HEARTBEAT
    TRAP ADD_SCHEDULE DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML NOTIFY
    PHONE_FEATURE PHONE_FEATURE_SUBSCRIBE SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS
    CHANNEL_DATA GENERAL COMMAND SESSION_HEARTBEAT CLIENT_DISCONNECTED
    SERVER_DISCONNECTED SEND_INFO RECV_INFO RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE
    CALL_SECURE NAT RECORD_START RECORD_STOP PLAYBACK_START PLAYBACK_STOP
    CALL_UPDATE FAILURE SOCKET_DATA MEDIA_BUG_START MEDIA_BUG_STOP
    CONFERENCE_DATA_QUERY CONFERENCE_DATA CALL_SETUP_REQ CALL_SETUP_RESULT
    CALL_DETAIL DEVICE_STATE TEXT SHUTDOWN_REQUESTED CERT_RELOAD ALL""".split()
)
_ALL_BUT_ALL = EVENT_NAMES - {"ALL"}

# What `myevents` subscribes to.
MYEVENTS_NAMES = frozenset(
    """CHANNEL_ANSWER CHANNEL_APPLICATION CHANNEL_BRIDGE CHANNEL_CREATE CHANNEL_DATA
    CHANNEL_DESTROY CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP
    CHANNEL_HANGUP_COMPLETE CHANNEL_ORIGINATE CHANNEL_UUID CHANNEL_OUTGOING
    CHANNEL_PARK CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_STATE
    CHANNEL_UNBRIDGE CHANNEL_UNPARK DETECTED_SPEECH DTMF NOTALK TALK""".split()
)

LOG_LEVELS = {
    "console": 0,
    "alert": 1,
    "crit": 2,
    "err": 3,
    "error": 3,
    "warning": 4,
    "notice": 5,
    "info": 6,
    "debug": 7,
}

_FRAME_END = re.compile(rb"\n\r*\n")
_ATOI = re.compile(r"\s*([+-]?\d+)")


def event_type(word: str) -> str | None:
    """The event type a word names (any case, ``SWITCH_EVENT_`` optional)."""
    name = word.upper()
    if len(name) > 13 and name.startswith("SWITCH_EVENT_"):
        name = name[13:]
    return name if name in EVENT_NAMES else None


class _Drop(Exception):
    """The client sent something that ends the connection."""


@dataclass
class Command:
    """One command frame from a client, as mod_event_socket reads it."""

    line: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class CommandReader:
    """Reads command frames: lines up to a blank line, then any body."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""

    def read(self) -> Command | None:
        """The next command, or None when the client closed the connection."""
        head = self._read_head()
        if head is None:
            return None
        lines = head.decode("utf-8", "replace").split("\n")
        # The command is the first line; later lines are "name: value".
        command = Command(lines[0].split("\r", 1)[0])
        for line in lines[1:]:
            name, colon, value = line.rstrip("\r").partition(":")
            if not colon or not name:
                continue
            value = value.lstrip(" ")
            command.headers.append((name, value))
            if name.lower() == "content-length":
                command.body = self._read_body(_atoi(value))
        return command

    def _read_head(self) -> bytes | None:
        while True:
            # Blank lines before a command are skipped.
            self._buf = self._buf.lstrip(b"\r\n")
            match = _FRAME_END.search(self._buf)
            if match:
                head, self._buf = self._buf[: match.start()], self._buf[match.end() :]
                return head
            if len(self._buf) > MAX_COMMAND_BYTES:
                raise _Drop("command too long")
            if not self._fill():
                return None

    def _read_body(self, length: int) -> str | None:
        if length < 0 or length > MAX_CONTENT_LENGTH:
            raise _Drop(f"Content-Length {length} out of range")
        while len(self._buf) < length:
            if not self._fill():
                raise _Drop("connection closed inside a body")
        body, self._buf = self._buf[:length], self._buf[length:]
        return body.decode("utf-8", "replace") if length else None

    def _fill(self) -> bool:
        data = self._sock.recv(65536)
        self._buf += data
        return bool(data)


def _atoi(text: str) -> int:
    match = _ATOI.match(text)
    return int(match.group(1)) if match else 0


class EslServer:
    """Listens like mod_event_socket; one `Connection` per client."""

    def __init__(
        self,
        switch: SwitchCore,
        password: str = "ClueCon",
        host: str = "127.0.0.1",
        port: int = 8021,
    ) -> None:
        self.switch = switch
        self.password = password
        self.connections: set[Connection] = set()
        self._server = StreamServer((host, port), self._handle)

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the real port when started with port 0)."""
        host, port = self._server.address[:2]
        return host, port

    def start(self) -> None:
        self._server.start()
        logger.info("event socket listening on %s:%s", *self.address)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop listening and drop every client, as a stopping switch does."""
        self._server.stop(timeout=1)
        self.drop_all()

    def drop_all(self) -> None:
        """Close every client connection (a cut link), keep listening."""
        for connection in list(self.connections):
            connection.close()

    def _handle(self, sock: socket.socket, address: tuple[str, int]) -> None:
        connection = Connection(self, sock, address)
        self.connections.add(connection)
        try:
            connection.run()
        finally:
            self.connections.discard(connection)


class Connection:
    """One client of the event socket (FreeSWITCH calls it a listener)."""

    def __init__(
        self, server: EslServer, sock: socket.socket, address: tuple[str, int]
    ) -> None:
        self.server = server
        self.switch = server.switch
        self.sock = sock
        self.peer = f"{address[0]}:{address[1]}"
        self.running = True
        self.authed = False
        self.format = "plain"
        self.events_on = False
        self.names: set[str] = set()
        self.custom: set[str] = set()
        # `event ALL` takes every subclass; nixevent can then drop some.
        self.custom_all = False
        self.custom_dropped: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.myevents = False
        self.session: str | None = None
        self.linger: int | None = None
        self.log_level: int | None = None
        self.lost_events = 0
        self._queue: deque[Event] = deque()
        self._wake = gevent.event.Event()
        # Held while a command runs and its reply is written: events fired
        # meanwhile go out after the reply, as the switch's listener thread
        # only flushes its queue between commands.
        self._io = gevent.lock.Semaphore()
        self._down: tuple[str, str] | None = None
        self._closed = False

    # -- life cycle -------------------------------------------------------

    def run(self) -> None:
        self.switch.add_listener(self.on_event)
        writer = gevent.spawn(self._write_events)
        try:
            self._send(b"Content-Type: auth/request\n\n")
            reader = CommandReader(self.sock)
            while self.running:
                command = reader.read()
                if command is None:
                    break
                with self._io:
                    self.execute(command)
        except _Drop as exc:
            logger.warning("event socket client %s dropped: %s", self.peer, exc)
        except OSError:
            pass
        finally:
            self.running = False
            self.switch.remove_listener(self.on_event)
            writer.kill()
            self._finish()

    def close(self) -> None:
        """Drop the connection at once (no disconnect notice)."""
        self.running = False
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.session:
            head = (
                "Content-Type: text/disconnect-notice\n"
                f"Controlled-Session-UUID: {self.session}\n"
                "Content-Disposition: disconnect\n"
            )
        else:
            head = "Content-Type: text/disconnect-notice\n"
        message = DISCONNECT_MESSAGE.encode()
        try:
            self._send(f"{head}Content-Length: {len(message)}\n\n".encode() + message)
        except OSError:
            pass
        self.sock.close()

    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _reply(self, text: str) -> None:
        self._send(f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode())

    # -- events -------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """The switch's listener callback: queue the event if wanted."""
        if self.session and event.name == "CHANNEL_HANGUP":
            if _header(event, "unique-id") == self.session:
                self._down = (self.session, str(_header(event, "channel-name") or ""))
                self._wake.set()
        if not self.wants(event):
            return
        if len(self._queue) >= MAX_QUEUE_LEN:
            self.lost_events += 1
            if self.lost_events > MAX_MISSED:
                logger.error("event socket client %s lost too many events", self.peer)
                self.close()
            return
        self._queue.append(event)
        self._wake.set()

    def wants(self, event: Event) -> bool:
        """Whether this connection's subscriptions and filters let it through."""
        if not self.events_on or not self.running:
            return False
        if "ALL" in self.names:
            send = True
        elif event.name in self.names:
            send = event.name != "CUSTOM" or self._wants_subclass(event.subclass)
        else:
            return False
        if send and self.filters:
            send = self._passes_filters(event)
        if send and self.myevents:
            uuid = _header(event, "unique-id")
            if uuid is None or (self.session and uuid != self.session):
                send = False
            if self.session and _header(event, "job-owner-uuid") == self.session:
                send = True
        return send

    def _wants_subclass(self, subclass: str | None) -> bool:
        if not subclass or subclass in self.custom:
            return True
        return self.custom_all and subclass not in self.custom_dropped

    def _passes_filters(self, event: Event) -> bool:
        # Mirrors mod_event_socket: "+"/"-" prefixes make a filter accept or
        # reject; a value starting with "/" is a regular expression; the
        # first reject wins, an accept needs one matching filter.
        send = False
        for name, value in self.filters:
            found = _header(event, name)
            if found is None:
                continue
            positive = True
            index = 0
            while index < len(value) and value[index] in "+- ":
                if value[index] != " ":
                    positive = value[index] == "+"
                index += 1
            if send and positive:
                continue
            wanted = value[index:]
            if value.startswith("/"):
                match = _regex_match(_text(found), wanted)
            else:
                match = _text(found).lower() == wanted.lower()
            if match:
                if not positive:
                    return False
                send = True
        return send

    def _write_events(self) -> None:
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                while self._queue and self.running:
                    with self._io:
                        self._flush()
                if self._down is not None:
                    self._channel_down()
        except OSError:
            self.running = False

    def _flush(self) -> None:
        batch = list(self._queue)
        self._queue.clear()
        if self.events_on:
            self._send(b"".join(event.frame(self.format) for event in batch))

    def _channel_down(self) -> None:
        # The controlled channel hung up: with linger, say so and stay open
        # (for `linger <s>` that long); otherwise end the connection.
        uuid, channel_name = self._down or ("", "")
        self._down = None
        if self.linger is None:
            self.running = False
            with self._io:
                self._finish()
            return
        with self._io:
            self._send(
                "Content-Type: text/disconnect-notice\n"
                f"Controlled-Session-UUID: {uuid}\n"
                "Content-Disposition: linger\n"
                f"Channel-Name: {channel_name}\n"
                f"Linger-Time: {self.linger}\n"
                "Content-Length: 0\n\n".encode()
            )
        if self.linger >= 0:
            gevent.spawn_later(self.linger, self.close)

    # -- commands -------------------------------------------------------------

    def execute(self, command: Command) -> None:
        """Run one command and write its reply, in mod_event_socket's order."""
        line = command.line
        low = line.lower()
        if low.startswith("exit") or line.startswith("..."):
            self.running = False
            self._reply("+OK bye")
            return
        if not self.authed:
            self._reply(self._authenticate(line, low))
            return
        handler = self._handler_for(low)
        reply = handler(command) if handler else "-ERR command not found"
        if reply is not None:
            self._reply(reply)

    def _authenticate(self, line: str, low: str) -> str:
        if low.startswith("auth "):
            if line[5:] == self.server.password:
                self.authed = True
                return "+OK accepted"
            self.running = False
            return "-ERR invalid"
        if low.startswith("userauth "):
            # No event socket users are configured in the simulator's directory.
            self.running = False
            return "-ERR invalid"
        return "-ERR command not found"

    def _handler_for(self, low: str) -> Callable[[Command], str | None] | None:
        # Same order and prefix matching as mod_event_socket: e.g. "events"
        # is taken for "event", "nolinger" is checked before "nolog".
        if low.startswith("filter "):
            return self._filter
        if low.startswith("myevents ") or (self.session and low.startswith("myevents")):
            return self._myevents
        for prefix, handler in (
            ("divert_events", self._divert_events),
            ("sendmsg", self._sendmsg),
            ("sendevent", self._sendevent),
            ("api ", self._api),
            ("bgapi ", self._bgapi),
            ("log", self._log),
            ("linger", self._linger),
            ("nolinger", self._nolinger),
            ("nolog", self._nolog),
            ("event", self._event),
            ("nixevent", self._nixevent),
            ("noevents", self._noevents),
        ):
            if low.startswith(prefix):
                return handler
        return None

    def _api(self, command: Command) -> None:
        name, _, args = command.line[4:].partition(" ")
        output = self.switch.api(name, args) or "-ERR no reply\n"
        body = output.encode()
        head = f"Content-Type: api/response\nContent-Length: {len(body)}\n\n"
        self._send(head.encode() + body)

    def _bgapi(self, command: Command) -> None:
        name, _, args = command.line[6:].partition(" ")
        job_uuid = command.header("job-uuid") or str(uuidlib.uuid4())
        self._send(
            "Content-Type: command/reply\n"
            f"Reply-Text: +OK Job-UUID: {job_uuid}\n"
            f"Job-UUID: {job_uuid}\n\n".encode()
        )
        gevent.spawn(self._run_job, job_uuid, name, args, self.session or "")

    def _run_job(self, job_uuid: str, name: str, args: str, owner: str) -> None:
        try:
            output = self.switch.api(name, args)
        except Exception:
            logger.exception("bgapi %s %s (job %s) failed", name, args, job_uuid)
            output = f"-ERR {name} Command not found!\n"
        self.switch.fire(background_job(job_uuid, name, args, output, owner))

    def _event(self, command: Command) -> str:
        words = _words_after_space(command.line, 5)
        keys = 0
        custom = False
        for index, word in enumerate(words):
            if index == 0 and word.lower() in ("plain", "json", "xml"):
                # Takes effect even if no event name follows.
                self.format = word.lower()
                continue
            if custom:
                self.custom.add(word)
                self.custom_dropped.discard(word)
                continue
            name = event_type(word)
            if name is None:
                continue
            keys += 1
            self.names.add(name)
            if name == "ALL":
                self.names |= _ALL_BUT_ALL
                self.custom_all = True
            elif name == "CUSTOM":
                custom = True
        if not keys:
            return "-ERR no keywords supplied"
        self.events_on = True
        return f"+OK event listener enabled {self.format}"

    def _nixevent(self, command: Command) -> str:
        keys = 0
        custom = False
        for word in _words_after_space(command.line, 8):
            if custom:
                self.custom.discard(word)
                self.custom_dropped.add(word)
                continue
            name = event_type(word)
            if name is None:
                continue
            keys += 1
            if name == "CUSTOM":
                custom = True
            elif name == "ALL":
                self.names.clear()
            else:
                if "ALL" in self.names:
                    self.names = set(_ALL_BUT_ALL)
                self.names.discard(name)
        if not keys:
            return "-ERR no keywords supplied"
        self.events_on = True
        return "+OK events nixed"

    def _noevents(self, command: Command) -> str:
        self._queue.clear()
        if not self.events_on:
            return "-ERR not listening for events"
        self.events_on = False
        self.names.clear()
        self.custom.clear()
        self.custom_all = False
        return "+OK no longer listening for events"

    def _filter(self, command: Command) -> str:
        rest = command.line[7:].lstrip(" ")
        name, space, value = rest.partition(" ")
        if name.lower() == "delete" and space:
            name, space, value = value.partition(" ")
            if name.lower() == "all":
                self.filters.clear()
            else:
                self.filters = [
                    (key, val)
                    for key, val in self.filters
                    if key.lower() != name.lower() or (space and val != value)
                ]
            return f"+OK filter deleted. [{name}][{value if space else ''}]"
        if not space:
            return "-ERR invalid syntax"
        if name.lower() == "add":
            name, _, value = value.partition(" ")
        self.filters.append((name, value))
        return f"+OK filter added. [{name}]=[{value}]"

    def _myevents(self, command: Command) -> str:
        if self.myevents:
            return "-ERR aready enabled."
        if self.session is None:
            uuid, space, _ = command.line[9:].partition(" ")
            if self.switch.channel_exists(uuid):
                self.session = uuid
            elif space:
                return "-ERR invalid uuid"
            # FreeSWITCH cuts the line at the uuid before looking for a
            # format word, so "myevents <uuid> json" keeps the old format.
        self.names |= MYEVENTS_NAMES
        self.myevents = True
        self.events_on = True
        return "+OK Events Enabled"

    def _divert_events(self, command: Command) -> str:
        if not self.session:
            return "-ERR not controlling a session."
        value = command.line[13:].strip(" ")
        if not value:
            return "-ERR missing value."
        if value.lower() == "on":
            return "+OK events diverted"
        return "+OK events not diverted"

    def _sendmsg(self, command: Command) -> str:
        uuid = command.line[7:].lstrip(" ") or command.header("session-id") or ""
        target = uuid or self.session
        if not target:
            return "-ERR invalid session id []"
        return self.switch.sendmsg(target, command.headers, command.body)

    def _sendevent(self, command: Command) -> str:
        event_uuid = str(uuidlib.uuid4())
        name = event_type(command.line[9:].strip(" \t")) or "CUSTOM"
        headers = [(key, value) for key, value in command.headers]
        headers.append(("Event-UUID", event_uuid))
        subclass = command.header("Event-Subclass") if name == "CUSTOM" else None
        self.switch.fire(Event(name, headers, command.body, subclass=subclass))
        return f"+OK {event_uuid}"

    def _log(self, command: Command) -> str:
        word = command.line[3:].lstrip(" ").split(" ", 1)[0]
        level = _log_level(word) if word else 7
        if level is None:
            return "-ERR invalid log level"
        self.log_level = level
        return f"+OK log level {word} [{level}]"

    def _nolog(self, command: Command) -> str:
        if self.log_level is None:
            return "-ERR not loging"
        self.log_level = None
        return "+OK no longer logging"

    def _linger(self, command: Command) -> str:
        if not self.session:
            return "-ERR not controlling a session"
        rest = command.line[6:]
        if rest.startswith(" ") and rest[1:]:
            self.linger = _atoi(rest[1:])
            return f"+OK will linger {self.linger} seconds"
        self.linger = -1
        return "+OK will linger"

    def _nolinger(self, command: Command) -> str:
        if not self.session:
            return "-ERR not controlling a session"
        self.linger = None
        return "+OK will not linger"


def _words_after_space(line: str, start: int) -> list[str]:
    # mod_event_socket takes everything after the first space past the
    # command word, split on single spaces.
    space = line.find(" ", start)
    return line[space + 1 :].split(" ") if space >= 0 else []


def _header(event: Event, name: str) -> str | list[str] | None:
    """A header by name in any case, the first one, as FreeSWITCH looks up."""
    name = name.lower()
    for key, value in event.headers:
        if key.lower() == name:
            return value
    return None


def _text(value: str | list[str]) -> str:
    if isinstance(value, str):
        return value
    return value[0] if len(value) == 1 else "ARRAY::" + "|:".join(value)


def _regex_match(text: str, expression: str) -> bool:
    # "/expr/flags"; without the closing slash FreeSWITCH logs an error and
    # the filter matches nothing.
    body, slash, flags = expression[1:].rpartition("/")
    if not slash:
        return False
    try:
        pattern = re.compile(body, re.IGNORECASE if "i" in flags else 0)
    except re.error:
        return False
    return pattern.search(text) is not None


def _log_level(word: str) -> int | None:
    if word.isdigit():
        level = int(word)
        return level if level <= 7 else None
    return LOG_LEVELS.get(word.lower())
