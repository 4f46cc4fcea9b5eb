"""Events as the simulated switch fires them, serialised like FreeSWITCH.

An `Event` is a name plus an ordered list of headers. Order matters and a
header may occur twice: FreeSWITCH appends rather than replaces in several
places (``Hangup-Cause`` twice in CHANNEL_HANGUP_COMPLETE, a second
``Event-Name`` in PRIVATE_COMMAND), and its JSON then carries the key twice.
A value is a string, or a list of strings for a multi-valued channel
variable (``variable_originate_causes`` ...).

Serialisation follows FreeSWITCH 1.10 as seen on the Event Socket:

- ``text/event-plain``: ``Name: value`` lines with URL-encoded values, then
  either a blank line, or ``Content-Length: N``, a blank line and the body;
- ``text/event-json``: unformatted JSON, strings except multi-valued
  variables (arrays), the body as ``_body`` after a ``Content-Length`` member.

Event frames put ``Content-Length`` before ``Content-Type``, unlike every
other frame mod_event_socket writes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson

HeaderValue = str | list[str]

# Printable ASCII characters that FreeSWITCH percent-encodes in plain events;
# everything below space or above '~' (including each byte of UTF-8) is
# encoded too. '/' and ',' are left alone.
_URL_UNSAFE = frozenset('\r\n "#%&+:;<=>?@[\\]^`{|}')
_UPPER_HEX = frozenset(b"0123456789ABCDEF")

# Marks a multi-valued header in the plain serialisation ("ARRAY::a|:b").
_ARRAY_PREFIX = "ARRAY::"
_ARRAY_SEPARATOR = "|:"


def _encode_table() -> list[str]:
    table = []
    for byte in range(256):
        char = chr(byte)
        if byte < 0x20 or byte > 0x7E or char in _URL_UNSAFE:
            table.append(f"%{byte:02X}")
        else:
            table.append(char)
    return table


_ENCODE = _encode_table()


def url_encode(value: str) -> str:
    """Percent-encode a header value exactly as FreeSWITCH does.

    Quirk: a '%' already followed by two upper-case hex digits is left as it
    is (FreeSWITCH does not double-encode), so "%2F" stays "%2F" while "%2f"
    becomes "%252f".
    """
    if value.isascii() and value.isalnum():
        return value
    raw = value.encode()
    out = []
    for index, byte in enumerate(raw):
        if byte == 0x25 and _is_encoded_escape(raw, index):
            out.append("%")
        else:
            out.append(_ENCODE[byte])
    return "".join(out)


def _is_encoded_escape(raw: bytes, index: int) -> bool:
    tail = raw[index + 1 : index + 3]
    return len(tail) == 2 and tail[0] in _UPPER_HEX and tail[1] in _UPPER_HEX


@dataclass(frozen=True)
class CallSite:
    """Where in FreeSWITCH an event is fired (the Event-Calling-* headers)."""

    file: str
    function: str
    line: int


@dataclass(frozen=True)
class SwitchIdentity:
    """The per-switch values stamped on every event."""

    core_uuid: str
    hostname: str = "fs1"
    switchname: str = "fs1"
    ipv4: str = "192.0.2.10"
    ipv6: str = "::1"


class Event:
    """One event: a name, ordered headers (duplicates allowed) and a body."""

    __slots__ = ("name", "subclass", "headers", "body", "origin")

    def __init__(
        self,
        name: str,
        headers: Iterable[tuple[str, HeaderValue]] = (),
        body: str | None = None,
        subclass: str | None = None,
        origin: CallSite | None = None,
    ) -> None:
        self.name = name
        self.subclass = subclass
        self.headers: list[tuple[str, HeaderValue]] = list(headers)
        self.body = body
        self.origin = origin

    def __repr__(self) -> str:
        label = f"{self.name}/{self.subclass}" if self.subclass else self.name
        return f"<Event {label} {len(self.headers)} headers>"

    def __iter__(self) -> Iterator[tuple[str, HeaderValue]]:
        return iter(self.headers)

    def add(self, name: str, value: HeaderValue) -> None:
        """Append a header, even if one of that name exists (FreeSWITCH does)."""
        self.headers.append((name, value))

    def set(self, name: str, value: HeaderValue) -> None:
        """Replace the first header of that name, or append it."""
        for index, (key, _) in enumerate(self.headers):
            if key == name:
                self.headers[index] = (name, value)
                return
        self.headers.append((name, value))

    def get(self, name: str, default: HeaderValue | None = None) -> HeaderValue | None:
        """The first header of that name, as switch_event_get_header returns."""
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def remove(self, name: str) -> None:
        """Drop every header of that name."""
        self.headers = [(key, value) for key, value in self.headers if key != name]

    def copy(self) -> Event:
        return Event(self.name, self.headers, self.body, self.subclass, self.origin)

    def to_plain(self) -> str:
        """The ``text/event-plain`` body (without the outer frame headers)."""
        lines = []
        for name, value in self.headers:
            lines.append(f"{name}: {url_encode(_plain_value(value)) or '_undef_'}\n")
        if self.body:
            body_length = len(self.body.encode())
            lines.append(f"Content-Length: {body_length}\n\n{self.body}")
        else:
            # An empty body gets no Content-Length in the plain form.
            lines.append("\n")
        return "".join(lines)

    def to_json(self) -> str:
        """The ``text/event-json`` body: compact, duplicate keys kept.

        A list is written as a JSON array even with one element; an empty
        body still gets ``Content-Length`` "0" and ``_body`` "".
        """
        parts = [
            orjson.dumps(name) + b":" + orjson.dumps(value)
            for name, value in self.headers
        ]
        if self.body is not None:
            body_length = str(len(self.body.encode()))
            parts.append(b'"Content-Length":' + orjson.dumps(body_length))
            parts.append(b'"_body":' + orjson.dumps(self.body))
        return (b"{" + b",".join(parts) + b"}").decode()

    def to_xml(self) -> str:
        """The ``text/event-xml`` body: headers as elements, values URL-encoded.

        The element layout follows FreeSWITCH's XML writer (two spaces per
        level); no capture of this format exists to check it against.
        """
        lines = ["<event>", "  <headers>"]
        for name, value in self.headers:
            for item in [value] if isinstance(value, str) else value:
                lines.append(f"    <{name}>{_xml_text(url_encode(item))}</{name}>")
        lines.append("  </headers>")
        if self.body:
            length = len(self.body.encode())
            lines.append(f"  <Content-Length>{length}</Content-Length>")
            lines.append(f"  <body>{_xml_text(self.body)}</body>")
        lines.append("</event>")
        return "\n".join(lines)

    def serialise(self, fmt: str) -> str:
        """The event body in ``plain``, ``json`` or ``xml`` format."""
        if fmt == "json":
            return self.to_json()
        if fmt == "xml":
            return self.to_xml()
        return self.to_plain()

    def frame(self, fmt: str) -> bytes:
        """The whole frame for a listener in ``plain``, ``json`` or ``xml``."""
        text = self.serialise(fmt)
        payload = text.encode()
        head = f"Content-Length: {len(payload)}\nContent-Type: text/event-{fmt}\n\n"
        return head.encode() + payload


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain_value(value: HeaderValue) -> str:
    # One element is written bare; two or more as "ARRAY::a|:b".
    if isinstance(value, str):
        return value
    if len(value) == 1:
        return value[0]
    return _ARRAY_PREFIX + _ARRAY_SEPARATOR.join(value)


def core_headers(
    event_name: str,
    identity: SwitchIdentity,
    sequence: int,
    timestamp_us: int,
    origin: CallSite,
    tz: dt.tzinfo = dt.UTC,
) -> list[tuple[str, str]]:
    """The headers FreeSWITCH puts first on every event, in its order."""
    moment = dt.datetime.fromtimestamp(timestamp_us / 1_000_000, tz)
    gmt = moment.astimezone(dt.UTC)
    return [
        ("Event-Name", event_name),
        ("Core-UUID", identity.core_uuid),
        ("FreeSWITCH-Hostname", identity.hostname),
        ("FreeSWITCH-Switchname", identity.switchname),
        ("FreeSWITCH-IPv4", identity.ipv4),
        ("FreeSWITCH-IPv6", identity.ipv6),
        ("Event-Date-Local", moment.strftime("%Y-%m-%d %H:%M:%S")),
        ("Event-Date-GMT", gmt.strftime("%a, %d %b %Y %H:%M:%S GMT")),
        ("Event-Date-Timestamp", str(timestamp_us)),
        ("Event-Calling-File", origin.file),
        ("Event-Calling-Function", origin.function),
        ("Event-Calling-Line-Number", str(origin.line)),
        ("Event-Sequence", str(sequence)),
    ]


# When an event is fired without a known call site.
UNKNOWN_SITE = CallSite("switch_event.c", "switch_event_fire_detailed", 0)


def stamp(
    event: Event,
    identity: SwitchIdentity,
    sequence: int,
    timestamp_us: int | None = None,
    tz: dt.tzinfo = dt.UTC,
) -> Event:
    """Put the core headers in front of the event's own, as FreeSWITCH does.

    A CUSTOM event starts with ``Event-Subclass``, then ``Event-Name`` and
    the rest of the core headers.
    """
    if timestamp_us is None:
        timestamp_us = time.time_ns() // 1000
    origin = event.origin or UNKNOWN_SITE
    core = core_headers(event.name, identity, sequence, timestamp_us, origin, tz)
    own = [pair for pair in event.headers if pair[0] != "Event-Subclass"]
    if event.subclass:
        core.insert(0, ("Event-Subclass", event.subclass))
    event.headers = core + own
    return event


# mod_event_socket fires BACKGROUND_JOB from its api_exec (line as of 1.10.12).
JOB_SITE = CallSite("mod_event_socket.c", "api_exec", 1572)


def background_job(
    job_uuid: str, command: str, args: str, output: str, owner_uuid: str = ""
) -> Event:
    """The BACKGROUND_JOB event of a ``bgapi`` (not yet stamped).

    ``owner_uuid`` is the channel a ``myevents`` connection controls, if any.
    """
    event = Event("BACKGROUND_JOB", origin=JOB_SITE, body=output)
    event.add("Job-UUID", job_uuid)
    if owner_uuid:
        event.add("Job-Owner-UUID", owner_uuid)
    event.add("Job-Command", command)
    if args:
        event.add("Job-Command-Arg", args)
    return event
