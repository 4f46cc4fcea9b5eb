"""Incremental parser of Event Socket frames.

A frame is a block of ``Name: value`` lines ended by a blank line, followed
by exactly ``Content-Length`` bytes of body when that header is present.
Feed the parser whatever the socket returned, however it is cut, and take
the complete frames:

    parser = FrameParser()
    for frame in parser.feed(sock.recv(65536)):
        ...

Anything that cannot be a frame raises `ProtocolError`; the stream is then
out of step and the connection has to be dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from orchestrator.esl.errors import ProtocolError

# FreeSWITCH itself refuses bodies over 16 MiB (mod_event_socket).
MAX_BODY_BYTES = 16 * 1024 * 1024
# Real header blocks are under 1 KB; this bounds what junk can make us buffer.
MAX_HEADER_BYTES = 64 * 1024

_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*\Z").match
_EVENT_PREFIX = b"Content-Length: "
# How FreeSWITCH heads a JSON event (longer bodies are refused further on).
_json_event_head = re.compile(
    rb"Content-Length: ([0-9]{1,8})\nContent-Type: text/event-json\n\n"
).match


class Frame:
    """One frame: its headers and its body (``b""`` when it has none)."""

    __slots__ = ("headers", "body")

    def __init__(self, headers: dict[str, str], body: bytes = b"") -> None:
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"<Frame {self.content_type} {len(self.body)} bytes>"

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def text(self) -> str:
        """The body as text (FreeSWITCH sends UTF-8)."""
        return self.body.decode("utf-8", "replace")


def parse_headers(block: bytes) -> dict[str, str]:
    """Parse the header lines of one frame (without the blank line)."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("frame headers are not UTF-8 text") from None
    headers: dict[str, str] = {}
    for line in text.split("\n"):
        name, sep, value = line.partition(":")
        if not sep or not _HEADER_NAME(name):
            raise ProtocolError(f"malformed frame header line {line[:80]!r}")
        headers[name] = value.lstrip(" ").rstrip("\r")
    return headers


def content_length(headers: dict[str, str]) -> int:
    """The declared body length; 0 when there is none."""
    value = headers.get("Content-Length")
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit()):
        raise ProtocolError(f"invalid Content-Length {value[:40]!r}")
    length = int(value)
    if length > MAX_BODY_BYTES:
        raise ProtocolError(f"Content-Length {length} exceeds {MAX_BODY_BYTES}")
    return length


class FrameParser:
    """Turns a byte stream cut anywhere into complete frames."""

    __slots__ = ("_buf", "_pending")

    def __init__(self) -> None:
        self._buf = b""
        # Headers of a frame whose body has not fully arrived yet.
        self._pending: tuple[dict[str, str], int] | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    @property
    def mid_frame(self) -> bool:
        """Whether the stream stopped inside a frame (for end-of-stream checks)."""
        return bool(self._buf) or self._pending is not None

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return the frames they completed, in order."""
        frames: list[Frame] = []
        self.push(data, frames.append)
        return frames

    def push(
        self,
        data: bytes,
        on_frame: Callable[[Frame], object],
        on_json_event: Callable[[bytes], object] | None = None,
    ) -> None:
        """Like `feed`, but hand each frame over as soon as it is complete.

        With ``on_json_event``, the body of a ``text/event-json`` frame goes
        there without a `Frame` around it (the receive loop's fast path).
        Frames are handed over in stream order either way.
        """
        pos = 0
        if self._pending is not None:
            # Most blocks end inside a body: join only what completes it,
            # rather than copying the whole new block behind the rest.
            headers, length = self._pending
            need = length - len(self._buf)
            if need > len(data):
                self._buf += data
                return
            body = self._buf + data[:need] if self._buf else data[:need]
            self._buf, self._pending = b"", None
            _emit(headers, body, on_frame, on_json_event)
            pos = need
        elif self._buf:
            # A header block cut in two (rare): parse from the joined bytes.
            data = self._buf + data
            self._buf = b""
        self._parse(data, pos, on_frame, on_json_event)

    def _parse(
        self,
        buf: bytes,
        pos: int,
        on_frame: Callable[[Frame], object],
        on_json_event: Callable[[bytes], object] | None,
    ) -> None:
        pending = None
        size = len(buf)
        try:
            while True:
                # Fast path for the bulk of the traffic: a JSON event.
                match = _json_event_head(buf, pos)
                if match is not None:
                    length = int(match[1])
                    if length <= MAX_BODY_BYTES:
                        start = match.end()
                        end = start + length
                        if end <= size and on_json_event is not None:
                            on_json_event(buf[start:end])
                            pos = end
                            continue
                        pending = (_json_headers(match[1]), length)
                        pos = start
                if pending is None:
                    pending, pos = self._next_headers(buf, pos, size)
                    if pending is None:
                        break
                headers, length = pending
                end = pos + length
                if end > size:
                    break
                pending = None
                _emit(headers, buf[pos:end], on_frame, on_json_event)
                pos = end
        finally:
            self._buf = buf[pos:] if pos < size else b""
            self._pending = pending

    def _next_headers(
        self, buf: bytes, pos: int, size: int
    ) -> tuple[tuple[dict[str, str], int] | None, int]:
        # FreeSWITCH never sends blank lines between frames, but skipping
        # them costs nothing and matches how it reads our commands.
        while pos < size and buf[pos] == 10:
            pos += 1
        end = buf.find(b"\n\n", pos)
        if end < 0:
            if size - pos > MAX_HEADER_BYTES:
                raise ProtocolError(
                    f"no end of frame headers within {MAX_HEADER_BYTES} bytes"
                )
            return None, pos
        if buf.startswith(_EVENT_PREFIX, pos):
            headers = _event_headers(buf, pos, end)
        else:
            headers = parse_headers(buf[pos:end])
        if "Content-Type" not in headers:
            raise ProtocolError("frame without Content-Type")
        return (headers, content_length(headers)), end + 2


def _event_headers(buf: bytes, pos: int, end: int) -> dict[str, str]:
    # Fast path for event frames, which are nearly all the traffic:
    # exactly "Content-Length: N\nContent-Type: text/event-xxx".
    newline = buf.find(b"\n", pos, end)
    if newline < 0 or not buf.startswith(b"Content-Type: text/event-", newline + 1):
        return parse_headers(buf[pos:end])
    length = buf[pos + 16 : newline]
    kind = buf[newline + 15 : end]
    if not length.isdigit() or not kind.isascii() or b"\n" in kind or b":" in kind:
        return parse_headers(buf[pos:end])
    return {"Content-Length": length.decode(), "Content-Type": kind.decode()}


def _json_headers(digits: bytes) -> dict[str, str]:
    return {"Content-Length": digits.decode(), "Content-Type": "text/event-json"}


def _emit(
    headers: dict[str, str],
    body: bytes,
    on_frame: Callable[[Frame], object],
    on_json_event: Callable[[bytes], object] | None,
) -> None:
    if on_json_event is not None and headers["Content-Type"] == "text/event-json":
        on_json_event(body)
    else:
        on_frame(Frame(headers, body))
