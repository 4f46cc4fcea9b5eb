"""Signing in with Microsoft Entra ID, msal answered at its HTTP seam."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from orchestrator import settings as settings_mod
from orchestrator.store import models as m
from orchestrator.store.db import Store
from webui.app import create_app

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
AUTHORITY = f"https://login.microsoftonline.com/{TENANT}"


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Answer:
    status_code: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


@dataclass
class FakeEntra:
    """Answers msal's requests as Entra ID's v2.0 endpoints would."""

    claims: dict[str, Any] = field(default_factory=dict)
    token_error: str | None = None
    nonce: str = ""
    requests: list[tuple[str, str, Any]] = field(default_factory=list)

    def get(
        self, url: str, params: Any = None, headers: Any = None, **_: Any
    ) -> Answer:
        self.requests.append(("GET", url, params))
        if url.endswith("/.well-known/openid-configuration"):
            return Answer(200, json.dumps(self._discovery()))
        return Answer(404, "{}")

    def post(
        self,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        **_: Any,
    ) -> Answer:
        self.requests.append(("POST", url, data))
        if not url.endswith("/oauth2/v2.0/token"):
            return Answer(404, "{}")
        if self.token_error:
            body = {"error": self.token_error, "error_description": "AADSTS70000"}
            return Answer(400, json.dumps(body))
        return Answer(200, json.dumps(self._tokens()))

    def close(self) -> None:
        pass

    def _discovery(self) -> dict[str, Any]:
        return {
            "issuer": f"{AUTHORITY}/v2.0",
            "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
            "token_endpoint": f"{AUTHORITY}/oauth2/v2.0/token",
            "jwks_uri": f"{AUTHORITY}/discovery/v2.0/keys",
        }

    def _tokens(self) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": f"{AUTHORITY}/v2.0",
            "aud": CLIENT,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "nonce": self.nonce,
            "tid": TENANT,
            "oid": "0b0b0b0b-0000-0000-0000-000000000001",
            "name": "Carla",
            "preferred_username": "carla@voorbeeldstad.nl",
        } | self.claims
        id_token = f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.c2ln"
        return {
            "token_type": "Bearer",
            "scope": "openid profile email",
            "expires_in": 3600,
            "access_token": "access-token",
            "id_token": id_token,
            "client_info": _b64({"uid": claims["oid"], "utid": TENANT}),
        }


@pytest.fixture
def entra() -> FakeEntra:
    return FakeEntra()


@pytest.fixture
def entra_app(settings: settings_mod.Settings, store: Store, entra: FakeEntra) -> Flask:
    configured = settings.replace(
        entra_tenant_id=TENANT,
        entra_client_id=CLIENT,
        entra_client_secret="client-secret",
        public_url="https://telefonie.example.nl",
    )
    app = create_app(configured, store=store)
    app.extensions["schakel"].entra.http_client = entra
    return app


def _start(client: FlaskClient, entra: FakeEntra) -> dict[str, str]:
    response = client.get("/login/entra?next=/me/calls")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{AUTHORITY}/oauth2/v2.0/authorize"
    )
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    entra.nonce = query.get("nonce", "")
    return query


def test_login_page_offers_microsoft_when_configured(
    entra_app: Flask, client: FlaskClient
) -> None:
    assert 'id="entra"' not in client.get("/login").text
    assert 'id="entra"' in entra_app.test_client().get("/login").text


def test_sign_in_links_the_account_by_mail_and_redirects(
    entra_app: Flask, entra: FakeEntra, store: Store
) -> None:
    client = entra_app.test_client()
    query = _start(client, entra)

    assert query["client_id"] == CLIENT
    assert query["redirect_uri"] == "https://telefonie.example.nl/login/entra/callback"
    assert query["code_challenge_method"] == "S256"
    assert query["response_type"] == "code"

    response = client.get(
        "/login/entra/callback",
        query_string={"code": "the-code", "state": query["state"]},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/me/calls"
    assert client.get("/me").status_code == 200
    token_request = next(r for r in entra.requests if r[0] == "POST")
    assert token_request[2]["code"] == "the-code"
    assert token_request[2]["client_secret"] == "client-secret"
    assert token_request[2]["code_verifier"]
    with store.session() as db:
        carla = db.scalar(select(m.User).where(m.User.username == "carla"))
        assert carla.entra_object_id == "0b0b0b0b-0000-0000-0000-000000000001"
        assert db.scalar(
            select(m.EventLog).where(m.EventLog.kind == "auth.entra.linked")
        )


def test_a_linked_account_is_found_by_object_id(
    entra_app: Flask, entra: FakeEntra, store: Store
) -> None:
    with store.session() as db:
        anna = db.scalar(select(m.User).where(m.User.username == "anna"))
        anna.entra_object_id = "0b0b0b0b-0000-0000-0000-000000000002"
    entra.claims = {
        "oid": "0b0b0b0b-0000-0000-0000-000000000002",
        "preferred_username": "a.someone@elsewhere.example",
    }
    client = entra_app.test_client()
    query = _start(client, entra)
    client.get(
        "/login/entra/callback", query_string={"code": "c", "state": query["state"]}
    )
    assert client.get("/live").status_code == 200


def test_unknown_person_is_refused(entra_app: Flask, entra: FakeEntra) -> None:
    entra.claims = {"oid": "ffff", "preferred_username": "stranger@example.org"}
    client = entra_app.test_client()
    query = _start(client, entra)
    response = client.get(
        "/login/entra/callback", query_string={"code": "c", "state": query["state"]}
    )
    assert response.status_code == 403
    assert "Uw account is niet bekend in het telefoniesysteem." in response.text
    assert client.get("/me").status_code == 302


def test_another_tenant_is_refused(entra_app: Flask, entra: FakeEntra) -> None:
    entra.claims = {"tid": "99999999-0000-0000-0000-000000000000"}
    client = entra_app.test_client()
    query = _start(client, entra)
    response = client.get(
        "/login/entra/callback", query_string={"code": "c", "state": query["state"]}
    )
    assert response.status_code == 502
    assert client.get("/me").status_code == 302


def test_forged_state_is_refused(entra_app: Flask, entra: FakeEntra) -> None:
    client = entra_app.test_client()
    _start(client, entra)
    response = client.get(
        "/login/entra/callback", query_string={"code": "c", "state": "forged"}
    )
    assert response.status_code == 502
    assert not [r for r in entra.requests if r[0] == "POST"]


def test_callback_without_a_started_sign_in(entra_app: Flask) -> None:
    client = entra_app.test_client()
    response = client.get("/login/entra/callback?code=c&state=s")
    assert response.status_code == 502
    assert "Inloggen met Microsoft is niet gelukt." in response.text


def test_code_refused_by_entra(entra_app: Flask, entra: FakeEntra) -> None:
    entra.token_error = "invalid_grant"
    client = entra_app.test_client()
    query = _start(client, entra)
    response = client.get(
        "/login/entra/callback",
        query_string={"code": "c", "state": query["state"]},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 502
    assert response.json["details"] == {"reason": "invalid_grant"}


def test_a_flow_can_be_used_once(entra_app: Flask, entra: FakeEntra) -> None:
    client = entra_app.test_client()
    query = _start(client, entra)
    args = {"code": "c", "state": query["state"]}
    assert client.get("/login/entra/callback", query_string=args).status_code == 302
    # Replaying the same answer gets nowhere, in this browser or another.
    assert client.get("/login/entra/callback", query_string=args).status_code == 502
    other = entra_app.test_client()
    assert other.get("/login/entra/callback", query_string=args).status_code == 502
    assert other.get("/me").status_code == 302


def test_without_settings_microsoft_is_unavailable(client: FlaskClient) -> None:
    response = client.get("/login/entra")
    assert response.status_code == 503
    assert "Inloggen met Microsoft is niet ingesteld." in response.text
