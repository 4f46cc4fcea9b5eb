"""Benchmark: xml_curl directory and dialplan answers per second, and latency.

An organisation of 1,000 users (one desk phone each, a DID and an extension)
is published into a fresh SQLite store. The endpoint is served by gevent's
WSGI server in one or more processes (``--servers``, sharing the port); a
separate process loads it over ``--clients`` keep-alive connections with the
forms FreeSWITCH sends (the captured forms, with the user or number
changed): half directory lookups (sip_auth, user_call, message-count), half
dialplan lookups of the users' DIDs in the forms a trunk sends them.
Every answer is checked (status 200, the user's id or the number's
extension in the document).

Prints the figures, and as its last line one JSON object:
``{"answers_per_s": ..., "p50_ms": ..., "p99_ms": ..., ...}``.
Target: at least 2,000 answers per second, p99 under 10 ms, on two cores.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

USERS = 1000
BLOCK = "+31317490000"
PATH = "/freeswitch/xml"
DOMAIN = "pbx.local"


# --- the organisation ----------------------------------------------------------------


def load_org(session: Any) -> None:
    from orchestrator.store import models as m

    session.add(
        m.Organisation(name="Bench", main_number=BLOCK, extension_ranges="2000-3999")
    )
    session.add(m.NumberBlock(first=BLOCK, size=10000, label="bench"))
    tc = m.TrafficClass(name="Nationaal", allow_national=True, allow_mobile=True)
    profile = m.Profile(name="Standaard", traffic_class=tc)
    session.add_all([tc, profile])
    for i in range(USERS):
        user = m.User(
            username=f"user{i}",
            name=f"Medewerker {i} O'Brien <&>",
            email=f"user{i}@example.org",
            did=did(i),
            extension=str(2000 + i),
            profile=profile,
            voicemail_pin=f"{1000 + i}",
        )
        user.devices = [
            m.Device(sip_user=str(2000 + i), sip_password=f"pw-{i:04d}-bench")
        ]
        session.add(user)


def did(i: int) -> str:
    return f"+3131749{1000 + i:04d}"


def prepare_store(url: str) -> None:
    from orchestrator import settings as settings_mod
    from orchestrator.config import revisions
    from orchestrator.store.db import Store

    store = Store(url)
    store.upgrade()
    cfg = settings_mod.load(env={}).replace(database_url=url, sip_domain=DOMAIN)
    started = time.perf_counter()
    revisions.publish(store, "bench", "1,000 users", load_org, settings=cfg)
    print(
        f"published {USERS} users in {time.perf_counter() - started:.2f} s "
        "(validation and rendering included)"
    )
    store.dispose()


# --- the server ---------------------------------------------------------------------


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    return sock


def serve(url: str, port: int) -> None:
    from gevent import monkey

    monkey.patch_all()
    import logging

    from gevent.pywsgi import WSGIServer

    from orchestrator import settings as settings_mod
    from orchestrator.config.render import Renderer
    from orchestrator.config.view import ViewCache
    from orchestrator.config.xml_curl import create_xml_curl_app, wsgi_handler_class
    from orchestrator.store.db import Store

    logging.basicConfig(level=logging.WARNING)
    cfg = settings_mod.load(env={}).replace(database_url=url, sip_domain=DOMAIN)
    renderer = Renderer(cfg, ViewCache(Store(url), cfg))
    renderer.warm()
    # What was built so far lives as long as the revision: keep the cyclic
    # garbage collector from walking it again and again.
    gc.freeze()
    app = create_xml_curl_app(cfg, Store(url), renderer)

    server = WSGIServer(
        listening_socket(port),
        app,
        log=None,
        error_log=None,
        handler_class=wsgi_handler_class(),
    )
    print("ready", flush=True)
    server.serve_forever()


# --- the load -------------------------------------------------------------------------


def capture_forms() -> tuple[dict[str, str], dict[str, str]]:
    """A directory form and a dialplan form as FreeSWITCH sends them."""
    default = ROOT.parent / "shared" / "freeswitch-captures"
    folder = Path(os.environ.get("SCHAKEL_CAPTURES_DIR", default))
    directory: dict[str, str] = {}
    dialplan: dict[str, str] = {}
    path = folder / "10-xml-curl-forms" / "xml_curl.jsonl"
    if path.is_file():
        for line in path.read_text().splitlines():
            form = json.loads(line)["form"]
            if form.get("action") == "sip_auth" and not directory:
                directory = form
            if form.get("Hunt-Context") == "public" and not dialplan:
                dialplan = form
    base = {"section": "", "tag_name": "", "key_name": "", "key_value": ""}
    return directory or dict(base), dialplan or dict(base)


def requests(count: int, seed: int) -> list[tuple[bytes, bytes]]:
    """(request bytes, text the answer must hold) for ``count`` random lookups."""
    rnd = random.Random(seed)
    made = []
    for n in range(count):
        i = rnd.randrange(USERS)
        if n % 2 == 0:
            action = rnd.choice(["sip_auth", "user_call", "message-count"])
            made.append(directory_request(i, action))
        else:
            made.append(dialplan_request(i, rnd.randrange(3)))
    return made


def every_request() -> list[tuple[bytes, bytes]]:
    """Each user's directory entry and each number in each form, once."""
    made = [directory_request(i, "sip_auth") for i in range(USERS)]
    made += [dialplan_request(i, form) for i in range(USERS) for form in range(3)]
    return made


_FORMS = capture_forms()


def directory_request(i: int, action: str) -> tuple[bytes, bytes]:
    form = dict(_FORMS[0])
    form.update(
        section="directory",
        tag_name="domain",
        key_name="name",
        key_value=DOMAIN,
        action=action,
        user=str(2000 + i),
        domain=DOMAIN,
    )
    return http_post(form), f'<user id="{2000 + i}"'.encode()


def dialplan_request(i: int, variant: int) -> tuple[bytes, bytes]:
    number = did(i)
    dialled = [number, "0" + number[3:], "00" + number[1:]][variant]
    form = dict(_FORMS[1])
    form.update(
        {
            "section": "dialplan",
            "Hunt-Context": "public",
            "Caller-Context": "public",
            "Hunt-Destination-Number": dialled,
            "Caller-Destination-Number": dialled,
        }
    )
    return http_post(form), f"public:{number}".encode()


def http_post(form: dict[str, str]) -> bytes:
    body = urlencode(form).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def read_response(sock: socket.socket, buf: bytearray) -> tuple[int, bytes]:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end]).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    length = 0
    for line in head.split("\r\n"):
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    while len(buf) < end + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    body = bytes(buf[end : end + length])
    del buf[: end + length]
    return status, body


def load(port: int, clients: int, seconds: float, rate: float) -> None:
    """Load the server and print a JSON report.

    ``rate`` 0: every connection asks again as soon as it has its answer
    (the most the server can do). Otherwise the connections together ask
    ``rate`` times a second on a fixed schedule, and latency counts from
    the moment a request was due, so a stalled server cannot hide behind
    requests it kept from being sent.
    """
    from gevent import monkey

    monkey.patch_all()
    import gevent

    work = requests(4000, 7)
    latencies: list[float] = []
    failures: list[str] = []
    begin = time.perf_counter() + 0.2
    deadline = begin + seconds
    interval = clients / rate if rate else 0.0

    def client(k: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        n = k
        due = begin + k * interval / clients
        gevent.sleep(max(0.0, begin - time.perf_counter()))
        while due < deadline:
            request, expect = work[n % len(work)]
            n += clients
            now = time.perf_counter()
            if interval:
                if due > now:
                    gevent.sleep(due - now)
                started = due
                due += interval
            else:
                started = due = now
            sock.sendall(request)
            status, body = read_response(sock, buf)
            latencies.append(time.perf_counter() - started)
            if status != 200 or expect not in body:
                failures.append(f"{status}: {body[:120]!r}")
        sock.close()

    greenlets = [gevent.spawn(client, k) for k in range(clients)]
    gevent.joinall(greenlets)
    elapsed = time.perf_counter() - begin
    errors = [repr(g.exception) for g in greenlets if g.exception is not None]
    report = {
        "answers": len(latencies),
        "elapsed": elapsed,
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "failures": errors[:3] + failures[:5],
        "failed": len(failures) + len(errors),
    }
    print(json.dumps(report), flush=True)


def warm(port: int) -> None:
    """Ask for every user and every number once: the caches of a revision."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    for request, _expect in every_request():
        sock.sendall(request)
        read_response(sock, buf)
    sock.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--seconds", type=float, default=None, help="per phase")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument(
        "--rate", type=float, default=2000.0, help="answers/s of the latency phase"
    )
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seconds = args.seconds or (6.0 if args.quick else 20.0)
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return 0
    if args.load:
        load(args.load, args.clients, seconds, args.rate)
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        prepare_store(url)
        port = free_port()
        started = time.perf_counter()
        servers = [start_server(url, port) for _ in range(args.servers)]
        for proc in servers:
            wait_ready(proc)
        print(
            f"{args.servers} server process(es) rendered every answer in "
            f"{time.perf_counter() - started:.1f} s"
        )
        try:
            started = time.perf_counter()
            warm(port)
            print(f"caches warmed in {time.perf_counter() - started:.1f} s")
            flat_out = run_load(port, args.clients, seconds, 0.0)
            paced = run_load(port, args.clients, seconds, args.rate)
        finally:
            for proc in servers:
                proc.terminate()
                proc.wait()
    return summarise(flat_out, paced, args)


def start_server(url: str, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc


def wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise SystemExit("the server did not start")


def run_load(port: int, clients: int, seconds: float, rate: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--load", str(port)]
    command += ["--clients", str(clients), "--seconds", str(seconds)]
    command += ["--rate", str(rate)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(
    flat_out: dict[str, Any], paced: dict[str, Any], args: argparse.Namespace
) -> int:
    def rate(report: dict[str, Any]) -> float:
        return round(report["answers"] / report["elapsed"], 1)

    def ms(value: float) -> float:
        return round(value * 1000, 3)

    result = {
        "answers_per_s": rate(flat_out),
        "p50_ms": ms(paced["p50"]),
        "p99_ms": ms(paced["p99"]),
        "paced_rate": rate(paced),
        "flat_out_p50_ms": ms(flat_out["p50"]),
        "flat_out_p99_ms": ms(flat_out["p99"]),
        "failed": flat_out["failed"] + paced["failed"],
        "users": USERS,
        "clients": args.clients,
        "servers": args.servers,
    }
    print(
        f"flat out: {flat_out['answers']} answers in {flat_out['elapsed']:.1f} s "
        f"over {args.clients} connections, {args.servers} server process(es): "
        f"{result['answers_per_s']} answers/s (p50 {result['flat_out_p50_ms']} ms, "
        f"p99 {result['flat_out_p99_ms']} ms: queueing behind {args.clients} "
        "outstanding requests)"
    )
    print(
        f"paced at {args.rate:.0f}/s: {result['paced_rate']} answers/s, "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms"
    )
    for failure in flat_out["failures"] + paced["failures"]:
        print(f"  failed: {failure}")
    print("target: >= 2000 answers/s, p99 < 10 ms at 2000/s")
    print(json.dumps(result))
    return 1 if result["failed"] else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
