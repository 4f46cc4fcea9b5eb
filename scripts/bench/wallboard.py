#!/usr/bin/env python3
"""Wallboards: how soon a thousand open live pages see a change.

`schakel serve --no-esl` runs as its own process on the demo organisation
(SQLite, live state in the Redis server named by ``--redis``), as the web
app runs in production. This process signs in as the demo supervisor and
opens ``--clients`` websockets to ``/ws/live``, as that many wallboards
and live pages would. Then, one at a time, it publishes presence changes
on the live channel the way the orchestrator does, each stamped with the
moment it was sent, and every client notes when it arrives.

Figures: the time from publishing to arrival at each client, over every
client and change (p50, p99, max), changes a client never saw, the time
to connect everyone, and the server's memory with everyone connected.
The clients share one process on the same machine, so their own work is
part of the figures. Target: p99 under 250 ms with 1,000 clients.
Prints the figures and ends with one JSON line.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import http.cookiejar  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.pool  # noqa: E402
import redis  # noqa: E402
import simple_websocket  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orchestrator.calls.presence import CHANNEL  # noqa: E402
from orchestrator.store.seed import DEMO_PASSWORD  # noqa: E402

TARGET_P99_MS = 250.0
# The demo's supervisor may watch the live page.
WATCHER = "supervisor"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(folder: Path, redis_url: str, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'schakel.db'}",
        "REDIS_URL": redis_url,
        "SCHAKEL_HTTP_HOST": "127.0.0.1",
        "SCHAKEL_HTTP_PORT": str(port),
        "SCHAKEL_SECRET_KEY": "wallboard-benchmark",
        "SCHAKEL_VOICEMAIL_DIR": str(folder / "voicemail"),
        "SCHAKEL_SOUNDS_DIR": str(folder / "sounds"),
    }
    env.pop("SCHAKEL_CONFIG", None)
    schakel = [sys.executable, "-m", "orchestrator.cli"]
    for step in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [*schakel, *step], env=env, cwd=folder, check=True, capture_output=True
        )
    process = subprocess.Popen(
        [*schakel, "serve", "--no-esl"],
        env=env,
        cwd=folder,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "serving on" in line:
            # Keep reading its log, or a full pipe would stop it.
            gevent.spawn(process.stderr.read)
            return process
    raise SystemExit("schakel serve stopped before it served")


def sign_in(base: str) -> str:
    """The session cookie of the demo supervisor, as a Cookie header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if token is None:
        raise SystemExit("no CSRF token on the sign-in page")
    form = urllib.parse.urlencode(
        {"csrf_token": token[1], "username": WATCHER, "password": DEMO_PASSWORD}
    ).encode()
    opener.open(base + "/login", form).read()
    cookies = [f"{c.name}={c.value}" for c in jar if c.name == "schakel_session"]
    if not cookies:
        raise SystemExit("signing in as the demo supervisor failed")
    return cookies[0]


class _Client(simple_websocket.Client):
    """simple_websocket's client, reading what came with the handshake.

    The server sends its snapshot right after accepting; when both arrive in
    one read, the client library keeps the snapshot unread until more data
    comes, and the first receive waits in vain.
    """

    def handshake(self) -> None:
        super().handshake()
        self.connected = self._handle_events()


class Wallboard:
    """One websocket client: the arrival time of each change it sees."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.ws = _Client.connect(url, headers=headers)
        self.arrived: dict[int, float] = {}
        # The first message is the snapshot of what is live.
        json.loads(self.ws.receive(timeout=30))

    def listen(self) -> None:
        try:
            while True:
                message = json.loads(self.ws.receive())
                if "bench_seq" in message:
                    self.arrived[message["bench_seq"]] = time.perf_counter()
        except simple_websocket.ConnectionClosed:
            pass

    def close(self) -> None:
        self.ws.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/15",
        help="live state for the server (default: database 15 of a local Redis)",
    )
    args = parser.parse_args(argv)
    changes = 5 if args.quick else 30
    live = redis.Redis.from_url(args.redis)
    try:
        live.ping()
    except redis.RedisError as exc:
        raise SystemExit(f"no Redis at {args.redis}: {exc}") from None

    with tempfile.TemporaryDirectory(prefix="schakel-wallboard-") as folder:
        port = free_port()
        server = start_server(Path(folder), args.redis, port)
        try:
            base = f"http://127.0.0.1:{port}"
            # No Origin: this client names the host without its port, which
            # the same-origin check would refuse; browsers send both.
            headers = {"Cookie": sign_in(base)}
            url = f"ws://127.0.0.1:{port}/ws/live"

            started = time.perf_counter()
            pool = gevent.pool.Pool(100)
            boards = pool.map(lambda _: Wallboard(url, headers), range(args.clients))
            connect_s = time.perf_counter() - started
            listeners = [gevent.spawn(board.listen) for board in boards]
            gevent.sleep(0.5)
            memory = rss_mb(server.pid)

            sent: dict[int, float] = {}
            for seq in range(changes):
                state = "busy" if seq % 2 else "available"
                event = {
                    "type": "presence",
                    "user": "anna",
                    "extension": "2301",
                    "state": state,
                    "bench_seq": seq,
                }
                sent[seq] = time.perf_counter()
                live.publish(CHANNEL, json.dumps(event))
                # One change at a time: each is measured on its own.
                gevent.sleep(0.3)
            gevent.sleep(1.0)

            delays = [
                (board.arrived[seq] - sent[seq]) * 1000
                for board in boards
                for seq in sent
                if seq in board.arrived
            ]
            missed = len(boards) * changes - len(delays)
            for board in boards:
                board.close()
            gevent.killall(listeners, timeout=5)
        finally:
            server.terminate()
            server.wait(timeout=10)

    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    print(f"clients:               {args.clients} (connected in {connect_s:.1f} s)")
    print(f"changes published:     {changes}, one at a time")
    print(
        f"publish to arrival:    p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(delays):.1f} ms, mean {statistics.mean(delays):.1f} ms"
    )
    print(f"changes never seen:    {missed}")
    print(f"server memory:         {memory:.0f} MB with every client connected")
    print(f"target:                p99 < {TARGET_P99_MS:.0f} ms with 1,000 clients")
    print(
        json.dumps(
            {
                "clients": args.clients,
                "changes": changes,
                "p50_ms": round(p50, 1),
                "p99_ms": round(p99, 1),
                "max_ms": round(max(delays), 1),
                "missed": missed,
                "connect_s": round(connect_s, 2),
                "server_rss_mb": round(memory),
                "target_p99_ms": TARGET_P99_MS,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
