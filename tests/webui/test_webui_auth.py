"""Signing in and out with local accounts."""

from __future__ import annotations

from flask.testing import FlaskClient
from webui_helpers import csrf_of, post, sign_in

from orchestrator.store import models as m
from orchestrator.store.db import Store
from webui import ratelimit


def test_sign_in_sends_each_role_to_its_start_page(client: FlaskClient) -> None:
    expected = {
        "carla": "/me",
        "anna": "/live",
        "supervisor": "/live",
        "beheer": "/admin/users",
    }
    for username, start in expected.items():
        response = sign_in(client, username)
        assert response.status_code == 302
        assert response.headers["Location"] == start
        post(client, "/logout")


def test_wrong_password_and_unknown_user_look_the_same(client: FlaskClient) -> None:
    wrong = sign_in(client, "carla", "not-the-password")
    unknown = sign_in(client, "nobody-here", "not-the-password")

    assert wrong.status_code == unknown.status_code == 401
    assert "De gebruikersnaam of het wachtwoord klopt niet." in wrong.text
    assert "De gebruikersnaam of het wachtwoord klopt niet." in unknown.text
    assert client.get("/me").status_code == 302


def test_user_names_are_not_case_sensitive(client: FlaskClient) -> None:
    assert sign_in(client, "Carla").headers["Location"] == "/me"


def test_account_without_password_cannot_sign_in_locally(
    client: FlaskClient, store: Store
) -> None:
    # Staff who sign in through Entra ID have no local password.
    assert sign_in(client, "daan", "").status_code == 401
    with store.session() as db:
        assert db.query(m.User).filter_by(username="daan").one().password_hash is None


def test_inactive_account_cannot_sign_in(client: FlaskClient, store: Store) -> None:
    with store.session() as db:
        db.query(m.User).filter_by(username="carla").one().active = False
    assert sign_in(client, "carla").status_code == 401


def test_deactivated_account_loses_its_session(
    client: FlaskClient, store: Store
) -> None:
    sign_in(client, "carla")
    assert client.get("/me").status_code == 200

    with store.session() as db:
        db.query(m.User).filter_by(username="carla").one().active = False

    assert client.get("/me").status_code == 302


def test_sign_in_is_rate_limited_per_account(client: FlaskClient) -> None:
    for _ in range(ratelimit.PER_ACCOUNT.attempts):
        assert sign_in(client, "carla", "guess").status_code == 401

    refused = sign_in(client, "carla", "schakel-demo")

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get("/me").status_code == 302


def test_rate_limit_answers_json_to_api_clients(client: FlaskClient) -> None:
    for _ in range(ratelimit.PER_ACCOUNT.attempts):
        sign_in(client, "carla", "guess")
    response = client.post(
        "/login",
        data={"username": "carla", "password": "x", "csrf_token": csrf_of(client)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 429
    assert response.json["error"] == "too-many-attempts"
    assert response.json["details"]["retry_after"] > 0


def test_success_clears_the_account_counter(client: FlaskClient) -> None:
    for _ in range(ratelimit.PER_ACCOUNT.attempts - 1):
        sign_in(client, "carla", "guess")
    assert sign_in(client, "carla").status_code == 302
    post(client, "/logout")
    for _ in range(ratelimit.PER_ACCOUNT.attempts - 1):
        sign_in(client, "carla", "guess")
    assert sign_in(client, "carla").status_code == 302


def test_signing_in_starts_a_new_session(client: FlaskClient) -> None:
    before = csrf_of(client)
    sign_in(client, "carla")
    after = csrf_of(client)
    assert before != after


def test_next_leads_back_only_to_this_site(client: FlaskClient) -> None:
    token = csrf_of(client)
    for target, expected in [
        ("/me/calls", "/me/calls"),
        ("https://evil.example/", "/me"),
        ("//evil.example/x", "/me"),
        ("/\\evil.example", "/me"),
        ("javascript:alert(1)", "/me"),
    ]:
        response = client.post(
            "/login",
            data={
                "username": "carla",
                "password": "schakel-demo",
                "next": target,
                "csrf_token": token,
            },
        )
        assert response.headers["Location"] == expected, target
        post(client, "/logout")
        token = csrf_of(client)


def test_a_protected_page_sends_you_to_sign_in_and_back(client: FlaskClient) -> None:
    response = client.get("/me/calls?filter=missed")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")

    page = client.get(response.headers["Location"])
    assert 'value="/me/calls?filter=missed"' in page.text


def test_sign_out_needs_post_with_token(client: FlaskClient) -> None:
    sign_in(client, "carla")

    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 403
    assert client.get("/me").status_code == 200

    assert post(client, "/logout").status_code == 302
    assert client.get("/me").status_code == 302


def test_session_cookie_is_http_only_and_same_site(client: FlaskClient) -> None:
    response = sign_in(client, "carla")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
