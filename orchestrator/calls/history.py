"""Call history per user (placed, answered, missed) and the call event log.

`CallHistory` subscribes to the channel events. Each lifecycle step of a
leg (created, answered, bridged, ended) becomes an event log line, and the
end of a user's leg becomes a call list row. Everything the row needs is
in CHANNEL_HANGUP_COMPLETE itself (the billing variables), so a restart
of the orchestrator during a call loses nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.calls import legs
from orchestrator.calls.legs import IN, OUT, Leg
from orchestrator.calls.records import (
    ANSWERED,
    ELSEWHERE,
    MISSED,
    UNANSWERED,
    LegRecord,
    LogEntry,
    RecordWriter,
)
from orchestrator.esl.events import Event
from orchestrator.store import models as m

log = logging.getLogger(__name__)

EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_HANGUP_COMPLETE",
)

# Event log kinds.
CREATED = "call.created"
ANSWERED_KIND = "call.answered"
BRIDGED = "call.bridged"
ENDED = "call.ended"


class CallHistory:
    """Turns channel events into event log lines and call list rows."""

    def __init__(self, writer: RecordWriter) -> None:
        self.writer = writer

    def handle(self, event: Event) -> None:
        leg = legs.leg_of(event)
        if leg is None:
            return
        name = event.name
        if name == "CHANNEL_CREATE":
            self._log(CREATED, event, leg)
        elif name == "CHANNEL_ANSWER":
            self._log(ANSWERED_KIND, event, leg)
        elif name == "CHANNEL_BRIDGE":
            other = event.other_leg_unique_id
            self._log(BRIDGED, event, leg, other_leg=other)
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self._log(ENDED, event, leg, cause=event.hangup_cause)
            self._record(event, leg)

    def _log(self, kind: str, event: Event, leg: Leg, **extra: Any) -> None:
        data = {
            "leg": leg.uuid,
            "direction": event.direction,
            "from": leg.caller_number,
            "to": leg.callee_number,
            "channel": leg.channel_name,
            **{key: value for key, value in extra.items() if value},
        }
        log.debug("call %s: %s leg %s user %s", leg.call_uuid, kind, leg.uuid, leg.user)
        self.writer.submit(
            LogEntry(
                kind=kind,
                at=legs.event_time(event),
                call_uuid=leg.call_uuid,
                user=leg.user,
                data=data,
            )
        )

    def _record(self, event: Event, leg: Leg) -> None:
        records = []
        if leg.user is not None and leg.side is not None:
            records.append(leg_record(event, leg))
        unreached = unreached_record(event, leg)
        if unreached is not None:
            records.append(unreached)
        for record in records:
            log.debug(
                "call %s: %s %s for user %s",
                leg.call_uuid,
                record.direction,
                record.result,
                record.user,
            )
            self.writer.submit(record)


def leg_record(event: Event, leg: Leg) -> LegRecord:
    """The call list row of a user's leg, from its CHANNEL_HANGUP_COMPLETE."""
    answered_at = legs.epoch_us(event, "answer_uepoch")
    ended_at = legs.epoch_us(event, "end_uepoch") or legs.event_time(event)
    started_at = legs.epoch_us(event, "start_uepoch") or ended_at
    return LegRecord(
        call_uuid=leg.call_uuid,
        leg_uuid=leg.uuid,
        user=leg.user,
        direction=leg.side or IN,
        result=result_of(leg.side, answered_at is not None, event.hangup_cause),
        caller_number=leg.caller_number,
        caller_name=leg.caller_name,
        callee_number=leg.callee_number,
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        duration_s=legs.seconds(event, "duration"),
        billsec=legs.seconds(event, "billsec"),
        hangup_cause=event.hangup_cause,
    )


def unreached_record(event: Event, leg: Leg) -> LegRecord | None:
    """A missed call for a user the caller's bridge did not reach at all.

    When the user's phone is not registered there is no B leg to tell of
    the call; only the caller's leg does (``dialed_user`` and a failed
    ``DIALSTATUS``). When there was a B leg, its own row and this one are
    the same row (same call, user and direction), so nothing is counted
    twice.
    """
    dialed = legs.variable(event, "dialed_user")
    status = legs.variable(event, "DIALSTATUS")
    if event.direction != "inbound" or not dialed or status in (None, "SUCCESS"):
        return None
    if dialed == leg.user:
        return None
    ended_at = legs.epoch_us(event, "end_uepoch") or legs.event_time(event)
    return LegRecord(
        call_uuid=leg.call_uuid,
        leg_uuid=leg.uuid,
        user=dialed,
        direction=IN,
        result=MISSED,
        caller_number=leg.caller_number,
        caller_name=leg.caller_name,
        callee_number=dialed,
        started_at=legs.epoch_us(event, "start_uepoch") or ended_at,
        ended_at=ended_at,
        duration_s=legs.seconds(event, "duration"),
        hangup_cause=legs.variable(event, "originate_disposition"),
    )


def result_of(side: str | None, answered: bool, cause: str | None) -> str:
    if answered:
        return ANSWERED
    if side == OUT:
        return UNANSWERED
    if cause in legs.ANSWERED_ELSEWHERE:
        return ELSEWHERE
    return MISSED


# -- reading the call list -----------------------------------------------------

# What a call list can be filtered on, as the apps name it.
FILTERS = ("placed", "answered", "missed")


@dataclass(frozen=True)
class CallListEntry:
    id: int
    call_uuid: str
    kind: str  # see kind_of
    number: str | None
    name: str | None
    started_at: dt.datetime
    duration_s: int
    billsec: int
    result: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "call_uuid": self.call_uuid,
            "kind": self.kind,
            "number": self.number,
            "name": self.name,
            "started_at": self.started_at.isoformat(),
            "duration_s": self.duration_s,
            "billsec": self.billsec,
            "result": self.result,
        }


def kind_of(record: m.CallRecord) -> str:
    """placed, answered, missed, or elsewhere (a colleague answered it)."""
    if record.direction == OUT:
        return "placed"
    if record.result in (ANSWERED, ELSEWHERE):
        return "answered" if record.result == ANSWERED else "elsewhere"
    return "missed"


def call_list(
    session: Session,
    user_id: int,
    *,
    kind: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[CallListEntry]:
    """A user's calls, newest first; ``kind`` one of `FILTERS`."""
    if kind is not None and kind not in FILTERS:
        raise ValueError(f"kind must be one of {', '.join(FILTERS)}, not {kind!r}")
    query = select(m.CallRecord).where(m.CallRecord.user_id == user_id)
    if kind == "placed":
        query = query.where(m.CallRecord.direction == OUT)
    elif kind == "answered":
        query = query.where(
            m.CallRecord.direction == IN, m.CallRecord.result == ANSWERED
        )
    elif kind == "missed":
        query = query.where(m.CallRecord.direction == IN, m.CallRecord.result == MISSED)
    if before_id is not None:
        query = query.where(m.CallRecord.id < before_id)
    query = query.order_by(m.CallRecord.started_at.desc(), m.CallRecord.id.desc())
    rows = session.scalars(query.limit(limit)).all()
    return [_entry(row) for row in rows]


def _entry(row: m.CallRecord) -> CallListEntry:
    outgoing = row.direction == OUT
    started = row.started_at
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    return CallListEntry(
        id=row.id,
        call_uuid=row.call_uuid,
        kind=kind_of(row),
        number=row.callee_number if outgoing else row.caller_number,
        name=None if outgoing else row.caller_name,
        started_at=started,
        duration_s=row.duration_s,
        billsec=row.billsec,
        result=row.result,
    )
