"""The endpoint behind gevent's WSGI server with the handler made for it."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import gevent
import pytest
from gevent import socket
from gevent.pywsgi import WSGIServer

from orchestrator.config.xml_curl import (
    RequestHeaders,
    create_xml_curl_app,
    wsgi_handler_class,
)


def _headers(raw: bytes) -> RequestHeaders:
    return RequestHeaders(io.BufferedReader(io.BytesIO(raw)))


def test_request_headers_read_like_the_standard_parser() -> None:
    headers = _headers(
        b"Host: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"X-Long: first\r\n  continued\r\nX-Twice: 1\r\nx-twice: 2\r\n\r\nbody"
    )
    assert headers.status == ""
    assert headers.get("host") == "127.0.0.1"
    assert headers.typeheader == "application/x-www-form-urlencoded"
    assert headers.getheader("X-TWICE") == "1"
    assert headers.get("missing", "dflt") == "dflt"
    assert headers.headers[2:4] == ["X-Long: first\r\n", "  continued\r\n"]
    del headers["x-twice"]
    assert "X-Twice" not in headers
    assert all("twice" not in line.lower() for line in headers.headers)


@pytest.mark.parametrize(
    "raw",
    [
        b"Host 127.0.0.1\r\n\r\n",
        b"Host : x\r\n\r\n",
        b"X: " + b"a" * 70000 + b"\r\n\r\n",
        b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + b"\r\n",
    ],
)
def test_bad_headers_are_refused(raw: bytes) -> None:
    assert _headers(raw).status


def _request(body: bytes) -> bytes:
    head = (
        "POST /freeswitch/xml HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def _read(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_answers_over_one_kept_alive_connection(demo_store, settings) -> None:
    app = create_xml_curl_app(settings, demo_store)
    server = WSGIServer(
        ("127.0.0.1", 0),
        app,
        log=None,
        error_log=None,
        handler_class=wsgi_handler_class(),
    )
    server.start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.server_port))
        for user in ("2301", "2302", "9999"):
            form = {"section": "directory", "user": user, "domain": "pbx.local"}
            sock.sendall(_request(urlencode(form).encode()))
            with gevent.Timeout(5):
                head, body = _read(sock)
            assert head.startswith(b"HTTP/1.1 200")
            assert b"Content-Type: text/xml" in head
            expected = f'<user id="{user}"'.encode() if user != "9999" else b"not found"
            assert expected in body
        sock.close()
    finally:
        server.stop()
