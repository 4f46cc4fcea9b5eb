"""The audit trail of changes made through the web app, in the event log."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.store import models as m

log = logging.getLogger(__name__)


def record(
    db: Session,
    kind: str,
    actor: m.User,
    *,
    user_id: int | None = None,
    **data: Any,
) -> m.EventLog:
    """Append who did what to the event log, in the caller's transaction.

    Being in the same transaction as the change itself is the point: a change
    without its audit entry, or an entry for a change that rolled back, cannot
    happen.
    """
    entry = m.EventLog(
        kind=kind, actor=actor.username, user_id=user_id, data=_jsonable(data)
    )
    db.add(entry)
    log.info("%s by %s (user %s)", kind, actor.username, user_id)
    return entry


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose value differs."""
    return {
        key: [before.get(key), value]
        for key, value in after.items()
        if before.get(key) != value
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
