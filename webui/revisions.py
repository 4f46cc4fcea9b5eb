"""Configuration revisions as the portal shows them, and the hand-over to publish.

Storing a revision (snapshot, diff, validation) and telling the switch is
the configuration service's work (:mod:`orchestrator.config.revisions`);
the portal lists revisions, shows their diff and asks for a publish after an
admin's change or for a restore.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator.store import models as m
from webui import audit, errors

log = logging.getLogger(__name__)

SERVICE = "orchestrator.config.revisions"


def recent(db: Session, limit: int) -> list[m.ConfigRevision]:
    return list(
        db.scalars(
            select(m.ConfigRevision).order_by(m.ConfigRevision.id.desc()).limit(limit)
        )
    )


def latest_id(db: Session) -> int | None:
    return db.scalar(select(func.max(m.ConfigRevision.id)))


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, text) lines: kind is add, del, hunk or same."""
    lines = []
    for line in (diff or "").splitlines():
        if line.startswith(("+++", "---")):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = "same"
        lines.append((kind, line))
    return lines


def _service() -> ModuleType | None:
    try:
        return importlib.import_module(SERVICE)
    except ModuleNotFoundError as exc:
        if exc.name != SERVICE:
            raise
        return None


def publish_change(db: Session, actor: m.User, summary: str) -> Any:
    """Store the configuration as changed by ``actor`` as a new revision."""
    service = _service()
    if service is None:
        log.info("configuration changed by %s: %s", actor.username, summary)
        return None
    return service.publish(db, author=actor.username, summary=summary)


def restore(db: Session, actor: m.User, revision_id: int) -> int:
    """Make revision ``revision_id`` current again; the new revision's id."""
    if db.get(m.ConfigRevision, revision_id) is None:
        raise errors.NotFound()
    service = _service()
    if service is None:
        raise errors.ServiceUnavailable()
    new = service.restore(db, revision_id, author=actor.username)
    new_id = new if isinstance(new, int) else new.id
    audit.record(
        db, "admin.revision.restored", actor, restored=revision_id, revision=new_id
    )
    return new_id
