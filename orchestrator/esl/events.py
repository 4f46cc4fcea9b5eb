"""Typed switch events, decoded from ``text/event-json`` or ``text/event-plain``.

Header values are strings, except multi-valued channel variables
(``variable_originate_causes`` ...), which are lists. When the switch sends
a key twice (``Hangup-Cause`` in CHANNEL_HANGUP_COMPLETE), the last one wins.
"""

from __future__ import annotations

import re
from binascii import a2b_qp
from collections.abc import Iterator, Mapping
from urllib.parse import unquote_to_bytes

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

    __slots__ = (
        "_headers",
        "_body",
        "_raw",
        "_peeked",
        "_searches",
        "name",
        "key",
        "unique_id",
    )

    #: Event-Name (the last one when an event was fired twice).
    name: str
    #: What subscriptions match on: the subclass of CUSTOM, else the name.
    key: str
    #: The channel's UUID, or None for events of no channel.
    unique_id: str | None

    def __init__(
        self,
        headers: dict[str, HeaderValue] | None = None,
        body: str | None = None,
        *,
        raw: bytes | None = None,
    ):
        if headers is None and raw is None:
            headers = {}
        self._headers = headers
        self._body = body
        self._raw = raw
        self._peeked: dict[str, object] | None = None
        self._searches = 0
        # Every event is routed by these three: read them once, here.
        name, uuid = None, _UNSURE
        if headers is None:
            name = _leading_name(raw)  # type: ignore[arg-type]
            uuid = _find_value(raw, _UNIQUE_ID_KEY)  # type: ignore[arg-type]
        if name is None:
            name = self._str("Event-Name") or ""
        self.name = name
        self.key = name if name != "CUSTOM" else self._str("Event-Subclass") or name
        self.unique_id = uuid if uuid is not _UNSURE else self._str("Unique-ID")
        # Routing's own searches do not count against a reader's.
        self._searches = 0

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
    def subclass(self) -> str | None:
        """The subclass of a CUSTOM event (``sofia::register`` ...)."""
        return self._str("Event-Subclass")

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
        raw = self._raw  # None once decoded
        if raw is not None:
            peeked = self._peeked
            if peeked is None:
                peeked = self._peeked = {}
            else:
                found = peeked.get(name, _UNSURE)
                if found is not _UNSURE:
                    return found  # type: ignore[return-value]
            # One header's value from the compact JSON FreeSWITCH sends; a
            # reader of many headers is served faster by one whole decode.
            key = _KEYS.get(name) or _key(name)
            if key is not None and self._searches < IN_PLACE_READS:
                self._searches += 1
                once = (
                    name in _ONCE
                    or name.startswith("variable_")
                    or (name in _CORE and _leading_name(raw) is not None)
                )
                # One that may be written twice is read in place only if
                # it is there once.
                found = _find_value(raw, key, alone=not once)
                if found is not _UNSURE:
                    peeked[name] = found
                    return found  # type: ignore[return-value]
        return self.headers.get(name)


# Headers of one event found in the raw text before the rest of a reader's
# questions go to a whole decode: one search costs a fifth to a third of it.
IN_PLACE_READS = 2

# Returned when only a whole decode can tell.
_UNSURE = object()

# Any header is found in the raw text, without a decode. The channel's UUID
# and the job's are written once per event and channel variables come from
# a hash, so each is there at most once. Other headers can repeat
# (Hangup-Cause in CHANNEL_HANGUP_COMPLETE): those are read in place only
# when there once, else decoded, and then the last one counts.
_CORE = frozenset({"Event-Name", "Event-Subclass", "Core-UUID"})
_ONCE = frozenset({"Unique-ID", "Job-UUID"})
# The core headers can repeat too. switch_event_create writes the core
# block first, so an event starts with its name and the switch's UUID.
# Only two paths write a second block: a private command relayed as
# PRIVATE_COMMAND (created as COMMAND, so its first name is COMMAND) and an
# Event Socket client's sendevent (created as a clone: it starts with the
# client's own headers, from a libesl client Event-Name and then
# Event-Subclass or the client's data, never Core-UUID). Any other event
# that starts with a core block has only that one.
_LEADING_NAME = re.compile(rb'\{"Event-Name":"([A-Z0-9_]+)","Core-UUID":"').match
_REFIRED = b"COMMAND"
_UNIQUE_ID_KEY = b'"Unique-ID":'
# Bytes that can stand before a key: the object's start or a comma.
_KEY_OPENERS = b"{,"
_QUOTE = ord('"')
# An int, not b"\\": bytes membership of an int is a plain byte search.
_BACKSLASH = ord("\\")

# What a JSON writer escapes (or may: '/') in an ASCII name.
_ESCAPABLE = frozenset('"\\/')
# The JSON key of each header looked for, made once.
_KEYS: dict[str, bytes] = {}
_MAX_KEYS = 4096


def _leading_name(raw: bytes) -> str | None:
    """The name of an event written with one core block, read in place."""
    match = _LEADING_NAME(raw)
    if match is None or match[1] == _REFIRED:
        return None
    return match[1].decode("ascii")


def _key(name: str) -> bytes | None:
    """The JSON key of a header, or None for a name JSON may escape."""
    if not name.isascii() or not name.isprintable() or _ESCAPABLE & set(name):
        return None
    key = b'"' + name.encode() + b'":'
    if len(_KEYS) < _MAX_KEYS:
        _KEYS[name] = key
    return key


def _find_value(raw: bytes, key: bytes, alone: bool = False) -> object:
    """The string value of ``key`` (``b'"Name":'``), None, or _UNSURE.

    A key stands right after ``{`` or ``,``; inside a string value a quote
    is escaped, so ``"name":`` after one of those cannot be part of a
    value. Anything unusual (an escape, an array, a number) is left to the
    full decoder, and with ``alone`` so is a key that is there twice.
    """
    at = raw.find(key)
    if at < 0:
        # Absent: JSON writers escape only quotes, backslashes, control
        # characters and perhaps '/' and non-ASCII, which no name given a
        # key holds.
        return None
    start = at + len(key) + 1
    if alone and raw.find(key, start) >= 0:
        return _UNSURE
    end = raw.find(b'"', start)
    value = raw[start:end]
    if (
        end < 0
        or raw[start - 1] != _QUOTE
        or raw[at - 1] not in _KEY_OPENERS
        or _BACKSLASH in value
    ):
        return _UNSURE
    try:
        return value.decode()
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
    match = _LEADING_NAME(body)
    if match is None or match[1] in _SLOW_NAMES or not body.endswith(b"}"):
        if not body.startswith(b"{") or body.rstrip()[-1:] != b"}":
            raise ProtocolError("event JSON is not an object")
        return Event(raw=body)
    # The common case, as Event(raw=body) would do it, with fewer steps.
    event = _new_event(Event)
    event._headers = event._body = event._peeked = None
    event._searches = 0
    event._raw = body
    event.name = event.key = match[1].decode("ascii")
    uuid = _find_value(body, _UNIQUE_ID_KEY)
    event.unique_id = uuid if uuid is not _UNSURE else event._str("Unique-ID")
    event._searches = 0
    return event


# Events whose name alone does not route them, or that may be fired twice.
_SLOW_NAMES = frozenset({b"CUSTOM", _REFIRED})
_new_event = object.__new__


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
    headers = _plain_headers(head)
    event_body = None
    length = headers.get("Content-Length")
    if isinstance(length, str) and length.isdigit() and sep:
        event_body = rest[: int(length)].decode("utf-8", "replace")
    return Event(headers, event_body)


def _url_decode(text: bytes) -> bytes:
    """``unquote_to_bytes`` in C: as quoted-printable, with ``%`` for ``=``."""
    escapes = text.count(b"%")
    if not escapes:
        return text
    # What quoted-printable would read otherwise ('=' itself, and line
    # breaks, which after an '=' it drops as soft breaks) becomes an escape.
    qp = text
    for char, escape in _QP_LITERALS:
        if char in qp:
            qp = qp.replace(char, escape)
    decoded = a2b_qp(qp.replace(b"%", b"="))
    # A valid escape makes two bytes fewer, a malformed one fewer or none:
    # if one is malformed, the standard library keeps it as it was.
    if len(decoded) != len(text) - 2 * escapes:
        return unquote_to_bytes(text)
    return decoded


_QP_LITERALS = ((b"=", b"=3D"), (b"\r", b"=0D"), (b"\n", b"=0A"))


def _plain_headers(head: bytes) -> dict[str, HeaderValue]:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("plain event headers are not UTF-8") from None
    if "%" in text:
        # One unquote for all lines: the encoded text has no NUL (it is
        # encoded as %00) and no decoded value can hold one (C strings), so
        # NUL can stand in for the line breaks while decoding.
        decoded = _url_decode(head.replace(b"\n", b"\x00"))
        text = decoded.decode("utf-8", "replace")
        lines = text.split("\x00")
    else:
        lines = text.split("\n")
    try:
        headers: dict[str, HeaderValue] = dict(
            line.split(": ", 1)  # type: ignore[misc]
            for line in lines
            if line
        )
    except ValueError:
        bad = next(line for line in lines if line and ": " not in line)
        raise ProtocolError(f"malformed plain event line {bad[:80]!r}") from None
    if _ARRAY_PREFIX in text:
        for name, value in headers.items():
            if isinstance(value, str) and value.startswith(_ARRAY_PREFIX):
                headers[name] = value[len(_ARRAY_PREFIX) :].split(_ARRAY_SEPARATOR)
    return headers


DECODERS = {"text/event-json": decode_json, "text/event-plain": decode_plain}


def decode_event(content_type: str, body: bytes) -> Event:
    """Decode an event frame's body by its Content-Type."""
    decoder = DECODERS.get(content_type)
    if decoder is None:
        raise ProtocolError(f"cannot decode events of type {content_type!r}")
    return decoder(body)
