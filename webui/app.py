"""The app factory: settings, store, live state and switch in; a Flask app out."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import Flask, current_app, request

from orchestrator import live as live_mod
from orchestrator import settings as settings_mod
from orchestrator.config.notifier import Notifier
from orchestrator.config.xml_curl import init_xml_curl
from orchestrator.domain import numbering
from orchestrator.store.db import Store
from webui import errors, i18n, security
from webui.entra import EntraSignIn
from webui.ratelimit import FailureCounter

log = logging.getLogger(__name__)

# Forms and JSON bodies of this app are small; a voicemail upload is not
# something a browser sends here.
MAX_BODY = 64 * 1024
# The switch's xml_curl requests carry a whole channel, SDP included.
MACHINE_BODY = 1 << 20
DEFAULT_SECRET = settings_mod.DEFAULT_SECRET_KEY


@dataclass
class Services:
    """What the views reach through ``current_app.extensions["schakel"]``."""

    settings: settings_mod.Settings
    store: Store
    live: redis.Redis
    gateway: Any | None
    entra: EntraSignIn
    failures: FailureCounter
    notifier: Notifier
    extra: dict[str, Any] = field(default_factory=dict)


def create_app(
    settings: settings_mod.Settings | None = None,
    *,
    store: Store | None = None,
    live: redis.Redis | None = None,
    gateway: Any | None = None,
) -> Flask:
    settings = settings or settings_mod.load()
    store = store or Store(settings.database_url)
    live = live if live is not None else live_mod.connect(settings.redis_url)

    app = Flask(__name__)
    _configure(app, settings)
    app.extensions["schakel"] = Services(
        settings=settings,
        store=store,
        live=live,
        gateway=gateway,
        entra=EntraSignIn(settings),
        failures=FailureCounter(live),
        notifier=Notifier(gateway, live),
    )
    errors.register(app)
    security.init_app(app)
    i18n.init_app(app, settings.language)
    _filters(app, settings)
    _blueprints(app)
    return app


def _configure(app: Flask, settings: settings_mod.Settings) -> None:
    if settings.secret_key == DEFAULT_SECRET:
        log.warning("secret_key is the default; set SCHAKEL_SECRET_KEY in production")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="schakel_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cookie_secure(settings, debug=app.debug),
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=10),
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        PUBLIC_URL=public_url(settings),
    )


def public_url(settings: settings_mod.Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"http://{settings.http_host}:{settings.http_port}"


def cookie_secure(settings: settings_mod.Settings, *, debug: bool) -> bool:
    """Secure cookies, unless debugging or reached over plain HTTP on purpose.

    Production sits behind a TLS proxy; an installation that names a plain
    ``http://`` public address (a demo on a laptop) would otherwise never get
    its session cookie back from the browser.
    """
    return not debug and not public_url(settings).startswith("http://")


def _filters(app: Flask, settings: settings_mod.Settings) -> None:
    def phone(value: str | None) -> str:
        return numbering.readable(value, settings.country)

    app.jinja_env.filters["phone"] = phone


def _blueprints(app: Flask) -> None:
    from orchestrator.calls import api as calls_api
    from webui import admin, api, auth, live, me

    for module in (auth, me, live, admin, api, calls_api):
        app.register_blueprint(module.blueprint)
    live.sock.init_app(app)
    app.config["MACHINE_ENDPOINTS"] = set()
    app.before_request(_machine_body_limit)
    app.after_request(api.add_version)
    _machine_endpoints(app)


def _machine_endpoints(app: Flask) -> None:
    """The switch's xml_curl endpoint: no session, guarded by its own rules."""
    services: Services = app.extensions["schakel"]
    before = set(app.view_functions)
    init_xml_curl(app, services.settings, services.store)
    added = set(app.view_functions) - before
    app.config["PUBLIC_ENDPOINTS"].update(added)
    app.config["CSRF_EXEMPT_ENDPOINTS"].update(added)
    app.config["MACHINE_ENDPOINTS"].update(added)


def _machine_body_limit() -> None:
    if request.endpoint in current_app.config["MACHINE_ENDPOINTS"]:
        request.max_content_length = MACHINE_BODY
