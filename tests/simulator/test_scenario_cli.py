"""``schakel simulator``: a process that serves the Event Socket and plays a
scenario file, watched here by a plain Event Socket client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.scenario import ScenarioFileError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """
speed: 20
calls:
  - name: menu caller
    at: 30
    from: "0201234567"
    to: "3400"
    steps:
      - wait_for: PLAYBACK_STOP
      - press: "42#"
      - wait_for: CHANNEL_PARK
      - wait: 1
      - hangup: true
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_until(sock: socket.socket, marker: bytes, limit: float) -> bytes:
    data = b""
    deadline = time.monotonic() + limit
    while marker not in data and time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_the_process_plays_a_scenario_on_the_event_socket(tmp_path, captures_dir):
    folder = tmp_path / "xml"
    folder.mkdir()
    dialplan = captures_dir / "06-dtmf-ivr" / "xmlcurl" / "dialplan.public.xml"
    (folder / "dialplan.public.xml").write_text(dialplan.read_text())
    scenario = tmp_path / "menu.yaml"
    scenario.write_text(SCENARIO)
    port = free_port()
    command = [sys.executable, "-m", "orchestrator.cli", "simulator",
               "--xml-curl", str(folder), "--scenario", str(scenario),
               "--esl-port", str(port)]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "event socket listening" in line:
                break
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            assert read_until(conn, b"\n\n", 5) == b"Content-Type: auth/request\n\n"
            conn.sendall(b"auth ClueCon\n\n")
            assert b"+OK accepted" in read_until(conn, b"\n\n", 5)
            conn.sendall(b"event plain CHANNEL_PARK CHANNEL_HANGUP_COMPLETE\n\n")
            stream = read_until(conn, b"Event-Name: CHANNEL_HANGUP_COMPLETE", 20)
        assert b"Event-Name: CHANNEL_PARK" in stream
        assert b"variable_capture_digits: 42" in stream
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


def test_bad_arguments_exit_with_2(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("calls: [{from: x}]")
    command = [sys.executable, "-m", "orchestrator.cli", "simulator",
               "--xml-curl", str(tmp_path), "--scenario", str(broken),
               "--esl-port", str(free_port())]  # fmt: skip
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "calls[0]: needs from and to" in result.stderr


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a mapping"),
        ({"calls": [{"from": "1", "to": "2", "stepz": []}]}, "unknown stepz"),
        ({"parties": {"x": {"phone": "1", "mobile": "2"}}}, "exactly one of"),
        ({"parties": {"x": {"phone": "1", "gateway": "t"}}}, "unknown gateway"),
        ({"calls": [{"from": "1", "to": "2", "steps": [{"press": "1", "hangup": 1}]}]},
         "exactly one of wait"),
        ({"calls": [{"from": "1", "to": "2", "at": -1}]}, "at must be seconds"),
        ({"speed": 0}, "speed must be positive"),
    ],
)  # fmt: skip
def test_scenario_files_are_checked(data, message):
    with pytest.raises(ScenarioFileError, match=message):
        parse_scenario(data, "test.yaml")


def test_the_example_scenario_is_valid():
    script = load_scenario(ROOT / "scripts" / "scenarios" / "demo-morning.yaml")
    assert {p.kind for p in script.parties} == {"agent", "phone", "mobile"}
    assert script.calls[3].every == 45 and script.calls[3].count == 10


def test_the_tour_scenario_is_valid():
    script = load_scenario(ROOT / "scripts" / "scenarios" / "tour.yaml")
    assert [c.destination for c in script.calls] == ["0317492800", "0317492311"]
    assert all(c.count == 0 and c.every for c in script.calls)


def test_a_call_from_a_mobile_party_comes_in_with_its_number():
    from simulator.scenario import Simulation, run_scenario

    script = parse_scenario(
        {
            "speed": 50,
            "parties": {"piet": {"mobile": "+31612345678"}},
            "calls": [{"name": "piet calls", "at": 0, "from": "piet", "to": "3400"}],
        }
    )
    with Simulation(strict=False) as sim:
        run_scenario(sim, script)
        sim.wait(1)
        (call,) = sim.calls
        assert call.channel.profile.caller_id_number == "+31612345678"
