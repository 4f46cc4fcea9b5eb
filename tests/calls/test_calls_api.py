"""The web routes of a user's calls, call list and voicemail."""

from __future__ import annotations

import io
import json
import wave

import pytest
from flask import Flask
from flask.testing import FlaskClient

from orchestrator import live
from orchestrator.calls import api
from orchestrator.calls.directory import UserDirectory
from orchestrator.calls.history import CallHistory
from orchestrator.calls.presence import PresenceTracker
from orchestrator.calls.runtime import features_of
from orchestrator.esl.errors import NotConnected
from orchestrator.esl.fake import FakeGateway
from webui.app import create_app

CALLER = "06ff8061-06da-465e-833e-e565e01c8688"
ANNA = "cbc748a5-d4e8-4f36-a299-078d8b53d46f"
TOKEN = "test-csrf-token"


@pytest.fixture
def gateway() -> FakeGateway:
    gateway = FakeGateway()
    gateway.add_channel(CALLER)
    gateway.add_channel(ANNA)
    gateway.reply("uuid_dump", lambda line: "{}")
    return gateway


@pytest.fixture
def app(settings, store, users, gateway, capture) -> Flask:
    client = live.connect(settings.redis_url)
    app = create_app(settings, store=store, live=client, gateway=gateway)
    if "calls" not in app.blueprints:
        app.register_blueprint(api.blueprint)
    app.config["TESTING"] = True
    # anna's phone answered an external call.
    tracker = PresenceTracker(client, UserDirectory(store))
    events = capture("03-basic-bridge")
    bridge = next(i for i, e in enumerate(events) if e.name == "CHANNEL_BRIDGE")
    for event in events[: bridge + 1]:
        tracker.handle(event)
    return app


@pytest.fixture
def features(app):
    found = features_of(app.extensions["schakel"])
    found.calls.spawn = lambda work: None  # the consultation rings for ever
    return found


def signed_in(app: Flask, user_id: int) -> FlaskClient:
    client = app.test_client()
    with client.session_transaction() as session:
        session["uid"] = user_id
        session["csrf"] = TOKEN
    return client


def post(client: FlaskClient, path: str, body: dict | None = None):
    return client.post(
        path,
        data=json.dumps(body or {}),
        content_type="application/json",
        headers={"X-CSRF-Token": TOKEN},
    )


def test_signed_in_users_only(app):
    response = app.test_client().get("/api/v1/calls")
    assert response.status_code == 401
    assert response.get_json()["error"] == "not-signed-in"


def test_my_calls(app, users, features):
    response = signed_in(app, users["anna"]).get("/api/v1/calls")
    assert response.status_code == 200
    (call,) = response.get_json()["calls"]
    assert (call["uuid"], call["state"], call["other"]) == (ANNA, "active", CALLER)
    assert call["other_number"] == "+31201234567"


def test_hold_needs_the_csrf_token(app, users, features, gateway):
    client = signed_in(app, users["anna"])
    response = client.post(f"/api/v1/calls/{ANNA}/hold")
    assert response.status_code == 403
    assert gateway.lines("uuid_hold") == []

    response = post(client, f"/api/v1/calls/{ANNA}/hold")
    assert response.status_code == 200
    assert gateway.lines("uuid_hold") == [f"uuid_hold {ANNA}"]


def test_someone_elses_call_is_not_found_in_their_language(app, users, features):
    response = post(signed_in(app, users["bram"]), f"/api/v1/calls/{ANNA}/hold")
    assert response.status_code == 404
    assert response.get_json() == {
        "error": "call-not-found",
        "message": "Dit gesprek bestaat niet (meer).",
        "details": {"uuid": ANNA},
    }
    response = post(signed_in(app, users["carla"]), f"/api/v1/calls/{ANNA}/hold")
    assert response.get_json()["message"] == "This call does not exist (any more)."


def test_transfer_input_is_checked(app, users, features, gateway):
    client = signed_in(app, users["anna"])
    response = post(client, f"/api/v1/calls/{ANNA}/transfer", {"destination": "x1"})
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid-destination"
    response = post(client, f"/api/v1/calls/{ANNA}/transfer", {})
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid-input"
    assert gateway.lines("uuid_transfer") == []


def test_blind_transfer(app, users, features, gateway):
    client = signed_in(app, users["anna"])
    response = post(client, f"/api/v1/calls/{ANNA}/transfer", {"destination": "2002"})
    assert response.status_code == 202
    assert response.get_json()["caller"] == CALLER
    assert gateway.lines("uuid_transfer") == [
        f"uuid_transfer {CALLER} 2002 XML default"
    ]


def test_attended_transfer_and_its_state(app, users, features, gateway):
    client = signed_in(app, users["anna"])
    response = post(
        client, f"/api/v1/calls/{ANNA}/attended-transfer", {"destination": "2002"}
    )
    assert response.status_code == 202
    assert response.get_json()["state"] == "ringing"

    response = post(client, f"/api/v1/calls/{ANNA}/complete-transfer")
    assert response.status_code == 409
    assert response.get_json()["error"] == "transfer-not-allowed"
    assert response.get_json()["details"]["state"] == "ringing"

    response = post(client, f"/api/v1/calls/{ANNA}/cancel-transfer")
    assert response.status_code == 200
    assert response.get_json()["state"] == "cancelled"
    state = client.get(f"/api/v1/calls/{ANNA}/attended-transfer").get_json()
    assert state["state"] == "cancelled"


def test_switch_unavailable(app, users, features, gateway):
    def down(line: str) -> str:
        raise NotConnected("switch gone")

    gateway.reply("uuid_getvar", down)
    response = post(signed_in(app, users["anna"]), f"/api/v1/calls/{ANNA}/hold")
    assert response.status_code == 503
    assert response.get_json()["error"] == "switch-unavailable"
    assert "Er is niets veranderd" in response.get_json()["message"]


def test_call_history(app, users, features, capture):
    history = CallHistory(features.writer)
    for event in capture("03-basic-bridge") + capture("04-no-answer-fallback"):
        history.handle(event)
    features.writer.flush()
    client = signed_in(app, users["anna"])

    calls = client.get("/api/v1/calls/history").get_json()["calls"]
    assert sorted(c["kind"] for c in calls) == ["answered", "missed", "missed"]
    missed = client.get("/api/v1/calls/history?kind=missed&limit=1").get_json()
    assert len(missed["calls"]) == 1
    assert missed["calls"][0]["number"] == "+31201234567"
    response = client.get("/api/v1/calls/history?kind=lost")
    assert response.status_code == 422
    assert client.get("/api/v1/calls/history?limit=-3").status_code == 422


def test_presence(app, users, features):
    features.presence.recompute("anna")
    response = signed_in(app, users["bram"]).get("/api/v1/presence")
    assert response.get_json()["presence"]["anna"] == "busy"


def wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(b"\x01\x00" * int(8000 * seconds))
    return out.getvalue()


def test_greeting_upload_larger_than_a_form(app, users, features, gateway):
    gateway.reply("vm_fsdb_pref_greeting_set", "-OK\n")
    client = signed_in(app, users["anna"])
    assert client.get("/api/v1/voicemail/greeting").status_code == 404
    greeting = wav(6.0)
    assert len(greeting) > 64 * 1024

    response = client.put(
        "/api/v1/voicemail/greeting",
        data=greeting,
        content_type="audio/wav",
        headers={"X-CSRF-Token": TOKEN},
    )

    assert response.status_code == 204
    assert client.get("/api/v1/voicemail/greeting").data == greeting
    response = client.put(
        "/api/v1/voicemail/greeting",
        data=b"not audio",
        content_type="audio/wav",
        headers={"X-CSRF-Token": TOKEN},
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == "voicemail-greeting-invalid"


def test_voicemail_messages(app, users, features, gateway, captures_dir, settings):
    from orchestrator.esl.events import decode_json

    lines = (captures_dir / "09-voicemail" / "events.jsonl").read_bytes().splitlines()
    for line in lines:
        features.voicemail.handle(decode_json(line))
    features.writer.flush()
    client = signed_in(app, users["anna"])

    (message,) = client.get("/api/v1/voicemail").get_json()["messages"]
    assert message["caller_number"] == "+31201234567"
    assert client.get(f"/api/v1/voicemail/{message['id']}/audio").status_code == 404
    response = post(client, f"/api/v1/voicemail/{message['id']}/heard", {"heard": True})
    assert response.status_code == 200
    assert (
        signed_in(app, users["bram"])
        .delete(f"/api/v1/voicemail/{message['id']}", headers={"X-CSRF-Token": TOKEN})
        .status_code
        == 404
    )
    response = client.delete(
        f"/api/v1/voicemail/{message['id']}", headers={"X-CSRF-Token": TOKEN}
    )
    assert response.status_code == 204
    assert client.get("/api/v1/voicemail").get_json()["messages"] == []
