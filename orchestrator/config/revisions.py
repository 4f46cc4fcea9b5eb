"""Publishing configuration: validate, store a revision, notify.

Every change to the configuration goes through :func:`publish`: the change
is applied in one transaction, validated (:mod:`orchestrator.config.validate`,
rendering included), and only then committed together with a
:class:`~orchestrator.store.models.ConfigRevision` holding who, when, what,
a full snapshot of the configuration tables and the diff to the revision
before. A refused change raises a :class:`ValidationError` naming the field
and leaves the stored configuration exactly as it was. After the commit the
notifier flushes the switch's XML cache and announces the revision.

:func:`restore` makes an earlier revision current again, as a new revision
that records where it came from.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, DateTime, Table, UniqueConstraint, select, text
from sqlalchemy.orm import Session

from orchestrator.config.notifier import Notifier, Switch, listen
from orchestrator.config.validate import InvalidValue, ValidationError, validate
from orchestrator.settings import Settings
from orchestrator.store import models as m
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

__all__ = [
    "Change",
    "Published",
    "RevisionNotFound",
    "ValidationError",
    "apply_snapshot",
    "configure",
    "install",
    "publish",
    "restore",
    "revision_snapshot",
    "snapshot",
    "snapshot_diff",
]

Change = Callable[[Session], Any]
Snapshot = dict[str, list[dict[str, Any]]]

# Columns that are not configuration: a sign-in password must survive the
# restore of a revision older than the last password change.
EXCLUDED_COLUMNS = {"users": frozenset({"password_hash"})}

# Shown only as a fingerprint in diffs (the snapshot keeps them: a restore
# must bring them back).
SECRET_COLUMNS = {
    "devices": frozenset({"sip_password"}),
    "users": frozenset({"voicemail_pin"}),
}

# Any constant will do: it only has to be the same in every process.
_PUBLISH_LOCK = 72_683_560


class RevisionNotFound(LookupError):
    """A revision id that was never stored."""

    status = 404
    error_id = "revision-not-found"

    def __init__(self, revision_id: int) -> None:
        super().__init__(f"there is no configuration revision {revision_id}")
        self.revision_id = revision_id


@dataclass(frozen=True)
class Published:
    """A stored revision, as the caller of :func:`publish` learns of it."""

    id: int
    created_at: dt.datetime
    author: str
    summary: str
    diff: str
    restored_from: int | None = None


@dataclass
class _Defaults:
    settings: Settings | None = None
    notifier: Notifier | None = None


_defaults = _Defaults()


def configure(
    *, settings: Settings | None = None, notifier: Notifier | None = None
) -> None:
    """Set this process's settings and notifier for publishes that name none.

    The process that talks to the switch installs a notifier with its ESL
    gateway here; without one, a publish only informs this process.
    """
    if settings is not None:
        _defaults.settings = settings
    if notifier is not None:
        _defaults.notifier = notifier


def install(settings: Settings, live: Any, switch: Switch | None = None) -> Notifier:
    """Wire this process up: its publishes notify, others' are heard.

    Call once at start-up with the process's live-state client and, in the
    process that holds the Event Socket, its gateway.
    """
    notifier = Notifier(switch=switch, live=live)
    configure(settings=settings, notifier=notifier)
    listen(live, switch)
    return notifier


# --- publishing ---------------------------------------------------------------


def publish(
    target: Store | Session,
    author: str,
    summary: str,
    change: Change | None = None,
    *,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
    restored_from: int | None = None,
) -> Published:
    """Apply ``change``, validate, commit with a new revision, then notify.

    ``target`` is a store (a session of its own is used) or a session that
    already holds the change (``change`` may then be None); either way the
    session is committed here, or rolled back when the change is refused.
    """
    settings = settings or _defaults.settings or Settings().derive()
    notifier = notifier or _defaults.notifier or Notifier()
    if isinstance(target, Store):
        with target.sessions() as session:
            published = _publish_in(
                session, author, summary, change, settings, restored_from
            )
    else:
        published = _publish_in(
            target, author, summary, change, settings, restored_from
        )
    log.info(
        "configuration revision %s published by %s: %s",
        published.id,
        author,
        summary,
    )
    notifier.published(published.id, author, summary)
    return published


def _publish_in(
    session: Session,
    author: str,
    summary: str,
    change: Change | None,
    settings: Settings,
    restored_from: int | None,
) -> Published:
    try:
        _lock(session)
        if change is not None:
            change(session)
        validate(session, settings)
        revision = _store_revision(session, author, summary, restored_from)
        session.commit()
    except m.StoreError as exc:
        session.rollback()
        raise InvalidValue(exc.field, exc.message) from exc
    except BaseException:
        session.rollback()
        raise
    return _published(revision)


def _lock(session: Session) -> None:
    # Two admins publishing at once must not both diff against the same
    # previous revision. SQLite serialises writers by itself.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PUBLISH_LOCK}
        )


def _store_revision(
    session: Session, author: str, summary: str, restored_from: int | None
) -> m.ConfigRevision:
    current = snapshot(session)
    previous = session.scalars(
        select(m.ConfigRevision).order_by(m.ConfigRevision.id.desc()).limit(1)
    ).first()
    diff = snapshot_diff(
        previous.snapshot if previous else {},
        current,
        f"revision {previous.id}" if previous else "empty",
        "new",
    )
    revision = m.ConfigRevision(
        author=author,
        summary=summary[:500],
        snapshot=current,
        diff=diff,
        restored_from=restored_from,
    )
    session.add(revision)
    session.flush()
    return revision


def _published(revision: m.ConfigRevision) -> Published:
    return Published(
        id=revision.id,
        created_at=revision.created_at,
        author=revision.author,
        summary=revision.summary,
        diff=revision.diff,
        restored_from=revision.restored_from,
    )


# --- snapshots ----------------------------------------------------------------


def _tables() -> list[Table]:
    return [model.__table__ for model in m.config_tables()]  # type: ignore[misc]


def snapshot(session: Session) -> Snapshot:
    """Every configuration row, as JSON-ready dicts ordered by id."""
    return {table.name: _current_rows(session, table) for table in _tables()}


def _to_json(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def _from_json(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    values = {}
    excluded = EXCLUDED_COLUMNS.get(table.name, frozenset())
    for column in table.columns:
        if column.key in excluded:
            continue
        value = row.get(column.key)
        if isinstance(value, str) and isinstance(column.type, DateTime):
            value = dt.datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(column.type, Date):
            value = dt.date.fromisoformat(value)
        values[column.key] = value
    return values


def snapshot_lines(snap: Snapshot) -> list[str]:
    """One line per row (``users/12 {...}``): diffs then show changed rows.

    Secrets appear as a short fingerprint: a diff shows that a password
    changed, not the password.
    """
    lines = []
    for table in sorted(snap):
        secret = SECRET_COLUMNS.get(table, frozenset())
        for row in snap[table]:
            shown = {k: _fingerprint(v) if k in secret else v for k, v in row.items()}
            body = json.dumps(shown, sort_keys=True, ensure_ascii=False)
            lines.append(f"{table}/{row.get('id')} {body}")
    return lines


def _fingerprint(value: Any) -> Any:
    if value is None:
        return None
    digest = hashlib.sha256(str(value).encode()).hexdigest()[:10]
    return f"sha256:{digest}"


def snapshot_diff(before: Snapshot, after: Snapshot, old: str, new: str) -> str:
    return "\n".join(
        difflib.unified_diff(
            snapshot_lines(before), snapshot_lines(after), old, new, lineterm="", n=0
        )
    )


def revision_snapshot(session: Session, revision_id: int) -> Snapshot:
    revision = session.get(m.ConfigRevision, revision_id)
    if revision is None:
        raise RevisionNotFound(revision_id)
    return revision.snapshot


# --- restoring ----------------------------------------------------------------


def restore(
    target: Store | Session,
    revision_id: int,
    author: str,
    *,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
    summary: str | None = None,
) -> Published:
    """Make revision ``revision_id`` the configuration again (a new revision)."""

    def change(session: Session) -> None:
        apply_snapshot(session, revision_snapshot(session, revision_id))

    summary = summary or f"Revision {revision_id} restored"
    return publish(
        target,
        author,
        summary,
        change,
        settings=settings,
        notifier=notifier,
        restored_from=revision_id,
    )


def apply_snapshot(session: Session, snap: Snapshot) -> None:
    """Make the configuration tables hold exactly ``snap``, ids included.

    Rows are changed in place rather than deleted and inserted, because
    records (voicemail messages) hang on users and a delete would take them
    along. Unique columns of rows that change or go are first set aside, so
    that values may move between rows.
    """
    session.flush()
    tables = _tables()
    current = {t.name: _by_id(_current_rows(session, t)) for t in tables}
    wanted = {t.name: _by_id(snap.get(t.name, [])) for t in tables}
    leaves = _leaf_tables(tables)

    for table in reversed(tables):
        _set_aside(session, table, current[table.name], wanted[table.name], leaves)
    for table in tables:
        _write(session, table, current[table.name], wanted[table.name], leaves)
    for table in reversed(tables):
        gone = set(current[table.name]) - set(wanted[table.name])
        if gone and table.name not in leaves:
            session.execute(table.delete().where(table.c.id.in_(gone)))
    _reset_sequences(session, tables)
    session.expire_all()


def _by_id(rows: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in rows}


def _current_rows(session: Session, table: Table) -> list[dict[str, Any]]:
    excluded = EXCLUDED_COLUMNS.get(table.name, frozenset())
    return [
        {
            key: _to_json(value)
            for key, value in row._mapping.items()
            if key not in excluded
        }
        for row in session.execute(select(table).order_by(table.c.id))
    ]


def _leaf_tables(tables: list[Table]) -> set[str]:
    """Tables no other table points at: their rows may be replaced freely."""
    referenced = {
        fk.column.table.name
        for table in m.Base.metadata.sorted_tables
        for fk in table.foreign_keys
    }
    return {t.name for t in tables if t.name not in referenced}


def _unique_columns(table: Table) -> list[str]:
    single = [c.key for c in table.columns if c.unique]
    single += [
        next(iter(c.columns)).key
        for c in table.constraints
        if isinstance(c, UniqueConstraint) and len(c.columns) == 1
    ]
    return sorted(set(single))


def _set_aside(
    session: Session,
    table: Table,
    current: dict[int, dict[str, Any]],
    wanted: dict[int, dict[str, Any]],
    leaves: set[str],
) -> None:
    moving = [
        row_id
        for row_id, row in current.items()
        if row_id not in wanted or wanted[row_id] != row
    ]
    if not moving:
        return
    if table.name in leaves:
        # Nothing points at these rows: take them out, _write puts back
        # what the snapshot holds.
        session.execute(table.delete().where(table.c.id.in_(moving)))
        return
    for name in _unique_columns(table):
        column = table.c[name]
        for row_id in moving:
            placeholder = None if column.nullable else f"~{row_id}"
            session.execute(
                table.update().where(table.c.id == row_id).values({name: placeholder})
            )


def _write(
    session: Session,
    table: Table,
    current: dict[int, dict[str, Any]],
    wanted: dict[int, dict[str, Any]],
    leaves: set[str],
) -> None:
    inserts = []
    for row_id, row in wanted.items():
        old = current.get(row_id)
        if old == row:
            continue
        if old is not None and table.name not in leaves:
            values = _from_json(table, row)
            session.execute(table.update().where(table.c.id == row_id).values(values))
        else:
            # New, or a leaf row _set_aside took out.
            inserts.append(_from_json(table, row))
    if inserts:
        session.execute(table.insert(), inserts)


def _reset_sequences(session: Session, tables: list[Table]) -> None:
    # Rows came back with their old ids; PostgreSQL's sequences must not
    # hand those out again.
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )
