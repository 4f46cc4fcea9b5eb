"""The switch restarts under a running orchestrator: nothing crashes, and the
orchestrator drives calls again once the switch is back.

Both run as separate processes, as in production: ``schakel serve`` and
``schakel simulator`` on the same settings. A phone's feature code is a call
the dialplan parks for the orchestrator, so a code that takes effect proves
the orchestrator is back in control of the switch's calls.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.store import models as m
from orchestrator.store.db import Store

pytestmark = pytest.mark.slow

PHONE = "2302"  # bram's desk phone in the demo organisation


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(what: str, test, proc: subprocess.Popen, log: Path, within: float = 60):
    deadline = time.monotonic() + within
    while not test():
        if proc.poll() is not None:
            pytest.fail(f"process ended while waiting for {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} did not happen in {within} s:\n{log.read_text()[-4000:]}"
            )
        time.sleep(0.2)


def _scenario(path: Path, code: str) -> Path:
    path.write_text(
        f"""speed: 1
parties:
  bram: {{phone: "{PHONE}"}}
calls:
  - name: bram dials {code}
    at: 1
    from: bram
    to: "{code}"
    steps:
      - wait: 5
      - hangup: true
""",
        encoding="utf-8",
    )
    return path


def _dnd(store: Store) -> bool:
    with store.session() as session:
        user = session.scalar(
            select(m.User).join(m.Device).where(m.Device.sip_user == PHONE)
        )
        return bool(user.dnd)


def test_orchestrator_survives_a_switch_restart(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'schakel.db'}"
    esl_port, http_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db,
        "REDIS_URL": "memory://",
        "SCHAKEL_ESL_URL": f"esl://:ClueCon@127.0.0.1:{esl_port}",
        "SCHAKEL_HTTP_PORT": str(http_port),
        "PYTHONUNBUFFERED": "1",
    }
    cli = [sys.executable, "-m", "orchestrator.cli"]
    subprocess.run(
        [*cli, "seed"], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    store = Store(db)
    assert not _dnd(store)

    serve_log = tmp_path / "serve.log"
    serve = subprocess.Popen(
        [*cli, "-v", "serve"], env=env, cwd=tmp_path,
        stdout=serve_log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    sims: list[subprocess.Popen] = []

    def simulator(code: str, name: str) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen(
            [*cli, "simulator", "--esl-port", str(esl_port),
             "--xml-curl", f"http://127.0.0.1:{http_port}/freeswitch/xml",
             "--scenario", str(_scenario(tmp_path / f"{name}.yaml", code))],
            env=env, cwd=tmp_path, stdout=log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        sims.append(proc)
        return proc, log

    try:
        _wait_for(
            "the web app",
            lambda: _answers(f"http://127.0.0.1:{http_port}/health"),
            serve,
            serve_log,
        )
        first, _ = simulator("*78", "first")
        _wait_for("do not disturb on", lambda: _dnd(store), serve, serve_log)

        # The switch dies without a word, as a crashed process does.
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        _wait_for(
            "the orchestrator noticing",
            lambda: "reconnecting" in serve_log.read_text(),
            serve,
            serve_log,
        )

        simulator("*79", "second")
        _wait_for("do not disturb off", lambda: not _dnd(store), serve, serve_log)
        assert "(connection 2)" in serve_log.read_text()
        assert serve.poll() is None
        assert "Traceback" not in serve_log.read_text()
    finally:
        for proc in [*sims, serve]:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        store.dispose()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False
