"""A user's call history and voicemail messages, as the pages show them.

The call list itself is the call-history module's
(:func:`orchestrator.calls.history.call_list`); this module adds the
"all" choice the pages offer.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.calls import history as calls_history
from orchestrator.calls.history import CallListEntry
from orchestrator.store import models as m

FILTERS = ("all", *calls_history.FILTERS)
LIMIT = 200


def calls_of(db: Session, user_id: int, which: str = "all") -> list[CallListEntry]:
    kind = None if which == "all" else which
    return calls_history.call_list(db, user_id, kind=kind, limit=LIMIT)


def voicemail_of(db: Session, user_id: int) -> list[m.VoicemailMessage]:
    return list(
        db.scalars(
            select(m.VoicemailMessage)
            .where(m.VoicemailMessage.user_id == user_id)
            .order_by(m.VoicemailMessage.created_at.desc())
        )
    )
