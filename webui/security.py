"""Who may do what: the signed-in user, role checks, CSRF tokens, headers.

Access is denied by default. Every view is marked either :func:`public` or
:func:`requires` with the roles that may use it, and one ``before_request``
hook enforces the mark; a view that carries neither mark is refused, so that
forgetting a decorator closes a door instead of opening one.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request, session
from sqlalchemy import select

from orchestrator.store import models as m
from webui import errors

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self' https://login.microsoftonline.com",
        "frame-ancestors 'none'",
    ]
)


def requires(*roles: str) -> Callable[[F], F]:
    """Let only signed-in users who hold one of ``roles`` use the view.

    With no roles, any signed-in user may.
    """

    def mark(view: F) -> F:
        view.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Let anybody use the view, signed in or not."""
    view.public = True  # type: ignore[attr-defined]
    return view


def csrf_exempt(view: F) -> F:
    """For machine endpoints that carry no session (the switch's xml_curl)."""
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


def current_user() -> m.User | None:
    return g.get("user")


def user_or_fail() -> m.User:
    user = current_user()
    if user is None:
        raise errors.NotSignedIn()
    return user


def sign_in(user: m.User) -> None:
    """Start a fresh session for ``user``: nothing of the old one carries over."""
    language = session.get("lang")
    session.clear()
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)
    if language:
        session["lang"] = language
    session.permanent = True


def sign_out() -> None:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _load_user() -> None:
    g.user = None
    uid = session.get("uid")
    if not isinstance(uid, int):
        return
    store = current_app.extensions["schakel"].store
    with store.session() as db:
        user = db.scalar(select(m.User).where(m.User.id == uid, m.User.active))
        if user is not None:
            db.expunge(user)
    if user is None:
        # Removed or deactivated since signing in.
        sign_out()
        return
    g.user = user


def _public_endpoints() -> set[str]:
    return current_app.config["PUBLIC_ENDPOINTS"]


def _check_access() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return
    if getattr(view, "public", False) or request.endpoint in _public_endpoints():
        return
    roles = getattr(view, "required_roles", None)
    if roles is None:
        log.error("view %s has no access rule; refused", request.endpoint)
        raise errors.Forbidden()
    user = user_or_fail()
    if roles and not any(user.has_role(role) for role in roles):
        log.info(
            "user %s refused at %s (needs %s)",
            user.username,
            request.endpoint,
            ",".join(sorted(roles)),
        )
        raise errors.Forbidden()
    if request.url_rule is not None and request.url_rule.websocket:
        check_same_origin()


def _check_csrf() -> None:
    if request.method in SAFE_METHODS:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "csrf_exempt", False):
        return
    if request.endpoint in current_app.config["CSRF_EXEMPT_ENDPOINTS"]:
        return
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise errors.CsrfTokenInvalid()


def check_same_origin() -> None:
    """Refuse a websocket opened by another site's page.

    Browsers send cookies with cross-site websocket handshakes under some
    settings, and a websocket has no CSRF token: the Origin header is what is
    left to check.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if urlsplit(origin).netloc != request.host:
        raise errors.CrossOriginRefused()


def _headers(response: Any) -> Any:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if g.get("user") is not None and request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    # Endpoints of blueprints this package does not own (the switch's
    # xml_curl answers) are opened by name here rather than by decorator.
    app.config.setdefault("PUBLIC_ENDPOINTS", {"static"})
    app.config.setdefault("CSRF_EXEMPT_ENDPOINTS", set())
    app.before_request(_load_user)
    app.before_request(_check_access)
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user
