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

import base64
import contextlib
import hmac
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

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
# Responses up to this size leave in one send (see wsgi_handler_class).
ONE_WRITE_LIMIT = 256 * 1024

blueprint = Blueprint(BLUEPRINT_NAME, __name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


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


class RawForm(Mapping[str, str]):
    """A urlencoded body, each field found and decoded only when asked for.

    A dialplan request carries the whole channel, some 200 fields, of which
    the answer needs four: decoding them all would cost more than the answer.
    """

    def __init__(self, body: bytes) -> None:
        self._text = "&" + body.decode("latin-1")
        self._all: dict[str, str] | None = None

    def __getitem__(self, key: str) -> str:
        if _PLAIN.fullmatch(key):
            # A plain name is sent as it is: find it without parsing the rest.
            start = self._text.find(f"&{key}=")
            if start < 0:
                raise KeyError(key)
            start += len(key) + 2
            end = self._text.find("&", start)
            return _decode(self._text[start : end if end >= 0 else None])
        return self._parsed()[key]

    def _parsed(self) -> dict[str, str]:
        if self._all is None:
            pairs = (p.partition("=") for p in self._text.split("&") if p)
            self._all = {}
            for key, _sep, value in pairs:
                self._all.setdefault(_decode(key), _decode(value))
        return self._all

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsed())

    def __len__(self) -> int:
        return len(self._parsed())


_PLAIN = re.compile(r"[A-Za-z0-9_.-]*")


def _decode(text: str) -> str:
    if _PLAIN.fullmatch(text):
        return text
    # The body was read as latin-1: bytes back, then the real UTF-8.
    raw = unquote_plus(text, encoding="latin-1")
    return raw.encode("latin-1").decode("utf-8", "replace")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/xml"
    headers: tuple[tuple[str, str], ...] = ()


_FORBIDDEN = Reply(403, b"forbidden\n", "text/plain")
# With auth-scheme "any" libcurl first asks without credentials and answers
# this challenge.
_UNAUTHORIZED = Reply(
    401,
    b"unauthorized\n",
    "text/plain",
    (("WWW-Authenticate", 'Basic realm="schakel xml_curl"'),),
)


def respond(
    state: XmlCurl,
    remote_addr: str | None,
    credentials: tuple[str, str] | None,
    read_form: Callable[[], Mapping[str, str] | None],
) -> Reply:
    """The whole exchange, whatever serves it (the blueprint or the fast path)."""
    if not state.source_allowed(remote_addr):
        log.warning("xml_curl request from %s: address not allowed", remote_addr)
        return _FORBIDDEN
    if not state.credentials_ok(credentials):
        log.warning("xml_curl request from %s: bad credentials", remote_addr)
        return _UNAUTHORIZED
    not_found = state.renderer.not_found.encode()
    try:
        form = read_form()
    except Exception:  # noqa: BLE001 - any unreadable body is "malformed"
        form = None
    if form is None:
        log.warning("xml_curl: unreadable request from %s", remote_addr)
        return Reply(200, not_found)
    try:
        document = state.answer(form)
    except Exception:
        log.exception(
            "xml_curl %s %s/%s failed",
            form.get("section"),
            form.get("key_value") or form.get("Hunt-Context"),
            form.get("user") or form.get("Caller-Destination-Number"),
        )
        return Reply(503, not_found)
    return Reply(200, not_found if document is None else document.encode())


def _flask_form() -> Mapping[str, str] | None:
    if (request.content_length or 0) > MAX_BODY:
        return None
    if request.mimetype == "application/x-www-form-urlencoded":
        return RawForm(request.get_data(cache=False))
    return request.form.to_dict()


@blueprint.post(PATH)
def answer() -> Response:
    state: XmlCurl = current_app.extensions[EXTENSION_KEY]
    auth = request.authorization
    credentials = (auth.username or "", auth.password or "") if auth else None
    reply = respond(state, request.remote_addr, credentials, _flask_form)
    return Response(
        reply.body,
        status=reply.status,
        content_type=f"{reply.content_type}; charset=utf-8",
        headers=list(reply.headers),
    )


class FastPath:
    """WSGI middleware answering the switch's form posts without Flask.

    The switch asks for every registration and every call; Flask's request
    machinery would cost as much as the (cached) answer. Anything but a
    urlencoded POST to the endpoint goes on to the app.
    """

    def __init__(self, state: XmlCurl, app: WSGIApp) -> None:
        self.state = state
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != PATH
            or environ.get("REQUEST_METHOD") != "POST"
            or not environ.get("CONTENT_TYPE", "").startswith(
                "application/x-www-form-urlencoded"
            )
        ):
            return self.app(environ, start_response)
        reply = respond(
            self.state,
            environ.get("REMOTE_ADDR"),
            _basic_credentials(environ.get("HTTP_AUTHORIZATION")),
            lambda: _read_form(environ),
        )
        headers = [
            ("Content-Type", f"{reply.content_type}; charset=utf-8"),
            ("Content-Length", str(len(reply.body))),
            *reply.headers,
        ]
        start_response(f"{reply.status} {_REASONS[reply.status]}", headers)
        return [reply.body]


_REASONS = {
    200: "OK",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    503: "SERVICE UNAVAILABLE",
}


def _read_form(environ: dict[str, Any]) -> Mapping[str, str] | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > MAX_BODY:
        return None
    return RawForm(environ["wsgi.input"].read(length) if length else b"")


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def init_xml_curl(
    app: Flask,
    settings: Settings,
    store: Store,
    renderer: Renderer | None = None,
    *,
    fast_path: bool = True,
) -> XmlCurl:
    """Register the endpoint on ``app`` (the web app or a minimal one).

    The blueprint answers every request; with ``fast_path`` the switch's
    urlencoded posts are answered before Flask is involved (:class:`FastPath`
    wraps ``app.wsgi_app``), with the same rules and answers.
    """
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
    if fast_path:
        app.wsgi_app = FastPath(state, app.wsgi_app)  # type: ignore[method-assign]
    return state


def create_xml_curl_app(
    settings: Settings, store: Store, renderer: Renderer | None = None
) -> Flask:
    """A Flask app serving the xml_curl endpoint alone."""
    app = Flask(__name__)
    init_xml_curl(app, settings, store, renderer)
    return app


class RequestHeaders:
    """Request headers as gevent's handler wants them, read without email.

    gevent parses headers with the standard library's e-mail parser, which
    costs more than a cached answer of ours. This reads the same lines (the
    first of a repeated header wins, continuation lines are kept) and
    offers what the handler uses: ``status``, ``get``, ``getheader``,
    ``typeheader``, ``headers`` and ``del``.
    """

    MAX_LINE = 65536
    MAX_HEADERS = 100

    def __init__(self, rfile: Any) -> None:
        self.status = ""
        self._lines: list[str] = []
        self._first: dict[str, str] = {}
        for _ in range(self.MAX_HEADERS + 1):
            line = rfile.readline(self.MAX_LINE + 1)
            if len(line) > self.MAX_LINE:
                self.status = "Line too long"
                return
            if line in (b"\r\n", b"\n", b""):
                return
            self._add(line.decode("latin-1").rstrip("\r\n"))
            if self.status:
                return
        self.status = "Too many headers"

    def _add(self, text: str) -> None:
        if text[:1] in (" ", "\t") and self._lines:
            self._lines.append(text + "\r\n")
            return
        name, sep, value = text.partition(":")
        if not sep or not name or name != name.strip():
            self.status = f"Invalid header line {text[:40]!r}"
            return
        self._lines.append(f"{name}: {value.strip()}\r\n")
        self._first.setdefault(name.lower(), value.strip())

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name.lower(), default)

    getheader = get

    @property
    def typeheader(self) -> str | None:
        return self.get("content-type")

    @property
    def headers(self) -> list[str]:
        return list(self._lines)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __delitem__(self, name: str) -> None:
        lowered = name.lower()
        self._first.pop(lowered, None)
        self._lines = [
            line for line in self._lines if line.partition(":")[0].lower() != lowered
        ]


def wsgi_handler_class() -> type:
    """A gevent ``WSGIHandler`` suited to the switch's many small requests.

    gevent's handler writes the headers and the body of a response in two
    sends; with Nagle's algorithm the second waits for the client's delayed
    ACK (some 40 ms on Linux), and each send is a system call. This one
    turns Nagle off, sends a small response in one piece and reads request
    headers with :class:`RequestHeaders`. Pass it as
    ``WSGIServer(..., handler_class=wsgi_handler_class())``.
    """
    import socket

    from gevent.pywsgi import WSGIHandler

    class OneWriteHandler(WSGIHandler):  # type: ignore[misc]
        def MessageClass(self, rfile: Any, *_args: Any) -> RequestHeaders:  # noqa: N802
            return RequestHeaders(rfile)

        def handle(self) -> None:
            with contextlib.suppress(OSError):
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle()

        def _write_with_headers(self, data: bytes) -> None:
            if self.response_use_chunked or len(data) > ONE_WRITE_LIMIT:
                super()._write_with_headers(data)
                return
            self.headers_sent = True
            self.finalize_headers()
            towrite = bytearray(b"HTTP/1.1 ")
            towrite += self.status
            towrite += b"\r\n"
            for header, value in self.response_headers:
                towrite += header + b": " + value + b"\r\n"
            towrite += b"\r\n"
            towrite += data
            self._sendall(towrite)

    return OneWriteHandler
