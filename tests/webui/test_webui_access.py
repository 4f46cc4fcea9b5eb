"""Every endpoint checks the caller's role; nothing is open by accident."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from webui_helpers import post, sign_in
from werkzeug.routing import Rule

# Open to anybody, on purpose: signing in, the language choice, the health
# and readiness probes for the load balancer, the API's own description,
# static files, and the switch's xml_curl endpoint (which guards itself with
# its own credentials and address list).
PUBLIC = {
    "auth.login",
    "auth.login_post",
    "auth.language",
    "auth.health",
    "auth.ready",
    "api.openapi",
    "auth.entra_start",
    "auth.entra_callback",
    "static",
    "xml_curl.answer",
}

WEBSOCKET = {"Upgrade": "websocket", "Connection": "Upgrade"}


def concrete_url(rule: Rule) -> str:
    """The rule's path with every variable filled in with something plausible."""
    return re.sub(
        r"<(?:(\w+):)?(\w+)>", lambda m: "1" if m.group(1) else "x", rule.rule
    )


def routes(app: Flask) -> Iterator[tuple[Rule, str]]:
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method


def call(client: FlaskClient, rule: Rule, method: str, **kwargs: object) -> int:
    headers = dict(WEBSOCKET) if rule.websocket else {}
    headers.update(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
    response = client.open(concrete_url(rule), method=method, headers=headers, **kwargs)
    return response.status_code


def test_every_endpoint_has_an_access_rule(app: Flask) -> None:
    for endpoint, view in app.view_functions.items():
        marked = getattr(view, "public", False) or hasattr(view, "required_roles")
        opened = endpoint in app.config["PUBLIC_ENDPOINTS"]
        assert marked or opened, f"{endpoint} has no access rule"


def test_the_public_endpoints_are_exactly_the_intended_ones(app: Flask) -> None:
    public = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if getattr(view, "public", False) or endpoint in app.config["PUBLIC_ENDPOINTS"]
    }
    assert public <= PUBLIC, public - PUBLIC


def test_anonymous_callers_are_refused_everywhere_else(
    app: Flask, client: FlaskClient
) -> None:
    checked = 0
    for rule, method in routes(app):
        if rule.endpoint in PUBLIC:
            continue
        status = call(client, rule, method)
        if rule.rule.startswith("/api/"):
            assert status == 401, (method, rule.rule, status)
        else:
            assert status in (302, 401), (method, rule.rule, status)
        checked += 1
    assert checked > 20


ROLE_RULES = [
    # (user name, endpoints whose prefix this user must be refused)
    ("carla", ("live.", "admin.", "api.live", "api.user", "api.revision")),
    ("anna", ("admin.", "api.user", "api.revision")),
    ("beheer", ("me.", "live.", "api.me_", "api.live", "calls.")),
]


@pytest.mark.parametrize(("username", "refused"), ROLE_RULES)
def test_each_role_is_refused_what_it_may_not_use(
    app: Flask, client: FlaskClient, username: str, refused: tuple[str, ...]
) -> None:
    assert sign_in(client, username).status_code == 302
    checked = 0
    for rule, method in routes(app):
        if not rule.endpoint.startswith(refused):
            continue
        status = call(client, rule, method)
        # 403 before anything else: the role check comes before the CSRF check
        # and before the view looks at what it was sent.
        assert status == 403, (username, method, rule.rule, status)
        checked += 1
    assert checked >= 3


def test_a_refused_api_call_says_why_in_json(as_user: FlaskClient) -> None:
    response = as_user.get("/api/v1/users")
    assert response.status_code == 403
    assert response.json == {
        "error": "forbidden",
        "message": "U hebt geen rechten voor deze pagina.",
        "details": {},
    }


def test_a_page_refused_shows_a_dutch_page(as_user: FlaskClient) -> None:
    response = as_user.get("/admin/users")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "U hebt geen rechten voor deze pagina." in response.text
    assert "forbidden" in response.text


def test_a_view_without_a_rule_is_refused(app: Flask, client: FlaskClient) -> None:
    @app.get("/forgotten")
    def forgotten() -> str:
        return "should never be seen"

    sign_in(client, "beheer")
    response = client.get("/forgotten")
    assert response.status_code == 403
    assert "should never be seen" not in response.text


def test_users_may_use_what_their_role_allows(as_supervisor: FlaskClient) -> None:
    # The supervisor is an agent and has a phone: both areas are open.
    assert as_supervisor.get("/live").status_code == 200
    assert as_supervisor.get("/me").status_code == 200
    assert as_supervisor.get("/admin/users").status_code == 403
    assert post(as_supervisor, "/me/dnd", {"dnd": "on"}).status_code == 302
