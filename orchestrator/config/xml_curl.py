"""The endpoint mod_xml_curl asks for directory, dialplan and configuration.

The switch POSTs a form (``section``, ``tag_name``, ``key_name``,
``key_value`` and an event's headers, see the captures) and wants a
``freeswitch/xml`` document back. Anything we do not know, or cannot read,
gets the "not found" document, after which the switch falls back to its
own files (configuration) or refuses (directory, dialplan). A failure on our
side (the store unreachable) answers 503 with the same document, so the
switch's log tells an outage from a wrong password.

mod_xml_curl sends no credentials unless ``gateway-credentials`` is set;
``xml_curl_user``/``xml_curl_password`` demand HTTP basic auth and
``xml_curl_allow`` limits the source addresses.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, request

from orchestrator.config.render import Renderer
from orchestrator.config.view import ViewCache
from orchestrator.settings import Settings, SettingsError
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

BLUEPRINT_NAME = "xml_curl"
PATH = "/freeswitch/xml"
EXTENSION_KEY = "schakel.xml_curl"
# A dialplan request carries the whole channel (SDP included): some KB.
MAX_BODY = 1 << 20

blueprint = Blueprint(BLUEPRINT_NAME, __name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class XmlCurl:
    """What the endpoint needs: a renderer and its access rules."""

    renderer: Renderer
    user: str
    password: str
    allow: tuple[Network, ...]

    def answer(self, form: Mapping[str, str]) -> str | None:
        """The document for one request, or None for "not found"."""
        section = form.get("section", "")
        if section == "directory":
            return self._directory(form)
        if section == "dialplan":
            return self._dialplan(form)
        if section == "configuration":
            return self._configuration(form)
        return None

    def _directory(self, form: Mapping[str, str]) -> str | None:
        domain = form.get("domain") or ""
        if not domain and form.get("tag_name") == "domain":
            domain = form.get("key_value", "")
        user = form.get("user") or None
        if user is None and form.get("key_name") not in (None, "", "name"):
            return None
        return self.renderer.render_directory(
            domain, user, purpose=form.get("purpose") or None
        )

    def _dialplan(self, form: Mapping[str, str]) -> str | None:
        context = form.get("Hunt-Context") or form.get("Caller-Context") or ""
        destination = (
            form.get("Hunt-Destination-Number")
            or form.get("Caller-Destination-Number")
            or ""
        )
        if not context or not destination:
            return None
        return self.renderer.render_dialplan(context, destination, form)

    def _configuration(self, form: Mapping[str, str]) -> str | None:
        if form.get("key_name", "name") != "name":
            return None
        return self.renderer.render_configuration(form.get("key_value", ""), form)

    def source_allowed(self, remote_addr: str | None) -> bool:
        return not self.allow or _address_in(remote_addr, self.allow)

    def credentials_ok(self, auth: tuple[str, str] | None) -> bool:
        if not self.user:
            return True
        if auth is None:
            return False
        # Both compared, always: the time taken must not tell which was wrong.
        user_ok = hmac.compare_digest(auth[0].encode(), self.user.encode())
        password_ok = hmac.compare_digest(auth[1].encode(), self.password.encode())
        return user_ok and password_ok


def parse_allow(text: str) -> tuple[Network, ...]:
    """``xml_curl_allow`` as networks; a bad entry is a settings error."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(
                f"xml_curl_allow: {item!r} is not an address or network"
            ) from None
    return tuple(networks)


def _address_in(addr: str | None, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr or "")
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _form() -> dict[str, str] | None:
    """The request's fields, or None when they are not what the switch sends."""
    if (request.content_length or 0) > MAX_BODY:
        return None
    try:
        return request.form.to_dict()
    except Exception:  # noqa: BLE001 - any unreadable body is "malformed"
        return None


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


@blueprint.post(PATH)
def answer() -> Response:
    state: XmlCurl = current_app.extensions[EXTENSION_KEY]
    not_found = state.renderer.not_found
    if not state.source_allowed(request.remote_addr):
        log.warning(
            "xml_curl request from %s: address not allowed", request.remote_addr
        )
        return Response("forbidden\n", status=403, mimetype="text/plain")
    auth = request.authorization
    credentials = (auth.username or "", auth.password or "") if auth else None
    if not state.credentials_ok(credentials):
        log.warning("xml_curl request from %s: bad credentials", request.remote_addr)
        # With auth-scheme "any" libcurl first asks without credentials and
        # answers this challenge.
        return Response(
            "unauthorized\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Basic realm="schakel xml_curl"'},
        )

    form = _form()
    if form is None:
        log.warning("xml_curl: unreadable request from %s", request.remote_addr)
        return _xml(not_found)
    try:
        document = state.answer(form)
    except Exception:
        log.exception(
            "xml_curl %s %s/%s failed",
            form.get("section"),
            form.get("key_value") or form.get("Hunt-Context"),
            form.get("user") or form.get("Caller-Destination-Number"),
        )
        return _xml(not_found, 503)
    return _xml(not_found if document is None else document)


def init_xml_curl(
    app: Flask, settings: Settings, store: Store, renderer: Renderer | None = None
) -> XmlCurl:
    """Register the endpoint on ``app`` (the web app or a minimal one)."""
    if renderer is None:
        renderer = Renderer(settings, ViewCache(store, settings))
    state = XmlCurl(
        renderer=renderer,
        user=settings.xml_curl_user,
        password=settings.xml_curl_password,
        allow=parse_allow(settings.xml_curl_allow),
    )
    app.extensions[EXTENSION_KEY] = state
    app.register_blueprint(blueprint)
    return state


def create_xml_curl_app(
    settings: Settings, store: Store, renderer: Renderer | None = None
) -> Flask:
    """A Flask app serving the xml_curl endpoint alone."""
    app = Flask(__name__)
    init_xml_curl(app, settings, store, renderer)
    return app
