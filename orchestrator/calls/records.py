"""Records about calls, written to the store without ever losing one.

Handlers of switch events must not wait for the database, and a database
that is down (restarting, fail-over, network) must not cost a record. So
every record is a small `Item` handed to a `RecordWriter`, which keeps it
in order in memory (and, when given a spool file, on disk as one JSON line,
so that a restart of the orchestrator loses nothing either) and writes
batches from a thread of its own. When the store is unavailable it waits
with backoff and tries again; the items stay queued meanwhile.

An item that the store refuses for what it contains (an integrity or data
error) is set aside, logged and kept in ``rejected``, so that it cannot
block the ones behind it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Protocol

import orjson
from sqlalchemy import insert, select
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from orchestrator.calls.directory import find_user
from orchestrator.store import models as m
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

# Call list results, from the user's point of view.
ANSWERED = "answered"
MISSED = "missed"
ELSEWHERE = "elsewhere"  # another phone or a colleague answered it
UNANSWERED = "unanswered"  # a call the user placed that nobody answered

_RESULT_RANK = {ANSWERED: 3, ELSEWHERE: 2, MISSED: 1, UNANSWERED: 1}


class StoreUnavailable(RuntimeError):
    """The store cannot be reached now; the items are kept for later."""


class Item(Protocol):
    """Something the writer puts in the store."""

    type_name: ClassVar[str]

    def apply(self, session: Session) -> None: ...

    def to_json(self) -> dict[str, Any]: ...


ITEM_TYPES: dict[str, type] = {}


def item_type(cls: type) -> type:
    """Register an item class so that spooled items can be read back."""
    ITEM_TYPES[cls.type_name] = cls  # type: ignore[attr-defined]
    return cls


def _dump(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def to_json(item: Any) -> dict[str, Any]:
    data = {key: _dump(value) for key, value in asdict(item).items()}
    return {"type": item.type_name, **data}


def from_json(data: dict[str, Any]) -> Any:
    cls = ITEM_TYPES[data["type"]]
    values = {}
    for f in fields(cls):
        value = data.get(f.name)
        if isinstance(value, str) and f.type in ("dt.datetime", "dt.datetime | None"):
            value = dt.datetime.fromisoformat(value)
        values[f.name] = value
    return cls(**values)


def _user_id(
    session: Session, user_id: int | None, directory_id: str | None
) -> int | None:
    if user_id is not None:
        return user_id
    if not directory_id:
        return None
    # A batch names the same few users again and again: ask the store once.
    known: dict[str, int | None] = session.info.setdefault("schakel_users", {})
    if directory_id not in known:
        with session.no_autoflush:
            user = find_user(session, directory_id)
        known[directory_id] = user.id if user is not None else None
    return known[directory_id]


@item_type
@dataclass
class LogEntry:
    """One line of the event log."""

    type_name: ClassVar[str] = "log"

    kind: str
    at: dt.datetime
    call_uuid: str | None = None
    user: str | None = None  # directory id, resolved when written
    user_id: int | None = None
    queue_id: int | None = None
    actor: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def apply(self, session: Session) -> None:
        session.add(m.EventLog(**self.row(session)))

    def row(self, session: Session) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at,
            "call_uuid": self.call_uuid,
            "user_id": _user_id(session, self.user_id, self.user),
            "queue_id": self.queue_id,
            "actor": self.actor,
            "data": self.data,
        }

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


@item_type
@dataclass
class LegRecord:
    """A user's leg of a call, for their call list.

    Several legs of one call for one user (desk phone and app ringing
    together) make one row: the best result, the earliest start, the
    latest end.
    """

    type_name: ClassVar[str] = "leg"

    call_uuid: str
    leg_uuid: str
    direction: str
    result: str
    started_at: dt.datetime
    user: str | None = None
    user_id: int | None = None
    caller_number: str | None = None
    caller_name: str | None = None
    callee_number: str | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    duration_s: int = 0
    billsec: int = 0
    hangup_cause: str | None = None

    def apply(self, session: Session) -> None:
        user_id = _user_id(session, self.user_id, self.user)
        if user_id is None:
            log.warning(
                "call %s: leg %s of unknown user %r not kept in a call list",
                self.call_uuid,
                self.leg_uuid,
                self.user,
            )
            return
        key = (self.call_uuid, user_id, self.direction)
        rows: dict[tuple[str, int, str], m.CallRecord] = session.info.setdefault(
            "schakel_call_records", {}
        )
        row = rows.get(key)
        if row is None:
            # Without autoflush: the rows of this batch are written together.
            with session.no_autoflush:
                row = session.scalar(
                    select(m.CallRecord).where(
                        m.CallRecord.call_uuid == self.call_uuid,
                        m.CallRecord.user_id == user_id,
                        m.CallRecord.direction == self.direction,
                    )
                )
        if row is None:
            row = self._new_row(user_id)
            session.add(row)
        else:
            self._merge(row)
        rows[key] = row

    def _new_row(self, user_id: int) -> m.CallRecord:
        return m.CallRecord(
            call_uuid=self.call_uuid,
            user_id=user_id,
            direction=self.direction,
            result=self.result,
            caller_number=self.caller_number,
            caller_name=self.caller_name,
            callee_number=self.callee_number,
            started_at=self.started_at,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            duration_s=self.duration_s,
            billsec=self.billsec,
            hangup_cause=self.hangup_cause,
        )

    def _merge(self, row: m.CallRecord) -> None:
        if _RESULT_RANK.get(self.result, 0) > _RESULT_RANK.get(row.result, 0):
            row.result = self.result
            row.answered_at = self.answered_at
            row.billsec = self.billsec
            row.hangup_cause = self.hangup_cause
            row.caller_name = self.caller_name or row.caller_name
        row.started_at = min(_aware(row.started_at), self.started_at)
        if self.ended_at is not None:
            ended = _aware(row.ended_at) if row.ended_at else None
            row.ended_at = max(ended, self.ended_at) if ended else self.ended_at
        row.duration_s = max(row.duration_s or 0, self.duration_s)
        row.caller_number = row.caller_number or self.caller_number
        row.callee_number = row.callee_number or self.callee_number

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def is_outage(exc: BaseException) -> bool:
    """Whether an error says "store unavailable" rather than "bad item"."""
    return isinstance(exc, SQLAlchemyError) and not isinstance(
        exc, IntegrityError | DataError
    )


class StoreSink:
    """Writes a batch of items in one transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, items: list[Any]) -> None:
        with self.store.session() as session:
            log_rows = []
            for item in items:
                if isinstance(item, LogEntry):
                    log_rows.append(item.row(session))
                else:
                    item.apply(session)
            if log_rows:
                # One multi-row INSERT: the event log is most of what is written.
                session.connection().execute(insert(m.EventLog.__table__), log_rows)


Sink = Callable[[list[Any]], None]


@dataclass(frozen=True)
class RetryPolicy:
    initial: float = 0.5
    maximum: float = 10.0

    def delay(self, attempt: int) -> float:
        return min(self.maximum, self.initial * 2 ** min(attempt, 16))


class RecordWriter:
    """An ordered queue of items, written in batches by its own thread."""

    def __init__(
        self,
        sink: Sink | Store,
        *,
        spool: str | os.PathLike[str] | None = None,
        batch: int = 500,
        retry: RetryPolicy | None = None,
        on_written: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self.sink: Sink = StoreSink(sink) if isinstance(sink, Store) else sink
        self.spool = Path(spool) if spool else None
        self.batch = batch
        self.retry = retry or RetryPolicy()
        self._listeners = [on_written] if on_written else []
        self.rejected: list[Any] = []
        self._queue: deque[Any] = deque()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._empty = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._load_spool()

    # -- producers ----------------------------------------------------------

    def submit(self, item: Any) -> None:
        """Queue an item; returns at once."""
        with self._lock:
            self._queue.append(item)
            self._append_spool([item])
        self._wake.set()

    def add_listener(self, listener: Callable[[list[Any]], None]) -> None:
        """Call ``listener(items)`` after items were written."""
        self._listeners.append(listener)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- writing --------------------------------------------------------------

    def flush(self) -> int:
        """Write everything queued now; the number written.

        Raises `StoreUnavailable` (and keeps the items) when the store
        cannot be reached.
        """
        written = 0
        with self._write_lock:
            while True:
                with self._lock:
                    batch = list(self._queue)[: self.batch]
                if not batch:
                    break
                self._write(batch)
                written += len(batch)
        return written

    def wait_empty(self, timeout: float | None = None) -> bool:
        """Wait until the thread has written everything queued."""
        with self._empty:
            return self._empty.wait_for(lambda: not self._queue, timeout)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name="record-writer", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread after one last attempt to write what is queued."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait(self._retry_delay())
            self._wake.clear()
            try:
                self.flush()
            except StoreUnavailable:
                pass
            except Exception:
                # A fault in the writer itself must not end the thread.
                log.exception("record writer failed; retrying")
                self._failures += 1
            if self._stopping.is_set():
                return

    def _retry_delay(self) -> float | None:
        return self.retry.delay(self._failures - 1) if self._failures else None

    def _write(self, batch: list[Any]) -> None:
        try:
            self.sink(batch)
        except Exception as exc:  # noqa: BLE001 - isolated item by item below
            if is_outage(exc):
                self._outage(exc)
            self._write_one_by_one(batch)
            return
        self._written(batch)

    def _write_one_by_one(self, batch: list[Any]) -> None:
        # One item spoiled the batch; find it so that the others get in.
        for item in batch:
            try:
                self.sink([item])
            except Exception as exc:
                if is_outage(exc):
                    self._outage(exc)
                log.exception("record refused and set aside: %r", item)
                self.rejected.append(item)
                self._written([item], notify=False)
            else:
                self._written([item])

    def _outage(self, exc: BaseException) -> None:
        self._failures += 1
        if self._failures == 1:
            log.warning(
                "store unavailable, keeping %d record(s) until it is back: %s",
                self.pending,
                exc,
            )
        raise StoreUnavailable(str(exc)) from exc

    def _written(self, batch: list[Any], notify: bool = True) -> None:
        if self._failures:
            log.info("store is back after %d failed attempt(s)", self._failures)
            self._failures = 0
        with self._lock:
            for _ in batch:
                self._queue.popleft()
            self._rewrite_spool()
            if not self._queue:
                self._empty.notify_all()
        if notify:
            for listener in self._listeners:
                try:
                    listener(batch)
                except Exception:
                    log.exception("listener %r failed after a write", listener)

    # -- spool file ---------------------------------------------------------------

    def _load_spool(self) -> None:
        if self.spool is None or not self.spool.exists():
            return
        for number, line in enumerate(self.spool.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                self._queue.append(from_json(orjson.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                log.error(
                    "spool %s line %d unreadable, skipped: %s", self.spool, number, exc
                )
        if self._queue:
            log.info(
                "%d record(s) from spool %s queued again", len(self._queue), self.spool
            )
            self._wake.set()

    def _append_spool(self, items: Iterable[Any]) -> None:
        if self.spool is None:
            return
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        with self.spool.open("ab") as fh:
            for item in items:
                fh.write(orjson.dumps(item.to_json()) + b"\n")
            fh.flush()

    def _rewrite_spool(self) -> None:
        if self.spool is None:
            return
        tmp = self.spool.with_suffix(self.spool.suffix + ".tmp")
        with tmp.open("wb") as fh:
            for item in self._queue:
                fh.write(orjson.dumps(item.to_json()) + b"\n")
        os.replace(tmp, self.spool)
