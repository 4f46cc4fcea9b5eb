"""Liveness and readiness: what a load balancer or an uptime monitor asks."""

from __future__ import annotations

import pytest

from orchestrator import live
from orchestrator.esl.fake import FakeGateway
from orchestrator.store.db import Store
from webui.app import create_app


def ready(settings, store, **parts):
    app = create_app(settings, store=store, **parts)
    app.config["TESTING"] = True
    response = app.test_client().get("/health/ready")
    return response.status_code, response.json


def test_everything_answers(settings, store):
    assert ready(settings, store) == (
        200,
        {"status": "ok", "store": "ok", "live": "ok", "switch": "none"},
    )
    assert ready(settings, store, gateway=FakeGateway())[1]["switch"] == "connected"


def test_a_switch_out_of_reach(settings, store):
    gateway = FakeGateway()
    gateway.connected = False
    status, body = ready(settings, store, gateway=gateway)
    assert (status, body["status"], body["switch"]) == (
        503,
        "unavailable",
        "disconnected",
    )
    assert (body["store"], body["live"]) == ("ok", "ok")


def test_a_store_out_of_reach(settings, free_port):
    store = Store(f"postgresql://schakel@127.0.0.1:{free_port}/schakel")
    try:
        status, body = ready(settings, store)
    finally:
        store.dispose()
    assert (status, body["store"], body["live"]) == (503, "down", "ok")


def test_live_state_out_of_reach(settings, store, free_port):
    unreachable = live.connect(f"redis://127.0.0.1:{free_port}/0")
    status, body = ready(settings, store, live=unreachable)
    assert (status, body["store"], body["live"]) == (503, "ok", "down")


@pytest.mark.parametrize("path", ["/health", "/health/ready"])
def test_no_sign_in_needed(client, path):
    assert client.get(path).status_code in (200, 503)
