"""Fetching dialplan and directory XML: static files, functions and HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import gevent
import pytest
from gevent.pywsgi import WSGIServer

from simulator.xmlcurl import (
    NOT_FOUND_DOCUMENT,
    FunctionFetcher,
    HttpFetcher,
    StaticFetcher,
    XmlCurlHttpError,
    XmlCurlParseError,
    XmlCurlTransportError,
    build_form,
    decode_form,
    encode_form,
    fetcher_for,
    find_user,
    parse_answer,
)

DIALPLAN = (
    '<document type="freeswitch/xml"><section name="dialplan">'
    '<context name="public"><extension name="x"><condition>'
    '<action application="answer"/></condition></extension></context>'
    "</section></document>"
)


def dialplan_form(context: str) -> list[tuple[str, str]]:
    return [
        ("hostname", "fs1"),
        ("section", "dialplan"),
        ("tag_name", ""),
        ("key_name", ""),
        ("key_value", ""),
        ("Hunt-Context", context),
    ]


def test_static_fetcher_picks_documents_by_context_and_user():
    fetcher = StaticFetcher(documents={"dialplan.public.xml": DIALPLAN})
    assert fetcher("dialplan", dialplan_form("public")) == DIALPLAN
    assert fetcher("dialplan", dialplan_form("default")) is None
    assert [r.answered_with for r in fetcher.requests] == [
        "dialplan.public.xml",
        "not-found",
    ]


def test_static_fetcher_reads_a_capture_folder(captures_dir):
    fetcher = StaticFetcher(captures_dir / "10-xml-curl-forms" / "xmlcurl")
    form = build_form(
        "fs1",
        "directory",
        None,
        tag_name="domain",
        key_name="name",
        key_value="127.0.0.1",
    ) + [("user", "1002"), ("domain", "127.0.0.1")]
    text = fetcher("directory", form)
    assert text is not None
    user = find_user(parse_answer(text), "1002", "127.0.0.1")
    assert user is not None
    assert user.params["password"] == "cap1002-M4xTz8"
    assert user.variables["user_context"] == "default"
    assert user.dial_string.startswith("{^^:sip_invite_domain=")
    assert fetcher("configuration", [("key_value", "spandsp.conf")]) is None


def test_not_found_document_is_none_everywhere():
    assert parse_answer(NOT_FOUND_DOCUMENT) is None
    fetcher = StaticFetcher(documents={"dialplan.xml": NOT_FOUND_DOCUMENT})
    assert fetcher("dialplan", dialplan_form("x")) is None
    assert FunctionFetcher(lambda form: NOT_FOUND_DOCUMENT)("dialplan", []) is None


def test_unparsable_answer_is_a_clear_error():
    with pytest.raises(XmlCurlParseError, match="does not parse"):
        FunctionFetcher(lambda form: "<document><oops")("dialplan", [])


def test_directory_groups_and_domain_params_merge():
    doc = (
        '<document type="freeswitch/xml"><section name="directory">'
        '<domain name="example.org"><params><param name="dial-string" value="D"/>'
        '</params><variables><variable name="user_context" value="default"/>'
        '</variables><groups><group name="sales"><users>'
        '<user id="2301" number-alias="0317492301"><params>'
        '<param name="vm-password" value="1234"/></params><variables>'
        '<variable name="user_context" value="internal"/></variables></user>'
        "</users></group></groups></domain></section></document>"
    )
    user = find_user(parse_answer(doc), "0317492301", "example.org")
    assert user is not None and user.id == "2301"
    assert user.params == {"dial-string": "D", "vm-password": "1234"}
    assert user.variables == {"user_context": "internal"}
    assert find_user(parse_answer(doc), "9999", "example.org") is None


def test_form_encoding_round_trip():
    form = [("a", "x y&z=1"), ("variable_list", "ARRAY::1|:2"), ("empty", "")]
    assert decode_form(encode_form(form)) == form


def test_fetcher_for_url_or_folder(tmp_path):
    assert isinstance(fetcher_for("http://127.0.0.1:1/x"), HttpFetcher)
    assert isinstance(fetcher_for(tmp_path), StaticFetcher)
    with pytest.raises(ValueError, match="neither a URL nor a folder"):
        fetcher_for(tmp_path / "missing")


# -- HTTP ----------------------------------------------------------------------


class Endpoint:
    """A tiny xml_curl endpoint: records forms, answers per test."""

    def __init__(self) -> None:
        self.forms: list[list[tuple[str, str]]] = []
        self.peers: set[int] = set()
        self.status = "200 OK"
        self.answer = DIALPLAN

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        self.forms.append(decode_form(body))
        self.peers.add(int(environ["REMOTE_PORT"]))
        assert environ["REQUEST_METHOD"] == "POST"
        assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
        start_response(self.status, [("Content-Type", "text/xml")])
        return [self.answer.encode()]


@pytest.fixture
def endpoint() -> Iterator[tuple[Endpoint, str]]:
    app = Endpoint()
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}/freeswitch/xml"
    finally:
        server.stop()


def test_http_posts_the_form_in_order_and_reuses_the_connection(endpoint):
    app, url = endpoint
    fetcher = HttpFetcher(url, record=True)
    form = dialplan_form("public") + [("variable_x", "a b&c")]
    assert fetcher("dialplan", form) == DIALPLAN
    assert fetcher("dialplan", form) == DIALPLAN
    assert app.forms == [form, form]
    assert len(app.peers) == 1  # one kept-alive connection
    assert [r.answered_with for r in fetcher.requests] == ["http", "http"]
    fetcher.close()


def test_http_not_found_and_errors(endpoint):
    app, url = endpoint
    fetcher = HttpFetcher(url)
    app.answer = NOT_FOUND_DOCUMENT
    assert fetcher("dialplan", dialplan_form("public")) is None
    app.status, app.answer = "500 Internal Server Error", "boom"
    with pytest.raises(XmlCurlHttpError, match="HTTP 500") as info:
        fetcher("dialplan", dialplan_form("public"))
    assert info.value.status == 500
    app.status, app.answer = "200 OK", "not xml"
    with pytest.raises(XmlCurlParseError):
        fetcher("dialplan", dialplan_form("public"))


def test_http_unreachable_endpoint():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fetcher = HttpFetcher(f"http://127.0.0.1:{port}/x", timeout=2)
    with pytest.raises(XmlCurlTransportError, match="127.0.0.1"):
        fetcher("dialplan", dialplan_form("public"))


def test_http_lookups_from_many_greenlets(endpoint):
    app, url = endpoint
    fetcher = HttpFetcher(url, pool_size=4)
    jobs = [
        gevent.spawn(fetcher, "dialplan", dialplan_form(f"c{n}")) for n in range(20)
    ]
    gevent.joinall(jobs, raise_error=True)
    assert all(job.value == DIALPLAN for job in jobs)
    assert sorted(dict(f)["Hunt-Context"] for f in app.forms) == sorted(
        f"c{n}" for n in range(20)
    )


def test_bad_url_is_refused():
    with pytest.raises(ValueError, match="http"):
        HttpFetcher("ftp://example.org/x")
