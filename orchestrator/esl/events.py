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
    """One event from the switch: headers (read-only mapping) and a body.

    A JSON event is decoded lazily. The receive loop only needs a few
    headers to route an event (its name, its channel) and a controller
    often reads a handful more; those are found in the raw text directly,
    and the whole object is decoded the first time anything else is asked
    for. At thousands of events a second this halves the work per event.
    """

    __slots__ = ("_headers", "_body", "_raw", "_peeked")

    def __init__(
        self,
        headers: dict[str, HeaderValue] | None = None,
        body: str | None = None,
        *,
        raw: bytes | None = None,
    ):
        self._headers = headers
        self._body = body
        self._raw = raw
        self._peeked: dict[str, object] | None = None

    @property
    def headers(self) -> dict[str, HeaderValue]:
        headers = self._headers
        if headers is None:
            headers = self._headers = _decode_whole(self._raw or b"")
            if "_body" in headers:
                self._body = headers.pop("_body")  # type: ignore[assignment]
            self._raw = None
        return headers

    @property
    def body(self) -> str | None:
        if self._headers is None:
            self.headers  # noqa: B018  (the body is part of the JSON object)
        return self._body

    def get(self, name: str, default: object = None) -> object:
        value = self._str_or_list(name)
        return default if value is None else value

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
        value = self._str_or_list(name)
        if value is None:
            return default
        if isinstance(value, list):
            return _ARRAY_PREFIX + _ARRAY_SEPARATOR.join(value)
        return value

    def variable(self, name: str) -> HeaderValue | None:
        """A channel variable (``variable_<name>``), or None when not set."""
        return self._str_or_list("variable_" + name)

    @property
    def name(self) -> str:
        value = self._str_or_list("Event-Name") or ""
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
        value = self._str_or_list(name)
        if value is None or isinstance(value, str):
            return value
        return value[-1] if value else None

    def _str_or_list(self, name: str) -> HeaderValue | None:
        raw = self._raw
        if raw is not None and self._headers is None:
            peeked = self._peeked
            if peeked is None:
                peeked = self._peeked = {}
            elif name in peeked:
                return peeked[name]  # type: ignore[return-value]
            found = _peek(raw, name)
            if found is not _UNSURE:
                peeked[name] = found
                return found  # type: ignore[return-value]
        return self.headers.get(name)


# Returned by _peek when only a whole decode can tell.
_UNSURE = object()

# The headers worth finding without a decode: what routing and controllers
# read first. Channel data is written once per event and channel variables
# come from a hash, so each is there at most once. The core headers are
# written again when an event is fired a second time (PRIVATE_COMMAND
# carries two Event-Name, Core-UUID ... blocks); then the last one counts,
# as in a decode. Other headers can repeat too (Hangup-Cause in
# CHANNEL_HANGUP_COMPLETE): those are always decoded.
_CORE = frozenset({"Event-Name", "Event-Subclass", "Core-UUID"})
_CHANNEL = frozenset({"Unique-ID", "Job-UUID"})
_CORE_MARK = b'"Core-UUID":'


def _peek(raw: bytes, name: str) -> object:
    """One header's value from the compact JSON FreeSWITCH sends, or _UNSURE.

    A key stands right after ``{`` or ``,``; inside a string value a quote
    is escaped, so ``"name":`` after one of those cannot be part of a
    value. Anything unusual (an escape, an array, a number) is left to the
    full decoder.
    """
    if name in _CORE:
        # One core block (the usual case) unless its mark comes twice.
        first = raw.find(_CORE_MARK)
        if first >= 0 and raw.find(_CORE_MARK, first + len(_CORE_MARK)) >= 0:
            return _UNSURE
    elif name not in _CHANNEL and not name.startswith("variable_"):
        return _UNSURE
    key = b'"' + name.encode() + b'":'
    at = raw.find(key)
    if at < 0:
        return None if raw.find(b"\\") < 0 else _UNSURE
    if raw[at - 1] not in b"{,":
        return _UNSURE
    start = at + len(key)
    if raw[start : start + 1] != b'"':
        return _UNSURE
    end = raw.find(b'"', start + 1)
    value = raw[start + 1 : end]
    if end < 0 or b"\\" in value:
        return _UNSURE
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return _UNSURE


def _int(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return int(value)


def decode_json(body: bytes) -> Event:
    """A ``text/event-json`` frame's event, decoded when first read.

    Only the outline is checked here (one JSON object); a body that is
    broken inside raises `ProtocolError` when the event is read.
    """
    if type(body) is not bytes:
        body = bytes(body)
    if body[:1] != b"{" or body.rstrip()[-1:] != b"}":
        raise ProtocolError("event JSON is not an object")
    return Event(raw=body)


def _decode_whole(body: bytes) -> dict[str, HeaderValue]:
    try:
        headers = _loads(body)
    except JSONDecodeError as exc:
        raise ProtocolError(f"event is not valid JSON: {exc}") from None
    if type(headers) is not dict:
        raise ProtocolError("event JSON is not an object")
    return headers


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
