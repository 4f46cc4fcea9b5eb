"""The inbound Event Socket client: connection, reconnect, api/bgapi, events.

greenswitch's `InboundESL` opens the socket, waits for ``auth/request`` and
authenticates; its command queue pairs replies with commands. Its receive
loop (a line at a time, URL-decoding whole events, one queue for all events)
is far too slow for a busy switch, so `_Connection` replaces it with a block
reader, our frame parser, orjson and the per-channel `Dispatcher`.

`EslClient` keeps one connection up: on every (re)connect it subscribes to
its events, pauses delivery, reads what is live (`LiveSnapshot`) and hands
it to the resync hooks, then lets the queued events through. Between tries
it waits with exponential backoff and jitter.
"""

from __future__ import annotations

import logging
import random
import socket
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import gevent
import gevent.event
import gevent.lock
import greenswitch.esl

from orchestrator.esl.dispatch import Dispatcher
from orchestrator.esl.errors import (
    AuthenticationFailed,
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    EslError,
    InvalidArgument,
    NotConnected,
    ProtocolError,
    failure,
)
from orchestrator.esl.events import Event, decode_json, decode_plain
from orchestrator.esl.frames import Frame, FrameParser
from orchestrator.esl.snapshot import (
    SHOW_CALLS,
    SHOW_CHANNELS,
    SHOW_REGISTRATIONS,
    LiveSnapshot,
    parse_show,
)

logger = logging.getLogger(__name__)

ResyncHook = Callable[[LiveSnapshot], None]

# At most this much is read at once. A switch that is not behind sends far
# less between two reads; after a backlog, bigger reads mean fewer rounds
# of waking each channel's handlers.
RECV_BYTES = 1024 * 1024

# What a call controller needs; CUSTOM subclasses are written with "::".
DEFAULT_EVENTS: tuple[str, ...] = (
    "BACKGROUND_JOB",
    "CHANNEL_CREATE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CHANNEL_CALLSTATE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_OUTGOING",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_DESTROY",
    "DTMF",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "RECORD_START",
    "RECORD_STOP",
    "PRESENCE_IN",
    "MESSAGE_WAITING",
    "sofia::register",
    "sofia::unregister",
    "sofia::expire",
)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between connection attempts.

    The n-th retry waits between half and all of ``initial * factor**n``,
    capped at ``maximum``, so that many clients do not retry in step. A
    connection that was set up starts the count over, from the number of
    such connections in a row that lasted less than ``stable`` seconds; one
    that was never set up (the switch took the password, then refused the
    subscription or sent a malformed frame) counts as a failed attempt. So
    a switch that keeps failing is retried ever more slowly, and one that
    restarted is dialled again at once.
    """

    initial: float = 0.2
    maximum: float = 10.0
    factor: float = 2.0
    stable: float = 10.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        ceiling = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return ceiling / 2 + rand() * ceiling / 2


def subscription_command(names: Iterable[str]) -> str:
    """``event json A B CUSTOM x::y``: the switch reads every word after
    CUSTOM as a subclass, so the plain names have to come first."""
    plain, custom = [], []
    for name in sorted(set(names)):
        if not name or any(char.isspace() for char in name):
            raise InvalidArgument(f"not an event name: {name!r}")
        (custom if "::" in name else plain).append(name)
    if custom:
        plain = [name for name in plain if name != "CUSTOM"] + ["CUSTOM", *custom]
    return "event json " + " ".join(plain)


class _Connection(greenswitch.esl.InboundESL):
    """One authenticated connection, read by our own receive loop."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        timeout: float,
        on_event: Callable[[Event], None],
        on_json_events: Callable[[list[bytes]], None],
    ) -> None:
        super().__init__(host, port, password, timeout)
        self._on_event = on_event
        self._on_json_events = on_json_events
        self._write_lock = gevent.lock.Semaphore()
        self.closed = gevent.event.Event()
        self.close_reason = ""
        self.protocol_error = False

    # greenswitch.InboundESL.connect() calls this once the socket is open.
    def start_event_handlers(self) -> None:
        self._receive_events_greenlet = gevent.spawn(self._receive)

    def _receive(self) -> None:
        parser = FrameParser()
        recv = self.sock.recv
        handle = self._handle
        # JSON events are nearly all the traffic: their bodies are collected
        # without a Frame around them and handed on a block at a time.
        bodies: list[bytes] = []
        on_json_events = self._on_json_events

        reason = "closed by the switch"
        try:
            while True:
                data = recv(RECV_BYTES)
                if not data:
                    if parser.mid_frame:
                        reason = f"closed mid-frame ({parser.buffered} bytes pending)"
                    break
                try:
                    parser.push(data, handle, bodies.append)
                finally:
                    # The events before a malformed frame still count.
                    if bodies:
                        on_json_events(bodies)
                        bodies.clear()
                # A gevent socket only yields when it would block: without
                # this, a busy switch would starve the handlers and the
                # commands waiting for their replies.
                gevent.sleep(0)
        except ProtocolError as exc:
            self.protocol_error = True
            reason = f"malformed frame: {exc}"
        except OSError as exc:
            reason = f"socket error: {exc}"
        finally:
            self.shutdown(reason)

    def _handle(self, frame: Frame) -> None:
        kind = frame.headers["Content-Type"]
        if kind == "text/event-json":
            self._on_event(decode_json(frame.body))
        elif kind == "command/reply" or kind == "api/response":
            if not self._commands_sent:
                raise ProtocolError(f"{kind} with no command waiting")
            self._commands_sent.pop(0).set(frame)
        elif kind == "text/event-plain":
            self._on_event(decode_plain(frame.body))
        elif kind == "auth/request":
            self._auth_request_event.set()
        elif kind == "text/disconnect-notice":
            self.close_reason = frame.text.strip().replace("\n", " ")
        elif kind == "text/rude-rejection":
            self.close_reason = f"rejected: {frame.text.strip()}"
        elif kind != "log/data":
            raise ProtocolError(f"unknown frame Content-Type {kind!r}")

    def request(self, raw: bytes, timeout: float | None) -> Frame:
        """Send one command frame and wait for its reply frame."""
        if not self.connected:
            raise NotConnected("not connected to the switch")
        result = gevent.event.AsyncResult()
        with self._write_lock:
            # Replies come back in command order, so queue and write together.
            self._commands_sent.append(result)
            try:
                self.sock.sendall(raw)
            except OSError as exc:
                self.shutdown(f"socket error: {exc}")
        try:
            return result.get(timeout=timeout)
        except gevent.Timeout:
            line = raw.split(b"\n", 1)[0].decode("utf-8", "replace")
            raise CommandTimeout(line, timeout or 0) from None

    def shutdown(self, reason: str) -> None:
        """Close the socket and fail everything still waiting on it."""
        if self.closed.is_set():
            return
        if not self.close_reason or self.protocol_error:
            self.close_reason = reason
        self.connected = False
        self._run = False
        self._close_socket()
        waiting, self._commands_sent = self._commands_sent, []
        for result in waiting:
            result.set_exception(ConnectionLost(self.close_reason))
        # Unblocks InboundESL.connect() if the switch hung up before greeting.
        self._auth_request_event.set()
        self.closed.set()

    def _close_socket(self) -> None:
        sock = getattr(self, "sock", None)
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        # greenswitch's makefile() holds the descriptor open until closed too.
        sock_file = getattr(self, "sock_file", None)
        if sock_file is not None:
            sock_file.close()
        sock.close()


class EslClient:
    """Keeps an authenticated Event Socket connection and runs commands on it."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        dispatcher: Dispatcher | None = None,
        events: Iterable[str] = DEFAULT_EVENTS,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._password = password
        self.dispatcher = dispatcher or Dispatcher()
        self._events = {*events, "BACKGROUND_JOB"}
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.backoff = backoff or Backoff()
        self.dispatcher.on_malformed = self._malformed_event
        self._resync_hooks: list[ResyncHook] = []
        self._jobs: dict[str, gevent.event.AsyncResult] = {}
        self._conn: _Connection | None = None
        self._ready = gevent.event.Event()
        self._supervisor: gevent.Greenlet | None = None
        self._stopping = False
        self.connections = 0

    def __repr__(self) -> str:
        return f"<EslClient {self.host}:{self.port}>"

    # -- life cycle -------------------------------------------------------

    def start(self) -> None:
        """Connect in the background, and reconnect whenever the link drops."""
        if self._supervisor is None:
            self._stopping = False
            self._supervisor = gevent.spawn(self._supervise)

    def stop(self, timeout: float = 2.0) -> None:
        """Say ``exit`` to the switch, close, and stop reconnecting."""
        self._stopping = True
        conn = self._conn
        if conn is not None and conn.connected:
            try:
                conn.request(b"exit\n\n", timeout)
            except EslError:
                pass
            conn.shutdown("closed by us")
        if self._supervisor is not None:
            self._supervisor.kill(timeout=timeout)
            self._supervisor = None
        self._ready.clear()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for a connection that is subscribed and resynchronised."""
        return self._ready.wait(timeout)

    @property
    def connected(self) -> bool:
        conn = self._conn
        return conn is not None and conn.connected and self._ready.is_set()

    def add_resync_hook(self, hook: ResyncHook) -> None:
        """Call ``hook(snapshot)`` after every (re)connect, before new events.

        Added while connected, the hook is also called at once (with events
        held back meanwhile): a part that starts late, or again after a
        crash, learns what is live all the same.
        """
        self._resync_hooks.append(hook)
        if self.connected:
            gevent.spawn(self._resync_late, hook)

    def _resync_late(self, hook: ResyncHook) -> None:
        self.dispatcher.pause()
        try:
            snapshot = self.snapshot()
        except EslError as exc:
            logger.warning("resync of a new hook failed: %s", exc)
        else:
            _run_hook(hook, snapshot)
        finally:
            self.dispatcher.resume()

    def subscribe_events(self, names: Iterable[str]) -> None:
        """Also receive these events (now, and after every reconnect)."""
        new = set(names) - self._events
        if not new:
            return
        self._events |= new
        if self.connected:
            self.command(subscription_command(new))

    # -- commands ---------------------------------------------------------

    def command(self, line: str, timeout: float | None = None) -> str:
        """Send an Event Socket command; return its ``Reply-Text``."""
        _one_line(line)
        frame = self._request(f"{line}\n\n".encode(), timeout)
        reply = frame.headers.get("Reply-Text", "")
        if reply.startswith("-"):
            raise failure(line, reply)
        return reply

    def api(self, command: str, timeout: float | None = None) -> str:
        """Run an api command and return its output; ``-ERR`` raises."""
        _one_line(command)
        frame = self._request(f"api {command}\n\n".encode(), timeout)
        if frame.content_type != "api/response":
            raise failure(command, frame.headers.get("Reply-Text", "no api response"))
        return _checked_output(command, frame.text)

    def bgapi(self, command: str, timeout: float | None = None) -> str:
        """Run an api command in the background and wait for its job's output.

        The Job-UUID is chosen here and sent with the command, so that the
        job is known before its BACKGROUND_JOB event can possibly arrive.
        """
        _one_line(command)
        timeout = self.command_timeout if timeout is None else timeout
        job_uuid = str(uuidlib.uuid4())
        job = self._jobs[job_uuid] = gevent.event.AsyncResult()
        try:
            raw = f"bgapi {command}\nJob-UUID: {job_uuid}\n\n".encode()
            reply = self._request(raw, timeout).headers.get("Reply-Text", "")
            if not reply.startswith("+OK"):
                raise failure(command, reply)
            try:
                output = job.get(timeout=timeout)
            except gevent.Timeout:
                raise CommandTimeout(f"bgapi {command}", timeout) from None
        finally:
            self._jobs.pop(job_uuid, None)
        return _checked_output(command, output)

    def sendmsg(
        self,
        uuid: str,
        headers: Sequence[tuple[str, str]],
        body: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Queue a message (``call-command: execute`` ...) on a channel."""
        _one_line(uuid)
        lines = [f"sendmsg {uuid}"]
        for name, value in headers:
            _one_line(f"{name}: {value}")
            lines.append(f"{name}: {value}")
        payload = b""
        if body is not None:
            payload = body.encode()
            lines.append(f"content-length: {len(payload)}")
        raw = ("\n".join(lines) + "\n\n").encode() + payload
        reply = self._request(raw, timeout).headers.get("Reply-Text", "")
        if not reply.startswith("+OK"):
            raise failure(f"sendmsg {uuid}", reply)
        return reply

    def snapshot(self) -> LiveSnapshot:
        """What the switch has live: channels, calls and registrations."""
        return LiveSnapshot(
            channels=self._show(SHOW_CHANNELS),
            calls=self._show(SHOW_CALLS),
            registrations=self._show(SHOW_REGISTRATIONS),
        )

    def _show(self, command: str) -> list[dict] | None:
        try:
            return parse_show(self.api(command))
        except CommandFailed as exc:
            logger.warning("resync: %r refused: %s", command, exc.reply)
        except ValueError as exc:
            logger.warning("resync: %r gave no JSON rows: %s", command, exc)
        return None

    def _request(self, raw: bytes, timeout: float | None) -> Frame:
        conn = self._conn
        if conn is None or not conn.connected:
            raise NotConnected(f"not connected to {self.host}:{self.port}")
        return conn.request(raw, self.command_timeout if timeout is None else timeout)

    # -- the connection loop ----------------------------------------------

    def _supervise(self) -> None:
        attempt = 0
        # Connections in a row that were set up but did not last.
        quick_drops = 0
        while not self._stopping:
            conn = self._open()
            if conn is not None:
                ready = self._ready.is_set()
                opened = time.monotonic()
                conn.closed.wait()
                self._lost(conn)
                if ready:
                    lasted = time.monotonic() - opened >= self.backoff.stable
                    quick_drops = 0 if lasted else quick_drops + 1
                    # The failed attempts before it no longer count.
                    attempt = quick_drops
            if self._stopping:
                break
            delay = self.backoff.delay(attempt)
            attempt += 1
            logger.info("reconnecting to %s:%s in %.2f s", self.host, self.port, delay)
            gevent.sleep(delay)

    def _open(self) -> _Connection | None:
        """Connect, authenticate, subscribe and resync; None if that failed."""
        conn = _Connection(
            self.host,
            self.port,
            self._password,
            self.command_timeout,
            self._on_event,
            self._on_json_events,
        )
        timeout = CommandTimeout("connect", self.connect_timeout)
        try:
            with gevent.Timeout(self.connect_timeout, timeout):
                _authenticate(conn)
        except (OSError, EslError, greenswitch.esl.NotConnectedError) as exc:
            reason = str(exc) or type(exc).__name__
            conn.shutdown(reason)
            log = (
                logger.error
                if isinstance(exc, AuthenticationFailed)
                else logger.warning
            )
            log(
                "cannot connect to the switch at %s:%s: %s",
                self.host,
                self.port,
                reason,
            )
            return None
        self._conn = conn
        self.connections += 1
        if not self._prepare(conn):
            return conn
        self._ready.set()
        logger.info(
            "connected to the switch at %s:%s (connection %d)",
            self.host,
            self.port,
            self.connections,
        )
        return conn

    def _prepare(self, conn: _Connection) -> bool:
        """Subscribe, then resync with deliveries held back; False on failure."""
        self.dispatcher.pause()
        try:
            self.command(subscription_command(self._events))
            snapshot = self.snapshot()
            for hook in self._resync_hooks:
                _run_hook(hook, snapshot)
            return True
        except EslError as exc:
            conn.shutdown(f"setting up the connection failed: {exc}")
            return False
        finally:
            self.dispatcher.resume()

    def _lost(self, conn: _Connection) -> None:
        self._ready.clear()
        for job in self._jobs.values():
            if not job.ready():
                job.set_exception(ConnectionLost(conn.close_reason))
        if self._stopping:
            return
        log = logger.error if conn.protocol_error else logger.warning
        log(
            "Event Socket connection to %s:%s dropped: %s",
            self.host,
            self.port,
            conn.close_reason,
        )

    def _malformed_event(self, event: Event, error: ProtocolError) -> None:
        # A JSON event is decoded when first read: a body broken inside
        # shows only then. The stream it came on is out of step like after
        # any malformed frame: drop it, reconnect and resync.
        conn = self._conn
        if conn is None or conn.closed.is_set():
            logger.warning(
                "malformed %s of an earlier connection: %s", event.key, error
            )
            return
        conn.protocol_error = True
        conn.shutdown(f"malformed frame: {event.key} event: {error}")

    def _on_event(self, event: Event) -> None:
        # Runs in the receive loop: must never block.
        if event.name == "BACKGROUND_JOB":
            self._job_done(event)
        self.dispatcher.dispatch(event)

    def _on_json_events(self, bodies: list[bytes]) -> None:
        # The same for the bodies of JSON event frames, nearly all the
        # traffic, a received block's worth at a time.
        events: list[Event] = []
        take = events.append
        try:
            for body in bodies:
                event = decode_json(body)
                if event.name == "BACKGROUND_JOB":
                    self._job_done(event)
                take(event)
        finally:
            # Those before a malformed one are delivered all the same.
            self.dispatcher.dispatch_all(events)

    def _job_done(self, event: Event) -> None:
        job = self._jobs.get(event.job_uuid or "")
        if job is not None:
            job.set(event.body or "")


def _authenticate(conn: _Connection) -> None:
    try:
        conn.connect()
    except ValueError:
        # greenswitch raises ValueError for the "-ERR invalid" reply.
        raise AuthenticationFailed("the switch refused the password") from None


def _run_hook(hook: ResyncHook, snapshot: LiveSnapshot) -> None:
    try:
        hook(snapshot)
    except Exception:
        logger.exception("resync hook %s failed", getattr(hook, "__qualname__", hook))


def _one_line(text: str) -> None:
    if "\n" in text or "\r" in text:
        raise InvalidArgument(f"a command is one line: {text[:80]!r}")


def _checked_output(command: str, output: str) -> str:
    if output.startswith(("-ERR", "-USAGE")):
        raise failure(command, output)
    return output
