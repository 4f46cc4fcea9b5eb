"""Helpers for the web app tests: CSRF tokens, signing in, form posts."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from orchestrator.store import models as m
from orchestrator.store.db import Store
from orchestrator.store.seed import DEMO_PASSWORD

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        token = session.get("csrf")
    if token is None:
        page = client.get("/login")
        match = CSRF_INPUT.search(page.text)
        assert match, "no CSRF token on the sign-in page"
        token = match.group(1)
    return str(token)


def sign_in(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> Any:
    token = csrf_of(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
    )


def post(client: FlaskClient, url: str, data: dict[str, Any] | None = None) -> Any:
    """A form POST with the session's CSRF token, as the pages send it."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_of(client)})


def user_id(store: Store, username: str) -> int:
    with store.session() as db:
        return db.query(m.User).filter_by(username=username).one().id
