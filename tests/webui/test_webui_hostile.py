"""Hostile requests: forged forms, script in names, huge bodies, odd paths."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from test_webui_access import concrete_url, routes
from webui_helpers import csrf_of, post, sign_in, user_id

from orchestrator import settings as settings_mod
from orchestrator.store import models as m
from orchestrator.store.db import Store
from webui.app import MAX_BODY

SCRIPT = '<script>alert("x")</script>'


def test_every_changing_request_needs_the_csrf_token(
    app: Flask, client: FlaskClient, store: Store
) -> None:
    # A user with every role, so that no role check stands in the way.
    with store.session() as db:
        db.query(m.User).filter_by(username="supervisor").one().roles = [
            "admin",
            "supervisor",
            "agent",
            "user",
        ]
    sign_in(client, "supervisor")
    exempt = app.config["CSRF_EXEMPT_ENDPOINTS"]
    checked = 0
    for rule, method in routes(app):
        if method == "GET" or rule.endpoint in exempt:
            continue
        url = concrete_url(rule)
        missing = client.open(url, method=method, data={"x": "1"})
        forged = client.open(
            url, method=method, data={"csrf_token": "forged"}, headers={}
        )
        assert missing.status_code == 403, (method, url)
        assert forged.status_code == 403, (method, url)
        checked += 1
    assert checked > 10


def test_csrf_refusal_explains_itself(as_user: FlaskClient) -> None:
    response = as_user.post("/me/dnd", data={"dnd": "on"})
    assert response.status_code == 403
    assert "Het formulier is verlopen of kwam niet van deze site." in response.text

    api = as_user.put("/api/v1/me/dnd", json={"dnd": True})
    assert api.json["error"] == "csrf-token-invalid"


def test_the_api_accepts_the_token_in_a_header(as_user: FlaskClient) -> None:
    token = as_user.get("/api/v1/me").json["csrf_token"]
    response = as_user.put(
        "/api/v1/me/dnd", json={"dnd": True}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 200
    assert as_user.get("/api/v1/me").json["dnd"] is True


def test_script_in_a_name_is_shown_as_text(as_admin: FlaskClient, store: Store) -> None:
    carla = user_id(store, "carla")
    response = post(
        as_admin,
        f"/admin/users/{carla}",
        {"name": SCRIPT, "roles": ["user"], "active": "on"},
    )
    assert response.status_code == 302

    listing = as_admin.get("/admin/users")
    assert SCRIPT not in listing.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in listing.text


def test_script_in_a_callers_name_is_shown_as_text(
    as_user: FlaskClient, store: Store
) -> None:
    import datetime as dt

    with store.session() as db:
        db.add(
            m.CallRecord(
                call_uuid="c-1",
                user_id=user_id(store, "carla"),
                direction="in",
                result="missed",
                caller_number="+31612345678",
                caller_name=SCRIPT,
                started_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
            )
        )
    page = as_user.get("/me/calls")
    assert SCRIPT not in page.text
    assert "&lt;script&gt;" in page.text


def test_pages_carry_the_security_headers(client: FlaskClient) -> None:
    headers = client.get("/login").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_script(as_supervisor: FlaskClient) -> None:
    for url in ("/me", "/me/calls", "/me/voicemail", "/live"):
        text = as_supervisor.get(url).text
        assert "<script>" not in text, url
        assert " on" + "click=" not in text, url


def test_signed_in_pages_are_not_cached(as_user: FlaskClient) -> None:
    assert as_user.get("/me").headers["Cache-Control"] == "no-store"


def test_oversized_bodies_are_refused(as_user: FlaskClient) -> None:
    big = "x" * (MAX_BODY + 1)
    page = as_user.post("/me/dnd", data={"dnd": big, "csrf_token": csrf_of(as_user)})
    assert page.status_code == 413
    assert "Wat u verstuurde is te groot." in page.text

    api = as_user.put(
        "/api/v1/me/dnd",
        data=big,
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf_of(as_user)},
    )
    assert api.status_code == 413
    assert api.json["error"] == "request-too-large"


def test_static_files_stay_inside_the_static_directory(client: FlaskClient) -> None:
    assert client.get("/static/schakel.css").status_code == 200
    for path in (
        "/static/../app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static//etc/passwd",
    ):
        # Werkzeug first merges double slashes with a redirect.
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 404, path
        assert "import" not in response.text
        assert "root:" not in response.text


def _voicemail(store: Store, username: str, path: str) -> int:
    with store.session() as db:
        message = m.VoicemailMessage(
            user_id=user_id(store, username), caller_number="+31612345678", path=path
        )
        db.add(message)
        db.flush()
        return message.id


def test_voicemail_files_stay_inside_the_voicemail_directory(
    as_user: FlaskClient, store: Store, settings: settings_mod.Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for you")
    escape = _voicemail(store, "carla", "../secret.txt")
    absolute = _voicemail(store, "carla", str(secret))

    assert as_user.get(f"/me/voicemail/{escape}/audio").status_code == 404
    assert as_user.get(f"/me/voicemail/{absolute}/audio").status_code == 404


def test_voicemail_of_somebody_else_is_not_found(
    as_user: FlaskClient, store: Store, settings: settings_mod.Settings
) -> None:
    box = Path(settings.voicemail_dir) / "2301"
    box.mkdir(parents=True)
    (box / "msg.wav").write_bytes(b"RIFF....WAVE")
    mine = _voicemail(store, "carla", "2301/msg.wav")
    theirs = _voicemail(store, "anna", "2301/msg.wav")

    assert as_user.get(f"/me/voicemail/{mine}/audio").data == b"RIFF....WAVE"
    assert as_user.get(f"/me/voicemail/{theirs}/audio").status_code == 404
    assert post(as_user, f"/me/voicemail/{theirs}/delete").status_code == 404
    with store.session() as db:
        assert db.get(m.VoicemailMessage, theirs) is not None


def test_unknown_pages_get_the_dutch_error_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Deze pagina bestaat niet." in response.text
    api = client.get("/api/v1/nothing")
    assert api.json == {
        "error": "not-found",
        "message": "Deze pagina bestaat niet.",
        "details": {},
    }


def test_a_crash_shows_no_traceback(app: Flask, client: FlaskClient) -> None:
    from webui.security import public

    @app.get("/api/v1/crash")
    @public
    def crash() -> str:
        raise RuntimeError("secret internals")

    response = client.get("/api/v1/crash")
    assert response.status_code == 500
    assert response.json["error"] == "internal-error"
    assert "secret internals" not in response.text


def test_websocket_from_another_site_is_refused(as_agent: FlaskClient) -> None:
    response = as_agent.get(
        "/ws/live",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Origin": "https://evil.example",
        },
    )
    assert response.status_code == 403
