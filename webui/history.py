"""A user's call history and voicemail messages, as the pages show them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, not_, or_, select
from sqlalchemy.orm import Session

from orchestrator.store import models as m

FILTERS = ("all", "placed", "answered", "missed")
LIMIT = 200


@dataclass(frozen=True)
class CallLine:
    call_uuid: str
    kind: str  # placed, answered or missed
    number: str | None
    name: str | None
    started_at: dt.datetime
    duration_s: int


def kind_of(record: m.CallRecord) -> str:
    """Placed, answered or missed, from the record's direction and result."""
    if record.direction in ("out", "outbound"):
        return "placed"
    if record.answered_at is not None or record.result == "answered":
        return "answered"
    return "missed"


def _condition(which: str) -> ColumnElement[bool] | None:
    """The SQL form of :func:`kind_of`, so that the limit applies after it."""
    r = m.CallRecord
    placed = r.direction.in_(("out", "outbound"))
    answered = or_(r.answered_at.is_not(None), r.result == "answered")
    if which == "placed":
        return placed
    if which == "answered":
        return and_(not_(placed), answered)
    if which == "missed":
        return and_(not_(placed), not_(answered))
    return None


def calls_of(db: Session, user_id: int, which: str = "all") -> list[CallLine]:
    query = select(m.CallRecord).where(m.CallRecord.user_id == user_id)
    condition = _condition(which)
    if condition is not None:
        query = query.where(condition)
    records = db.scalars(
        query.order_by(m.CallRecord.started_at.desc(), m.CallRecord.id.desc()).limit(
            LIMIT
        )
    )
    lines = []
    for record in records:
        kind = kind_of(record)
        placed = kind == "placed"
        lines.append(
            CallLine(
                call_uuid=record.call_uuid,
                kind=kind,
                number=record.callee_number if placed else record.caller_number,
                name=None if placed else record.caller_name,
                started_at=record.started_at,
                duration_s=record.billsec,
            )
        )
    return lines


def voicemail_of(db: Session, user_id: int) -> list[m.VoicemailMessage]:
    return list(
        db.scalars(
            select(m.VoicemailMessage)
            .where(m.VoicemailMessage.user_id == user_id)
            .order_by(m.VoicemailMessage.created_at.desc())
        )
    )
