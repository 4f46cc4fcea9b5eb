"""What a channel event says about a user's call leg.

FreeSWITCH never names "the user" of a channel; it leaves traces:

- a leg that rings a user's phone was made by ``bridge user/<id>`` (or an
  originate to it) and carries ``dialed_user`` from CHANNEL_CREATE on;
- a call a user places from a registered phone arrives authenticated on the
  internal profile and carries the directory's ``user_name`` (and
  ``sip_auth_username``);
- a trunk leg carries neither.

Legs made for a user that carry neither (the mobile that "one number"
rings through the trunk) say so with ``schakel_user`` (a directory id or
user name) and ``schakel_side`` (``in`` or ``out``), which win.

A leg belongs to a *call*: the originating leg's UUID. A B leg names it in
``originating_leg_uuid``; ``call_uuid`` is not reliable for that, as the
switch rewrites it to the leg's own UUID when the bridge ends.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.domain import numbering
from orchestrator.esl.events import Event

IN = "in"
OUT = "out"

# Hangup causes of a ringing leg that lost to another leg of the same call:
# another phone answered, or a colleague picked the call up.
ANSWERED_ELSEWHERE = frozenset({"LOSE_RACE", "PICKED_OFF"})


@dataclass(frozen=True)
class Leg:
    """One channel as a user's phone or app sees it."""

    uuid: str
    call_uuid: str
    user: str | None
    side: str | None
    caller_number: str | None
    caller_name: str | None
    callee_number: str | None
    channel_name: str

    @property
    def other_number(self) -> str | None:
        """The party on the far end, as a call list shows it."""
        return self.caller_number if self.side == IN else self.callee_number


def text(event: Mapping[str, object], name: str) -> str | None:
    """A header as one string; the last value of a multi-valued one."""
    value = event.get(name)
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, list):
        return str(value[-1]) if value else None
    return str(value)


def variable(event: Mapping[str, object], name: str) -> str | None:
    return text(event, "variable_" + name)


def leg_of(event: Event) -> Leg | None:
    """The leg an event is about; None for events of no channel."""
    uuid = event.unique_id
    if not uuid:
        return None
    user, side = _user_and_side(event)
    caller_number = (
        variable(event, "effective_caller_id_number") if side == OUT else None
    )
    caller_number = caller_number or text(event, "Caller-Caller-ID-Number")
    caller_name = text(event, "Caller-Caller-ID-Name")
    return Leg(
        uuid=uuid,
        call_uuid=_call_uuid(event, uuid),
        user=user,
        side=side,
        caller_number=number(caller_number),
        caller_name=caller_name,
        callee_number=number(_callee(event, side)),
        channel_name=text(event, "Channel-Name") or "",
    )


def _user_and_side(event: Event) -> tuple[str | None, str | None]:
    forced = variable(event, "schakel_user")
    if forced:
        side = variable(event, "schakel_side")
        return forced, side if side in (IN, OUT) else IN
    name = text(event, "Channel-Name") or ""
    if name.startswith("loopback/"):
        # The far half of a loopback pair shows up again as a real leg.
        return None, None
    if event.direction == "outbound":
        dialed = variable(event, "dialed_user")
        return (dialed, IN) if dialed else (None, None)
    caller = variable(event, "user_name") or variable(event, "sip_auth_username")
    return (caller, OUT) if caller else (None, None)


def _call_uuid(event: Event, uuid: str) -> str:
    if event.direction == "outbound":
        origin = variable(event, "originating_leg_uuid") or variable(
            event, "originator"
        )
        if origin:
            return origin
    return uuid


def _callee(event: Event, side: str | None) -> str | None:
    # On a B leg the number the caller dialled is the A leg's destination,
    # which the B leg carries in its Other-Leg block (until it is bridged).
    if side == IN and text(event, "Other-Type") == "originator":
        dialled = text(event, "Other-Leg-Destination-Number")
        if dialled:
            return dialled
    return text(event, "Caller-Destination-Number")


def number(raw: str | None) -> str | None:
    """E.164 for an external number, as dialled for an extension or a code."""
    if not raw:
        return None
    if raw.startswith("+") or (raw.startswith("0") and len(raw) > 6):
        return _normalised(raw)
    return raw


@functools.lru_cache(maxsize=8192)
def _normalised(raw: str) -> str:
    # Parsing a number costs far more than the rest of an event; the same
    # numbers come back in every event of a call.
    return numbering.try_normalise(raw) or raw


def epoch_us(event: Mapping[str, object], name: str) -> dt.datetime | None:
    """A ``*_uepoch`` channel variable as an aware datetime; None when 0."""
    raw = variable(event, name)
    if not raw or not raw.isdigit() or raw == "0":
        return None
    return dt.datetime.fromtimestamp(int(raw) / 1_000_000, dt.UTC)


def seconds(event: Mapping[str, object], name: str) -> int:
    raw = variable(event, name)
    return int(raw) if raw and raw.isdigit() else 0


def event_time(event: Event) -> dt.datetime:
    """When the switch fired the event (its own clock)."""
    stamp = event.timestamp_us
    if stamp:
        return dt.datetime.fromtimestamp(stamp / 1_000_000, dt.UTC)
    return dt.datetime.now(dt.UTC)
