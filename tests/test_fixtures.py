"""The shared fixtures do what conftest.py promises."""

from __future__ import annotations

import http.server
import smtplib
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from orchestrator.settings import Settings


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_settings_ignore_the_callers_environment(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHAKEL_HTTP_PORT", "1")

    assert settings.http_port == 8080
    assert str(tmp_path) in settings.database_url
    assert settings.redis_url.startswith("memory://")


def test_free_port_can_be_listened_on(free_port: int) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port))
        sock.listen()


def test_pg_url_is_a_test_database_of_its_own(pg_url: str, pg_admin_url: str) -> None:
    # Other tests of this session may have made tables in it already: it is
    # empty when the session starts, not before each test.
    with psycopg.connect(libpq(pg_url)) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]

    assert pg_url.startswith("postgresql+psycopg://")
    assert name.startswith("schakel_test_")
    assert name != pg_admin_url.rsplit("/", 1)[1]


def test_fresh_pg_url_is_empty_and_apart_from_the_session_database(
    pg_url: str, fresh_pg_url: str
) -> None:
    with psycopg.connect(libpq(fresh_pg_url)) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = 'public'"
        ).fetchone()[0]
        conn.execute("CREATE TABLE scratch (id integer)")

    assert tables == 0
    assert fresh_pg_url != pg_url
    with psycopg.connect(libpq(pg_url)) as conn:
        found = conn.execute("SELECT to_regclass('public.scratch')").fetchone()[0]
    assert found is None


def test_redis_url_starts_empty_and_is_not_database_zero(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)

    assert client.dbsize() == 0
    assert client.connection_pool.connection_kwargs["db"] != 0
    client.set("schakel:probe", "1")
    assert client.get("schakel:probe") == b"1"


def test_redis_url_is_emptied_between_tests(redis_url: str) -> None:
    # Run in either order with the test above: each sees an empty database.
    assert redis.Redis.from_url(redis_url).dbsize() == 0


def test_captures_dir_holds_the_recordings(captures_dir: Path) -> None:
    readme = (captures_dir / "README.md").read_text(encoding="utf-8")

    assert "FreeSWITCH" in readme
    assert (captures_dir / "01-esl-protocol" / "events.jsonl").is_file()


def test_smtp_server_receives_a_message(smtp_server: Any) -> None:
    message = EmailMessage()
    message["From"] = "schakel@gemeente.example"
    message["To"] = "piket@gemeente.example"
    message["Subject"] = "Voicemail van 0317 492 300"
    message.set_content("Nieuwe voicemail.")

    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.send_message(message)

    (received,) = smtp_server.wait_for(1)
    assert received.rcpt_to == ["piket@gemeente.example"]
    assert received.message["Subject"] == "Voicemail van 0317 492 300"
    assert received.message.get_content().strip() == "Nieuwe voicemail."


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html lang='nl'><h1 id=t>Schakel</h1><p id=l></p>"
        script = b"<script>document.getElementById('l').textContent="
        script += b"navigator.language</script>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body + script)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_site(free_port: int) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{free_port}/"
    server.shutdown()
    server.server_close()


def test_page_renders_in_headless_chromium(page: Any, local_site: str) -> None:
    page.goto(local_site)

    assert page.inner_text("#t") == "Schakel"
    assert page.inner_text("#l") == "nl-NL"


def test_markers_follow_the_fixtures(request: pytest.FixtureRequest) -> None:
    items = {item.name: item for item in request.session.items}
    marks = {
        name: {mark.name for mark in item.iter_markers()}
        for name, item in items.items()
    }

    if "test_pg_url_is_a_test_database_of_its_own" in marks:
        assert "postgres" in marks["test_pg_url_is_a_test_database_of_its_own"]
    if "test_page_renders_in_headless_chromium" in marks:
        assert "browser" in marks["test_page_renders_in_headless_chromium"]
