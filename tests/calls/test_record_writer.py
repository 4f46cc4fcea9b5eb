"""No call record is lost while the store is down."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from tcp_proxy import TcpProxy

from orchestrator.calls.records import (
    LegRecord,
    LogEntry,
    RecordWriter,
    RetryPolicy,
    StoreSink,
    StoreUnavailable,
)
from orchestrator.store import models as m
from orchestrator.store.db import Store

T0 = dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.UTC)


def entry(n: int, call: str = "call-1") -> LogEntry:
    return LogEntry(kind="call.created", at=T0, call_uuid=call, data={"n": n})


def logged(store: Store, call: str = "call-1") -> list[int]:
    with store.session() as session:
        rows = session.scalars(
            select(m.EventLog)
            .where(m.EventLog.call_uuid == call)
            .order_by(m.EventLog.id)
        )
        return [row.data["n"] for row in rows]


class FlakySink:
    """The real store behind a connection that fails the first ``n`` times."""

    def __init__(self, store: Store, failures: int) -> None:
        self.inner = StoreSink(store)
        self.failures = failures

    def __call__(self, items: list) -> None:
        if self.failures:
            self.failures -= 1
            raise OperationalError("INSERT", {}, ConnectionRefusedError("db down"))
        self.inner(items)


def test_records_wait_in_order_until_the_store_is_back(store):
    writer = RecordWriter(FlakySink(store, failures=2))
    for n in range(5):
        writer.submit(entry(n))

    for _ in range(2):
        with pytest.raises(StoreUnavailable):
            writer.flush()
        assert writer.pending == 5
    writer.submit(entry(5))

    assert writer.flush() == 6
    assert logged(store) == [0, 1, 2, 3, 4, 5]
    assert writer.pending == 0


def test_unreachable_database_then_the_good_one(store, free_port):
    # Nothing listens on free_port: every connection is refused.
    down = Store(f"postgresql://postgres@127.0.0.1:{free_port}/schakel")
    writer = RecordWriter(down)
    writer.submit(entry(1))
    writer.submit(
        LegRecord(
            call_uuid="call-1",
            leg_uuid="leg-1",
            direction="in",
            result="missed",
            started_at=T0,
            user="1001",
        )
    )
    with pytest.raises(StoreUnavailable):
        writer.flush()
    down.dispose()

    writer.sink = StoreSink(store)
    assert writer.flush() == 2
    assert logged(store) == [1]


def test_a_restart_keeps_what_was_not_written(store, tmp_path):
    spool = tmp_path / "records.jsonl"
    first = RecordWriter(FlakySink(store, failures=10), spool=spool)
    first.submit(entry(1))
    first.submit(
        LegRecord(
            call_uuid="call-1",
            leg_uuid="leg-1",
            direction="out",
            result="answered",
            started_at=T0,
            answered_at=T0 + dt.timedelta(seconds=3),
            user="1001",
        )
    )
    with pytest.raises(StoreUnavailable):
        first.flush()

    # The process dies here; a new one reads the spool.
    second = RecordWriter(store, spool=spool)
    assert second.pending == 2
    assert second.flush() == 2
    assert logged(store) == [1]
    assert spool.read_bytes() == b""


def test_a_refused_record_does_not_block_the_others(store):
    def sink(items: list) -> None:
        if any(item.data.get("n") == 2 for item in items):
            raise IntegrityError("INSERT", {}, ValueError("bad row"))
        StoreSink(store)(items)

    writer = RecordWriter(sink)
    for n in range(4):
        writer.submit(entry(n))

    assert writer.flush() == 4
    assert logged(store) == [0, 1, 3]
    assert [item.data["n"] for item in writer.rejected] == [2]


@pytest.fixture
def pg_behind_proxy(pg_url: str, free_port: int) -> Iterator[tuple[Store, TcpProxy]]:
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432), free_port)
    proxy.up()
    store = Store(url.set(host="127.0.0.1", port=free_port).render_as_string(False))
    m.Base.metadata.create_all(store.engine)
    yield store, proxy
    proxy.down()
    store.dispose()


def test_postgresql_outage_loses_no_record(pg_behind_proxy):
    store, proxy = pg_behind_proxy
    call = "outage-" + dt.datetime.now().isoformat()
    writer = RecordWriter(store, retry=RetryPolicy(initial=0.05, maximum=0.2))
    writer.start()
    writer.submit(entry(0, call))
    assert writer.wait_empty(timeout=10)

    proxy.down()
    for n in range(1, 4):
        writer.submit(entry(n, call))
    with pytest.raises(StoreUnavailable):
        writer.flush()
    assert writer.pending == 3

    proxy.up()
    assert writer.wait_empty(timeout=20)
    writer.stop()
    assert logged(store, call) == [0, 1, 2, 3]
