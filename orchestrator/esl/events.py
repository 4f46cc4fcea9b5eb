"""Typed switch events, decoded from ``text/event-json`` or ``text/event-plain``.

Header values are strings, except multi-valued channel variables
(``variable_originate_causes`` ...), which are lists. When the switch sends
a key twice (``Hangup-Cause`` in CHANNEL_HANGUP_COMPLETE), the last one wins.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from urllib.parse import unquote

import orjson

from orchestrator.esl.errors import ProtocolError

HeaderValue = str | list[str]

_loads = orjson.loads
JSONDecodeError = orjson.JSONDecodeError

# How FreeSWITCH writes a multi-valued header in the plain format.
_ARRAY_PREFIX = "ARRAY::"
_ARRAY_SEPARATOR = "|:"


class Event(Mapping[str, HeaderValue]):
    """One event from the switch: headers (read-only mapping) and a body."""

    __slots__ = ("headers", "body")

    def __init__(self, headers: dict[str, HeaderValue], body: str | None = None):
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"<Event {self.name} {self.unique_id or '-'}>"

    def __getitem__(self, name: str) -> HeaderValue:
        return self.headers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.headers)

    def __len__(self) -> int:
        return len(self.headers)

    def __contains__(self, name: object) -> bool:
        return name in self.headers

    def text(self, name: str, default: str = "") -> str:
        """A header as one string (a list is joined the way FreeSWITCH does)."""
        value = self.headers.get(name)
        if value is None:
            return default
        if isinstance(value, list):
            return _ARRAY_PREFIX + _ARRAY_SEPARATOR.join(value)
        return value

    def variable(self, name: str) -> HeaderValue | None:
        """A channel variable (``variable_<name>``), or None when not set."""
        return self.headers.get("variable_" + name)

    @property
    def name(self) -> str:
        value = self.headers.get("Event-Name", "")
        return value if isinstance(value, str) else value[-1]

    @property
    def subclass(self) -> str | None:
        """The subclass of a CUSTOM event (``sofia::register`` ...)."""
        return self._str("Event-Subclass")

    @property
    def key(self) -> str:
        """What subscriptions match on: the subclass of CUSTOM, else the name."""
        name = self.name
        if name == "CUSTOM":
            return self._str("Event-Subclass") or name
        return name

    @property
    def unique_id(self) -> str | None:
        return self._str("Unique-ID")

    @property
    def other_leg_unique_id(self) -> str | None:
        return self._str("Other-Leg-Unique-ID")

    @property
    def job_uuid(self) -> str | None:
        return self._str("Job-UUID")

    @property
    def core_uuid(self) -> str | None:
        return self._str("Core-UUID")

    @property
    def sequence(self) -> int | None:
        """Event-Sequence: global per switch, with gaps, not arrival order."""
        return _int(self._str("Event-Sequence"))

    @property
    def timestamp_us(self) -> int | None:
        """Event-Date-Timestamp, microseconds since the epoch."""
        return _int(self._str("Event-Date-Timestamp"))

    @property
    def channel_state(self) -> str | None:
        return self._str("Channel-State")

    @property
    def call_state(self) -> str | None:
        return self._str("Channel-Call-State")

    @property
    def answer_state(self) -> str | None:
        return self._str("Answer-State")

    @property
    def direction(self) -> str | None:
        return self._str("Call-Direction")

    @property
    def hangup_cause(self) -> str | None:
        return self._str("Hangup-Cause")

    @property
    def caller_id_number(self) -> str | None:
        return self._str("Caller-Caller-ID-Number")

    @property
    def caller_id_name(self) -> str | None:
        return self._str("Caller-Caller-ID-Name")

    @property
    def destination_number(self) -> str | None:
        return self._str("Caller-Destination-Number")

    @property
    def application(self) -> str | None:
        return self._str("Application")

    def _str(self, name: str) -> str | None:
        value = self.headers.get(name)
        if value is None or isinstance(value, str):
            return value
        return value[-1] if value else None


def _int(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return int(value)


def decode_json(body: bytes) -> Event:
    """Decode the body of a ``text/event-json`` frame."""
    try:
        headers = _loads(body)
    except JSONDecodeError as exc:
        raise ProtocolError(f"event is not valid JSON: {exc}") from None
    if type(headers) is not dict:
        raise ProtocolError("event JSON is not an object")
    if "_body" in headers:
        return Event(headers, headers.pop("_body"))
    return Event(headers)


def decode_plain(body: bytes) -> Event:
    """Decode the body of a ``text/event-plain`` frame.

    Values are URL-decoded; an event body follows its own blank line and is
    announced by an inner ``Content-Length``.
    """
    head, sep, rest = body.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("plain event headers are not UTF-8") from None
    if "%" in text:
        # One unquote for all lines: the encoded text has no NUL (it is
        # encoded as %00) and no decoded value can hold one (C strings), so
        # NUL can stand in for the line breaks while decoding.
        lines = unquote(text.replace("\n", "\x00")).split("\x00")
    else:
        lines = text.split("\n")
    headers: dict[str, HeaderValue] = {}
    for line in lines:
        if not line:
            continue
        name, colon, value = line.partition(": ")
        if not colon:
            raise ProtocolError(f"malformed plain event line {line[:80]!r}")
        if value.startswith(_ARRAY_PREFIX):
            headers[name] = value[len(_ARRAY_PREFIX) :].split(_ARRAY_SEPARATOR)
        else:
            headers[name] = value
    event_body = None
    length = headers.get("Content-Length")
    if isinstance(length, str) and length.isdigit() and sep:
        event_body = rest[: int(length)].decode("utf-8", "replace")
    return Event(headers, event_body)


DECODERS = {"text/event-json": decode_json, "text/event-plain": decode_plain}


def decode_event(content_type: str, body: bytes) -> Event:
    """Decode an event frame's body by its Content-Type."""
    decoder = DECODERS.get(content_type)
    if decoder is None:
        raise ProtocolError(f"cannot decode events of type {content_type!r}")
    return decoder(body)
