"""``schakel demo`` starts on the embedded defaults and its calls move.

The demo is run as a newcomer runs it: a separate process on SQLite with the
simulator, watched from outside over its Event Socket like any ESL client.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _read_until(sock: socket.socket, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not seen; got {seen[-2000:]!r}")
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("the switch closed the Event Socket")
        seen += chunk
    return seen


@pytest.fixture
def demo(tmp_path: Path, free_port: int):
    esl_port = free_port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http_port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "REDIS_URL": "memory://",
        "SCHAKEL_ESL_URL": f"esl://:ClueCon@127.0.0.1:{esl_port}",
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "demo.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "demo", "--port", str(http_port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while "Schakel demo draait op" not in (tmp_path / "demo.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "demo did not start:\n" + (tmp_path / "demo.log").read_text()
                )
            time.sleep(0.2)
        yield http_port, esl_port, tmp_path / "demo.log"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_demo_prints_logins_and_serves_the_web_app(demo) -> None:
    http_port, _esl_port, log = demo
    text = log.read_text()
    assert f"http://127.0.0.1:{http_port}" in text
    assert "beheer" in text and "schakel-demo" in text

    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/login") as answer:
        assert answer.status == 200
        assert "Inloggen" in answer.read().decode()


def test_demo_calls_move_on_the_event_socket(demo) -> None:
    _http_port, esl_port, _log = demo
    deadline = time.monotonic() + 60
    with socket.create_connection(("127.0.0.1", esl_port), timeout=10) as sock:
        _read_until(sock, b"auth/request", deadline)
        sock.sendall(b"auth ClueCon\n\n")
        _read_until(sock, b"+OK accepted", deadline)
        sock.sendall(b"event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP\n\n")
        seen = _read_until(sock, b"Event-Name: CHANNEL_ANSWER", deadline)
    assert b"Event-Name: CHANNEL_CREATE" in seen


def test_demo_calls_show_in_the_web_app(demo) -> None:
    """What a supervisor's live page starts from: the calls of the moment."""
    import http.cookiejar
    import json
    import re
    import urllib.parse

    http_port, _esl_port, log = demo
    base = f"http://127.0.0.1:{http_port}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    form = {"csrf_token": token, "username": "supervisor", "password": "schakel-demo"}
    opener.open(base + "/login", urllib.parse.urlencode(form).encode()).read()

    deadline = time.monotonic() + 60
    calls: list = []
    while not calls:
        if time.monotonic() > deadline:
            pytest.fail("no call on the live page in 60 s:\n" + log.read_text()[-3000:])
        time.sleep(1)
        calls = json.loads(opener.open(base + "/api/v1/live").read())["calls"]
    call = calls[0]
    assert call["state"] in {"ringing", "dialing", "early", "active", "held"}
    assert call["from_label"] and call["to_shown"]
