"""Configuration changes from the portal, through the configuration service.

Every change to configuration rows (an admin's edit of a user, a user's own
forwarding or do-not-disturb, a hunt group login) is applied inside
:func:`orchestrator.config.revisions.publish`: validated as a whole, stored
as a revision with who, when and the diff, and announced to the switch. This
module runs those publishes for the views and turns the service's refusals
into the web app's :class:`~webui.errors.InvalidInput` with a message in the
user's language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from orchestrator.config import revisions as service
from orchestrator.config import validate
from orchestrator.store import models as m
from webui import audit, errors

log = logging.getLogger(__name__)

# The service's refusals, by error id, as users read them.
_MESSAGES: dict[str, Any] = {
    validate.NumberInUse.error_id: _l("This number is already in use."),
    validate.ExtensionInUse.error_id: _l("This extension is already in use."),
    validate.ExtensionReserved.error_id: _l("This extension is reserved."),
    validate.ExtensionOutOfRange.error_id: _l(
        "This extension is outside the range of extensions."
    ),
    validate.NumberOutsideBlocks.error_id: _l(
        "This number is not in one of our number blocks."
    ),
    validate.UnresolvedReference.error_id: _l(
        "This refers to something that no longer exists."
    ),
    validate.ForwardingLoop.error_id: _l(
        "This forwarding would send calls round in a circle."
    ),
    validate.FallbackLoop.error_id: _l("This would send calls round in a circle."),
    validate.InvalidCharacters.error_id: _l(
        "This contains characters that cannot be used."
    ),
}


class NothingChanged(Exception):
    """Raised by a change that turns out to change nothing: no revision."""


def _services() -> Any:
    return current_app.extensions["schakel"]


def publish(
    actor: m.User, summary: str, change: Callable[[Session], Any]
) -> service.Published | None:
    """Apply ``change`` and publish it as a revision by ``actor``.

    None when ``change`` raised :class:`NothingChanged`.
    """
    services = _services()
    try:
        return service.publish(
            services.store,
            actor.username,
            summary,
            change,
            settings=services.settings,
            notifier=services.notifier,
        )
    except NothingChanged:
        return None
    except validate.ValidationError as exc:
        log.info("change by %s refused: %s", actor.username, exc)
        message = _MESSAGES.get(exc.error_id, _l("This change cannot be stored."))
        raise errors.InvalidInput(details={exc.field: message}) from None


def restore(actor: m.User, revision_id: int) -> int:
    """Make revision ``revision_id`` current again; the new revision's id."""
    services = _services()
    with services.store.session() as db:
        if db.get(m.ConfigRevision, revision_id) is None:
            raise errors.NotFound()

    def change(db: Session) -> None:
        service.apply_snapshot(db, service.revision_snapshot(db, revision_id))
        audit.record(db, "admin.revision.restored", actor, restored=revision_id)

    try:
        published = service.publish(
            services.store,
            actor.username,
            f"Revision {revision_id} restored",
            change,
            settings=services.settings,
            notifier=services.notifier,
            restored_from=revision_id,
        )
    except validate.ValidationError as exc:
        # An old revision can conflict with what lives outside revisions.
        log.warning("restore of %s by %s refused: %s", revision_id, actor.username, exc)
        raise errors.Conflict(details={exc.field: str(exc.message)}) from None
    return published.id


def recent(
    db: Session, limit: int, *, before: int | None = None, search: str = ""
) -> list[m.ConfigRevision]:
    """The newest revisions, older than ``before`` when given.

    ``search`` keeps those whose author or summary holds it: on a busy day
    users' own forwarding and do-not-disturb changes are most revisions,
    and an admin looks for their own or a colleague's among them.
    """
    query = select(m.ConfigRevision).order_by(m.ConfigRevision.id.desc())
    if before is not None:
        query = query.where(m.ConfigRevision.id < before)
    if search:
        query = query.where(
            or_(
                m.ConfigRevision.author.icontains(search, autoescape=True),
                m.ConfigRevision.summary.icontains(search, autoescape=True),
            )
        )
    return list(db.scalars(query.limit(limit)))


def asked() -> tuple[str, int | None]:
    """The search text and the page (``before``) a revisions list asks for."""
    search = request.args.get("q", "").strip()[:80]
    return search, request.args.get("before", type=int)


def latest_id(db: Session) -> int | None:
    return db.scalar(select(func.max(m.ConfigRevision.id)))


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, text) lines: kind is add, del, hunk or same."""
    lines = []
    for line in (diff or "").splitlines():
        if line.startswith(("+++", "---", "@@")):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append((kind, line))
    return lines
