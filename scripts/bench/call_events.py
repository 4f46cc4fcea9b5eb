#!/usr/bin/env python3
"""Call features: how fast history and presence follow the switch's events.

The events are the real ones recorded from FreeSWITCH (captures 02, 03, 04,
07 and 10: registrations, answered, unanswered, busy and held calls, an
internal call), repeated with the channel UUIDs varied so that every copy is
a call of its own. Only the events the call features subscribe to are fed.

Measured, one after another, on one core:

- history: `CallHistory.handle` (event log lines and call list rows queued
  for the record writer);
- presence: `PresenceTracker.handle` against live state (in-process by
  default, or the Redis server named by ``--redis``);
- both through the Event Socket client's `Dispatcher`, as the running
  orchestrator feeds them: one lane per channel, each in its own greenlet,
  so that the lanes' Redis round trips overlap (sockets made cooperative
  by gevent's monkey patching, as ``schakel serve`` does);
- writer: `RecordWriter.flush` of everything the history step queued, into
  SQLite (or the database named by ``--database``), in batches of 500.

The switch sends about 5 of these events per leg; a call centre busy at
200 new calls a second (two legs each) needs some 2,000 per second.
Prints the figures and ends with one JSON line.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_CAPTURES = ROOT.parent / "shared" / "freeswitch-captures"
CAPTURES = ("02-register", "03-basic-bridge", "04-no-answer-fallback", "07-hold",
            "10-xml-curl-forms")  # fmt: skip
NEEDED_PER_SECOND = 2000

_UUID = re.compile(
    rb"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{8})[0-9a-f]{4}"
)


def load(captures: Path, copies: int) -> list:
    from orchestrator.calls import history, presence
    from orchestrator.esl.events import decode_json

    wanted = set(history.EVENTS) | set(presence.EVENTS)
    lines = []
    for name in CAPTURES:
        lines += (captures / name / "events.jsonl").read_bytes().splitlines()
    events = []
    for copy in range(copies):
        tag = b"%04x" % copy
        for line in lines:
            event = decode_json(_UUID.sub(lambda m, t=tag: m.group(1) + t, line))
            if event.key in wanted:
                events.append(event)
    return events


def seeded_store(url: str | None):
    from orchestrator.store import models as m
    from orchestrator.store.db import Store

    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-calls-')}/calls.db"
    store = Store(url)
    m.Base.metadata.create_all(store.engine)
    with store.session() as session:
        for n in (1, 2, 3):
            if session.query(m.Device).filter_by(sip_user=f"100{n}").first():
                continue
            user = m.User(
                username=f"bench{n}", name=f"Bench {n}", extension=f"29{n:02d}"
            )
            user.devices = [m.Device(sip_user=f"100{n}", sip_password="x" * 12)]
            session.add(user)
    return store


def dispatched(events: list, store, client, flush: bool) -> float:
    """Seconds for history and presence to take ``events`` through lanes."""
    from orchestrator.calls.directory import UserDirectory
    from orchestrator.calls.history import CallHistory
    from orchestrator.calls.presence import PresenceTracker
    from orchestrator.calls.records import RecordWriter
    from orchestrator.esl.dispatch import Dispatcher

    if flush:
        client.flushdb()
    dispatcher = Dispatcher()
    history = CallHistory(RecordWriter(lambda items: None))
    tracker = PresenceTracker(client, UserDirectory(store), cache=True)
    dispatcher.subscribe(history.handle)
    dispatcher.subscribe(tracker.handle)
    tracker.start()
    started = time.perf_counter()
    for event in events:
        dispatcher.dispatch(event)
    dispatcher.join()
    tracker.stop()
    return time.perf_counter() - started


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--captures", type=Path, default=DEFAULT_CAPTURES)
    parser.add_argument("--redis", default=None, help="a Redis URL to use (flushed)")
    parser.add_argument("--database", default=None, help="a database URL to use")
    args = parser.parse_args()

    from orchestrator import live
    from orchestrator.calls.directory import UserDirectory
    from orchestrator.calls.history import CallHistory
    from orchestrator.calls.presence import PresenceTracker
    from orchestrator.calls.records import RecordWriter

    copies = 40 if args.quick else 400
    events = load(args.captures, copies)
    store = seeded_store(args.database)
    client = live.connect(args.redis or "memory://bench-calls")
    if args.redis:
        client.flushdb()

    writer = RecordWriter(store, batch=500)
    history = CallHistory(writer)
    started = time.perf_counter()
    for event in events:
        history.handle(event)
    history_s = time.perf_counter() - started

    tracker = PresenceTracker(client, UserDirectory(store), cache=True)
    started = time.perf_counter()
    for event in events:
        tracker.handle(event)
    presence_s = time.perf_counter() - started

    records = writer.pending
    started = time.perf_counter()
    writer.flush()
    writer_s = time.perf_counter() - started

    dispatched_s = dispatched(events, store, client, args.redis is not None)
    store.dispose()

    result = {
        "benchmark": "call_events",
        "events": len(events),
        "history_events_per_s": round(rate(len(events), history_s)),
        "presence_events_per_s": round(rate(len(events), presence_s)),
        "dispatched_events_per_s": round(rate(len(events), dispatched_s)),
        "records": records,
        "writer_records_per_s": round(rate(records, writer_s)),
        "redis": "server" if args.redis else "in-process",
        "database": store.engine.url.get_backend_name(),
        "needed_events_per_s": NEEDED_PER_SECOND,
    }
    print(f"events fed:            {len(events):>10}")
    print(f"history:               {result['history_events_per_s']:>10} events/s")
    print(
        f"presence ({result['redis']}): {result['presence_events_per_s']:>10} events/s"
    )
    print(
        f"writer ({result['database']}):   {result['writer_records_per_s']:>10} records/s"
    )
    print(f"needed at 200 calls/s: {NEEDED_PER_SECOND:>10} events/s")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
