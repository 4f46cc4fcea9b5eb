"""mod_xml_curl as the simulated switch uses it: forms out, XML back.

FreeSWITCH asks its XML bindings for a section (``dialplan``,
``directory``, ``configuration``) with a urlencoded POST whose fields come
in a fixed order:

1. ``hostname``, ``section``, ``tag_name``, ``key_name``, ``key_value``;
2. the request event serialised: its core headers (``Event-Name`` ...
   ``Event-Sequence``), then its own headers. For a dialplan lookup that is
   the channel's data (``Channel-*``, ``Caller-*``, every ``variable_*``)
   followed by the hunted caller profile as ``Hunt-*``; for a directory
   lookup it is ``action``, ``key``, ``user``, ``domain`` and whatever the
   asking module adds (``as_channel``, ``ip``, the ``sip_auth_*`` fields).

Multi-valued variables are sent in FreeSWITCH's ``ARRAY::a|:b`` form.
Lookups FreeSWITCH makes while reloading (``reloadxml``) carry only the five
leading fields.

An answer is a ``<document type="freeswitch/xml">``; the document with
``<section name="result"><result status="not found"/>`` means "nothing
here" and FreeSWITCH then falls back to its static XML, which the simulator
does not have.

Fetchers are plain callables ``fetcher(section, form) -> str | None`` (the
document text, or None for "not found"), so that tests can swap the HTTP
client for a function:

- `HttpFetcher(url)`: POSTs to an xml_curl endpoint (a pooled, gevent
  friendly http.client);
- `StaticFetcher(folder or documents)`: answers from files named like the
  captures' ``xmlcurl/`` folders (``dialplan.<context>.xml``,
  ``directory.<user>.xml``, ``configuration.<name>.xml``, or one
  ``dialplan.xml`` / ``directory.xml`` for all);
- `FunctionFetcher(handler)`: ``handler(form) -> text | None``.

Each keeps the forms it was asked (``requests``) when ``record=True``.
"""

from __future__ import annotations

import base64
import http.client
import logging
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree

import gevent.socket

from simulator.events import CallSite, Event, HeaderValue

if TYPE_CHECKING:
    from simulator.channel import CallerProfile, Channel

log = logging.getLogger(__name__)

Form = list[tuple[str, str]]
XmlFetcher = Callable[[str, Form], "str | None"]

# Where FreeSWITCH 1.10.12 raises each lookup (Event-Calling-* headers).
DIALPLAN_SITE = CallSite("mod_dialplan_xml.c", "dialplan_xml_locate", 610)
USER_CALL_SITE = CallSite("mod_dptools.c", "user_outgoing_channel", 4366)
SIP_AUTH_SITE = CallSite("sofia_reg.c", "sofia_reg_parse_auth", 3124)
VOICEMAIL_LOOKUP_SITE = CallSite("mod_voicemail.c", "voicemail_leave_main", 3418)
MESSAGE_COUNT_SITE = CallSite("mod_voicemail.c", "resolve_id", 1363)

NOT_FOUND_DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    '<document type="freeswitch/xml">\n'
    '  <section name="result">\n'
    '    <result status="not found"/>\n'
    "  </section>\n"
    "</document>\n"
)


class XmlCurlError(Exception):
    """An xml_curl lookup that failed (FreeSWITCH logs it, then "not found")."""


class XmlCurlTransportError(XmlCurlError):
    """The endpoint could not be reached or the connection broke."""


class XmlCurlHttpError(XmlCurlError):
    """The endpoint answered with an HTTP status other than 200."""

    def __init__(self, status: int, url: str, body: str) -> None:
        super().__init__(f"xml_curl {url} answered HTTP {status}: {body[:200]!r}")
        self.status = status


class XmlCurlParseError(XmlCurlError):
    """The answer is not an XML document FreeSWITCH could parse."""


# --------------------------------------------------------------------------
# forms
# --------------------------------------------------------------------------


def form_value(value: HeaderValue) -> str:
    """A header value as switch_event_build_param_string writes it."""
    if isinstance(value, str):
        return value
    if len(value) == 1:
        return value[0]
    return "ARRAY::" + "|:".join(value)


def build_form(
    hostname: str,
    section: str,
    event: Event | None = None,
    *,
    tag_name: str = "",
    key_name: str = "",
    key_value: str = "",
) -> Form:
    """The fields mod_xml_curl POSTs, in order; ``event`` must be stamped."""
    form: Form = [
        ("hostname", hostname),
        ("section", section),
        ("tag_name", tag_name),
        ("key_name", key_name),
        ("key_value", key_value),
    ]
    if event is not None:
        form.extend((name, form_value(value)) for name, value in event.headers)
    return form


def encode_form(form: Sequence[tuple[str, str]]) -> bytes:
    """The urlencoded body; FreeSWITCH escapes values, not names."""
    parts = [f"{name}={urllib.parse.quote(value, safe='')}" for name, value in form]
    return "&".join(parts).encode()


def decode_form(body: bytes | str) -> Form:
    """The fields of a urlencoded body in order (for servers and tests)."""
    if isinstance(body, bytes):
        body = body.decode()
    return urllib.parse.parse_qsl(body, keep_blank_values=True)


def form_get(form: Sequence[tuple[str, str]], name: str, default: str = "") -> str:
    for key, value in form:
        if key == name:
            return value
    return default


def hunt_headers(profile: CallerProfile) -> list[tuple[str, HeaderValue]]:
    """The ``Hunt-*`` block: the caller profile being hunted."""
    from simulator.headers import profile_headers

    return profile_headers(profile, "Hunt")


def directory_event(
    action: str,
    user: str,
    domain: str,
    *,
    before: Iterable[tuple[str, str]] = (),
    after: Iterable[tuple[str, str]] = (),
    site: CallSite = USER_CALL_SITE,
    event_name: str = "REQUEST_PARAMS",
) -> Event:
    """The (unstamped) event of a directory lookup.

    ``before`` comes ahead of ``action`` (``as_channel=true`` for user_call,
    the ``sip_*`` fields for sip_auth), ``after`` follows ``domain``
    (``ip`` for sip_auth and voicemail-lookup).
    """
    event = Event(event_name, origin=site)
    for name, value in before:
        event.add(name, value)
    event.add("action", action)
    event.add("key", "id")
    event.add("user", user)
    event.add("domain", domain)
    for name, value in after:
        event.add(name, value)
    return event


def user_call_event(user: str, domain: str) -> Event:
    """``bridge user/<user>@<domain>``: mod_dptools' user_call lookup."""
    return directory_event(
        "user_call", user, domain, before=[("as_channel", "true")], site=USER_CALL_SITE
    )


def voicemail_lookup_event(
    user: str, domain: str, ip: str, site: CallSite = VOICEMAIL_LOOKUP_SITE
) -> Event:
    """mod_voicemail looking up a box (to leave a message in, or to log in)."""
    return directory_event(
        "voicemail-lookup", user, domain, after=[("ip", ip)], site=site
    )


def message_count_event(user: str, domain: str) -> Event:
    """mod_voicemail's resolve_id (a GENERAL event, not REQUEST_PARAMS)."""
    return directory_event(
        "message-count", user, domain, site=MESSAGE_COUNT_SITE, event_name="GENERAL"
    )


def directory_form(hostname: str, domain: str, event: Event) -> Form:
    """A directory lookup's form (``tag_name=domain``, ``key_name=name``)."""
    return build_form(
        hostname,
        "directory",
        event,
        tag_name="domain",
        key_name="name",
        key_value=domain,
    )


def configuration_form(hostname: str, name: str, event: Event | None = None) -> Form:
    """A configuration lookup (``key_value`` is e.g. ``callcenter.conf``)."""
    return build_form(
        hostname,
        "configuration",
        event,
        tag_name="configuration",
        key_name="name",
        key_value=name,
    )


# --------------------------------------------------------------------------
# answers
# --------------------------------------------------------------------------


def parse_answer(text: str | bytes) -> ElementTree.Element | None:
    """The answer's root element, None for the "not found" document."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        root = ElementTree.fromstring(text.lstrip())
    except ElementTree.ParseError as exc:
        raise XmlCurlParseError(f"xml_curl answer does not parse: {exc}") from exc
    if is_not_found(root):
        return None
    return root


def is_not_found(root: ElementTree.Element) -> bool:
    for section in root.iter("section"):
        if section.get("name") == "result":
            result = section.find("result")
            status = result.get("status", "") if result is not None else ""
            return status.lower() == "not found"
    return False


def find_section(root: ElementTree.Element, name: str) -> ElementTree.Element | None:
    if root.tag == "section" and root.get("name") == name:
        return root
    for section in root.iter("section"):
        if section.get("name") == name:
            return section
    return None


@dataclass
class DirectoryUser:
    """A directory user as FreeSWITCH merges it: domain, group, then user.

    ``params`` (``password``, ``vm-password``, ``dial-string`` ...) and
    ``variables`` (``user_context``, ``effective_caller_id_*`` ...) keep
    document order; the user's own entries win over the domain's.
    """

    id: str
    domain: str
    params: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def dial_string(self) -> str | None:
        return self.params.get("dial-string")


def find_user(
    root: ElementTree.Element, user: str, domain: str
) -> DirectoryUser | None:
    """The user ``user`` of ``domain`` in a directory answer (or None)."""
    section = find_section(root, "directory")
    if section is None:
        return None
    for xdomain in section.iter("domain"):
        name = xdomain.get("name", "")
        if name != domain and len(section.findall(".//domain")) > 1:
            continue
        found = _find_user_in(xdomain, user)
        if found is not None:
            xuser, group = found
            return _merge_user(xdomain, group, xuser, domain)
    return None


def _find_user_in(
    xdomain: ElementTree.Element, user: str
) -> tuple[ElementTree.Element, ElementTree.Element | None] | None:
    # switch_xml_locate_user_in_domain: <domain><users><user> when the domain
    # has a <users> list, else users right under the domain; then groups.
    users = xdomain.find("users")
    for xuser in (users if users is not None else xdomain).findall("user"):
        if _user_matches(xuser, user):
            return xuser, None
    for group in xdomain.iter("group"):
        for xuser in group.iter("user"):
            if _user_matches(xuser, user) and xuser.get("type") != "pointer":
                return xuser, group
    for group in xdomain.iter("group"):
        for xuser in group.iter("user"):
            if _user_matches(xuser, user):
                return xuser, group
    return None


def _user_matches(xuser: ElementTree.Element, user: str) -> bool:
    return xuser.get("id") == user or xuser.get("number-alias") == user


def _merge_user(
    xdomain: ElementTree.Element,
    group: ElementTree.Element | None,
    xuser: ElementTree.Element,
    domain: str,
) -> DirectoryUser:
    result = DirectoryUser(xuser.get("id", ""), domain, attributes=dict(xuser.attrib))
    for node in (xdomain, group, xuser):
        if node is None:
            continue
        for param in node.findall("params/param"):
            result.params[param.get("name", "")] = param.get("value", "")
        for variable in node.findall("variables/variable"):
            result.variables[variable.get("name", "")] = variable.get("value", "")
    return result


# --------------------------------------------------------------------------
# fetchers
# --------------------------------------------------------------------------


@dataclass
class FetchRecord:
    """One lookup: the form sent and what answered it."""

    section: str
    form: Form
    answered_with: str  # a file name, "http", "function" or "not-found"


class _Recorder:
    def __init__(self, record: bool, keep: int) -> None:
        self.record = record
        self.requests: deque[FetchRecord] = deque(maxlen=keep)

    def _note(self, section: str, form: Form, answered_with: str) -> None:
        if self.record:
            self.requests.append(FetchRecord(section, list(form), answered_with))


class StaticFetcher(_Recorder):
    """Answers from documents named like the captures' ``xmlcurl/`` files.

    ``documents`` maps a file name to its text; ``folder`` is read on each
    request (so a test may edit the files). Names tried, in order:

    - dialplan: ``dialplan.<Hunt-Context>.xml``, ``dialplan.xml``;
    - directory: ``directory.<user>.xml``, ``directory.<domain>.xml``,
      ``directory.xml``;
    - configuration: ``configuration.<key_value>.xml``;
    - other sections: ``<section>.xml``.
    """

    def __init__(
        self,
        folder: str | Path | None = None,
        documents: Mapping[str, str] | None = None,
        *,
        record: bool = True,
        keep: int = 10_000,
    ) -> None:
        super().__init__(record, keep)
        self.folder = Path(folder) if folder is not None else None
        self.documents = dict(documents or {})

    def __call__(self, section: str, form: Form) -> str | None:
        for name in self.candidates(section, form):
            text = self._document(name)
            if text is not None:
                self._note(section, form, name)
                return None if parse_answer(text) is None else text
        self._note(section, form, "not-found")
        return None

    @staticmethod
    def candidates(section: str, form: Form) -> list[str]:
        if section == "dialplan":
            context = form_get(form, "Hunt-Context") or form_get(form, "Caller-Context")
            return [f"dialplan.{context}.xml", "dialplan.xml"]
        if section == "directory":
            user = form_get(form, "user")
            domain = form_get(form, "domain") or form_get(form, "key_value")
            names = [f"directory.{user}.xml"] if user else []
            return names + [f"directory.{domain}.xml", "directory.xml"]
        if section == "configuration":
            return [f"configuration.{form_get(form, 'key_value')}.xml"]
        return [f"{section}.xml"]

    def _document(self, name: str) -> str | None:
        if name in self.documents:
            return self.documents[name]
        if self.folder is not None:
            path = self.folder / name
            if path.is_file():
                return path.read_text(encoding="utf-8")
        return None


class FunctionFetcher(_Recorder):
    """Answers with ``handler(form) -> text | None`` (a test's own endpoint)."""

    def __init__(
        self,
        handler: Callable[[Form], str | None],
        *,
        record: bool = True,
        keep: int = 10_000,
    ) -> None:
        super().__init__(record, keep)
        self.handler = handler

    def __call__(self, section: str, form: Form) -> str | None:
        text = self.handler(form)
        if text is None or parse_answer(text) is None:
            self._note(section, form, "not-found")
            return None
        self._note(section, form, "function")
        return text


class _GeventHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection on a gevent socket, monkey-patched or not."""

    def connect(self) -> None:
        self.sock = gevent.socket.create_connection(
            (self.host, self.port), self.timeout, self.source_address
        )
        self.sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)


class HttpFetcher(_Recorder):
    """POSTs forms to an xml_curl endpoint over kept-alive connections.

    Raises `XmlCurlError` subclasses for transport failures, HTTP errors
    and unparsable answers; FreeSWITCH logs those and treats the lookup as
    "not found", which the caller decides to do.
    """

    user_agent = "freeswitch-xml/1.0"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        pool_size: int = 8,
        record: bool = False,
        keep: int = 1_000,
    ) -> None:
        super().__init__(record, keep)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"xml_curl URL must be http(s)://host/..., not {url!r}")
        self.url = url
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # user:password@ in the URL: HTTP basic auth, as xml_curl's
        # gateway-credentials sends it.
        self._auth: str | None = None
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._auth = f"Basic {token}"
        self.url = urllib.parse.urlunsplit(
            (parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""),
             parts.path, parts.query, "")
        )  # fmt: skip
        self._timeout = timeout
        self._pool: deque[http.client.HTTPConnection] = deque()
        self._pool_size = pool_size
        self._lock = threading.Lock()

    def __call__(self, section: str, form: Form) -> str | None:
        body = encode_form(form)
        status, text = self._post(body)
        if status != 200:
            raise XmlCurlHttpError(status, self.url, text)
        found = parse_answer(text) is not None
        self._note(section, form, "http" if found else "not-found")
        return text if found else None

    def close(self) -> None:
        with self._lock:
            while self._pool:
                self._pool.pop().close()

    def _post(self, body: bytes) -> tuple[int, str]:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": self.user_agent,
            "Accept": "*/*",
        }
        if self._auth is not None:
            headers["Authorization"] = self._auth
        # A kept-alive connection the server has closed fails on first use;
        # one retry on a fresh connection covers that.
        for attempt in (1, 2):
            conn = self._acquire(fresh=attempt == 2)
            try:
                conn.request("POST", self._path, body, headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if attempt == 2:
                    raise XmlCurlTransportError(f"xml_curl {self.url}: {exc}") from exc
                continue
            self._release(conn, response)
            return response.status, data.decode("utf-8", errors="replace")
        raise AssertionError("unreachable")

    def _acquire(self, fresh: bool) -> http.client.HTTPConnection:
        if not fresh:
            with self._lock:
                if self._pool:
                    return self._pool.pop()
        if self._scheme == "https":
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout
            )
        return _GeventHTTPConnection(self._host, self._port, timeout=self._timeout)

    def _release(
        self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> None:
        if response.will_close:
            conn.close()
            return
        with self._lock:
            if len(self._pool) < self._pool_size:
                self._pool.append(conn)
                return
        conn.close()


def fetcher_for(source: str | Path) -> XmlFetcher:
    """An `HttpFetcher` for a URL, a `StaticFetcher` for a folder."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        return HttpFetcher(text)
    folder = Path(text)
    if not folder.is_dir():
        raise ValueError(f"xml source {text!r} is neither a URL nor a folder")
    return StaticFetcher(folder)


def dialplan_event(channel: Channel, profile: CallerProfile | None = None) -> Event:
    """The (unstamped) REQUEST_PARAMS event of mod_dialplan_xml's lookup.

    The channel's data (basic headers and every variable), then the caller
    profile being hunted as ``Hunt-*``.
    """
    from simulator.headers import SITES, channel_event

    hunted = profile if profile is not None else channel.profile
    event = channel_event(channel, "REQUEST_PARAMS", tail=hunt_headers(hunted))
    event.origin = SITES.get("REQUEST_PARAMS_DIALPLAN", DIALPLAN_SITE)
    return event
