"""Signing in and out: local accounts and Microsoft Entra ID; the language."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import gevent
import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from orchestrator.store import models as m
from webui import errors, i18n, ratelimit, security
from webui.security import public, requires

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)

_hasher = PasswordHasher()
# Verified against when the account does not exist, so that an unknown user
# name takes as long to refuse as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password")
MAX_PASSWORD = 512


def _services() -> Any:
    return current_app.extensions["schakel"]


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, not even ``//host``."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return None
    if target.startswith("//") or "\\" in target:
        return None
    return target


def home_for(user: m.User) -> str:
    if user.has_role(m.Role.ADMIN):
        return url_for("admin.users")
    if user.has_role(m.Role.SUPERVISOR) or user.has_role(m.Role.AGENT):
        return url_for("live.page")
    return url_for("me.index")


@blueprint.get("/")
@requires()
def home() -> Response:
    return redirect(home_for(security.user_or_fail()))


@blueprint.get("/health")
@public
def health() -> Any:
    """Liveness: the web app answers."""
    return jsonify(status="ok")


# How long readiness waits for one part before calling it down.
READY_TIMEOUT_S = 2.0


@blueprint.get("/health/ready")
@public
def ready() -> Any:
    """Readiness, for a load balancer or an uptime monitor: the store and
    live state answer, and the switch is connected where this process has
    one (``schakel serve --no-esl`` has none). 503 names what is down."""
    services = _services()
    parts = {
        "store": _part(lambda: _ping_store(services.store)),
        "live": _part(services.live.ping),
        "switch": _switch_state(services.gateway),
    }
    ok = parts["store"] == parts["live"] == "ok" and parts["switch"] != "disconnected"
    body = jsonify(status="ok" if ok else "unavailable", **parts)
    return body, 200 if ok else 503


def _part(check: Any) -> str:
    try:
        with gevent.Timeout(READY_TIMEOUT_S):
            check()
    except (SQLAlchemyError, redis.RedisError, OSError, gevent.Timeout) as exc:
        log.warning("readiness: %s", exc or type(exc).__name__)
        return "down"
    return "ok"


def _ping_store(store: Any) -> None:
    with store.session() as session:
        session.execute(select(1))


def _switch_state(gateway: Any) -> str:
    if gateway is None:
        return "none"
    return "connected" if gateway.connected else "disconnected"


@blueprint.get("/login")
@public
def login() -> Any:
    user = security.current_user()
    if user is not None:
        return redirect(safe_next(request.args.get("next")) or home_for(user))
    return _login_page()


def _login_page(error: errors.WebError | None = None, username: str = "") -> Any:
    body = render_template(
        "login.html",
        error=error,
        username=username,
        next=safe_next(request.values.get("next")) or "",
        entra=_services().entra.enabled,
    )
    return body, error.status if error else 200


@blueprint.post("/login")
@public
def login_post() -> Any:
    username = request.form.get("username", "").strip()[:80]
    password = request.form.get("password", "")[:MAX_PASSWORD]
    try:
        user = authenticate(username, password, request.remote_addr or "unknown")
    except (errors.InvalidCredentials, errors.TooManyAttempts) as exc:
        if errors.wants_json():
            raise
        response = _login_page(exc, username)
        if isinstance(exc, errors.TooManyAttempts):
            return response[0], response[1], {"Retry-After": str(exc.retry_after)}
        return response
    security.sign_in(user)
    log.info("user %s signed in with a password", user.username)
    return redirect(safe_next(request.form.get("next")) or home_for(user))


def authenticate(username: str, password: str, address: str) -> m.User:
    """The active user with this name and password, or an error."""
    failures = _services().failures
    failures.check(ratelimit.PER_ADDRESS, address)
    failures.check(ratelimit.PER_ACCOUNT, username or "-")

    with _services().store.session() as db:
        user = db.scalar(
            select(m.User).where(func.lower(m.User.username) == username.lower())
        )
        if not _password_matches(user, password):
            failures.fail(ratelimit.PER_ADDRESS, address)
            failures.fail(ratelimit.PER_ACCOUNT, username or "-")
            log.info("sign-in failed for %r from %s", username, address)
            raise errors.InvalidCredentials()
        assert user is not None and user.password_hash
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        db.expunge(user)
    failures.reset(ratelimit.PER_ACCOUNT, username)
    return user


def _password_matches(user: m.User | None, password: str) -> bool:
    usable = user is not None and user.active and bool(user.password_hash)
    stored = user.password_hash if usable and user else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    return usable


@blueprint.post("/logout")
@requires()
def logout() -> Response:
    user = security.user_or_fail()
    security.sign_out()
    log.info("user %s signed out", user.username)
    return redirect(url_for("auth.login"))


@blueprint.get("/login/entra")
@public
def entra_start() -> Response:
    services = _services()
    redirect_uri = current_app.config["PUBLIC_URL"] + url_for("auth.entra_callback")
    key, auth_uri = services.entra.begin(services.live, redirect_uri)
    session["entra_flow"] = key
    session["entra_next"] = safe_next(request.args.get("next"))
    return redirect(auth_uri)


@blueprint.get("/login/entra/callback")
@public
def entra_callback() -> Response:
    services = _services()
    key = session.pop("entra_flow", "")
    next_url = session.pop("entra_next", None)
    claims = services.entra.finish(services.live, key, request.args.to_dict())

    with services.store.session() as db:
        user = db.scalar(
            select(m.User).where(m.User.entra_object_id == claims.object_id)
        )
        if user is None and claims.username:
            user = _link_by_mail(db, claims.username, claims.object_id)
        if user is None or not user.active:
            log.info("Entra ID user %s has no active account", claims.object_id)
            raise errors.AccountUnknown()
        db.flush()
        db.expunge(user)
    security.sign_in(user)
    log.info("user %s signed in with Entra ID", user.username)
    return redirect(next_url or home_for(user))


def _link_by_mail(db: Any, address: str, object_id: str) -> m.User | None:
    """First sign-in: the account with the same e-mail address, not yet linked."""
    user = db.scalar(
        select(m.User).where(
            func.lower(m.User.email) == address.lower(),
            m.User.entra_object_id.is_(None),
        )
    )
    if user is not None:
        user.entra_object_id = object_id
        db.add(
            m.EventLog(
                kind="auth.entra.linked",
                actor=user.username,
                user_id=user.id,
                data={"object_id": object_id},
            )
        )
        log.info("user %s linked to Entra ID object %s", user.username, object_id)
    return user


@blueprint.post("/language")
@public
def language() -> Response:
    chosen = request.form.get("lang", "")
    if chosen not in i18n.LANGUAGES:
        raise errors.InvalidInput(details={"lang": "unknown language"})
    session["lang"] = chosen
    user = security.current_user()
    if user is not None:
        with _services().store.session() as db:
            stored = db.get(m.User, user.id)
            if stored is not None:
                stored.language = chosen
        user.language = chosen
    return redirect(safe_next(request.form.get("next")) or url_for("auth.login"))
