"""Fixtures: a stub switch behind the simulator's event socket, and a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eslstub import PASSWORD, StubSwitch

from orchestrator.esl import Backoff, EslClient
from simulator.esl_server import EslServer


@pytest.fixture
def switch() -> StubSwitch:
    return StubSwitch()


@pytest.fixture
def server(switch: StubSwitch) -> Iterator[EslServer]:
    server = EslServer(switch, password=PASSWORD, port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(server: EslServer) -> Iterator[EslClient]:
    host, port = server.address
    client = EslClient(
        host,
        port,
        PASSWORD,
        connect_timeout=2.0,
        command_timeout=2.0,
        backoff=Backoff(initial=0.02, maximum=0.2),
    )
    yield client
    client.stop()
