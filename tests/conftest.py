"""Fixtures shared by the whole suite.

Servers come from the environment that ``scripts/test`` prepares (see its
header): ``SCHAKEL_TEST_ADMIN_URL``, ``SCHAKEL_TEST_DATABASE_URL`` and
``SCHAKEL_TEST_REDIS_URL``. Run plain ``pytest`` and the fixtures look for
PostgreSQL and Redis on 127.0.0.1 themselves. A test whose server is missing
is skipped, except with ``CI=true``, where it fails: CI must run everything.

Nothing here monkey-patches for gevent; a test module that needs it decides.
"""

from __future__ import annotations

import email
import email.policy
import os
import secrets
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

from orchestrator import settings as settings_mod

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Fixtures that imply a marker, so that ``-m "not browser"`` and the like work
# without every test repeating the mark.
_FIXTURE_MARKS = {
    "pg_url": "postgres",
    "fresh_pg_url": "postgres",
    "redis_url": "redis",
    "chromium": "browser",
    "page": "browser",
}


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it under CI where nothing may be skipped."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture_name, mark in _FIXTURE_MARKS.items():
            if fixture_name in getattr(item, "fixturenames", ()):
                item.add_marker(mark)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"CI: {IN_CI}",
        "postgres: "
        + _hide_password(os.environ.get("SCHAKEL_TEST_ADMIN_URL", DEFAULT_PG_ADMIN)),
        "redis: " + os.environ.get("SCHAKEL_TEST_REDIS_URL", DEFAULT_REDIS),
    ]


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


# --- settings and ports ------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> settings_mod.Settings:
    """Defaults only (the caller's environment is ignored), state in tmp_path.

    SQLite database and in-process Redis, so a test that takes only this
    fixture needs no server. Change it with ``settings.replace(...)``.
    """
    return settings_mod.load(env={}).replace(
        database_url=f"sqlite:///{tmp_path / 'schakel.db'}",
        redis_url=f"memory://{secrets.token_hex(4)}",
        secret_key="test-secret-key",
        sounds_dir=str(tmp_path / "sounds"),
        voicemail_dir=str(tmp_path / "voicemail"),
        templates_root=str(ROOT),
    )


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo organisation, migrated and seeded once per test process.

    A SQLite file to copy, never to change: `demo_store` gives each test a
    copy of its own.
    """
    from orchestrator.store.db import Store
    from orchestrator.store.seed import seed

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    seed(store)
    store.dispose()
    return path


@pytest.fixture
def demo_store(settings: settings_mod.Settings, demo_db: Path) -> Iterator[Any]:
    """The demo organisation in this test's own database (``settings``)."""
    from orchestrator.store.db import Store

    target = Path(settings.database_url.removeprefix("sqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo_db, target)
    store = Store(settings.database_url)
    yield store
    store.dispose()


def find_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    return find_free_port()


# --- PostgreSQL --------------------------------------------------------------


def _libpq(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def _sqlalchemy_url(admin_url: str, database: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", path=f"/{database}"))


def _admin_url() -> str:
    url = os.environ.get("SCHAKEL_TEST_ADMIN_URL")
    if url:
        return url
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else DEFAULT_PG_ADMIN


def _create_database(admin_url: str, name: str) -> str:
    import psycopg
    from psycopg import sql

    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=3) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _sqlalchemy_url(admin_url, name)


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=3) as c:
        # FORCE: a pool a test forgot to dispose must not keep the database.
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        c.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """A connection to the PostgreSQL server with the right to create databases."""
    import psycopg

    url = _admin_url()
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL not available at {_hide_password(url)}: {exc}")
    return url


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """An empty database of this test session (one per xdist worker).

    A SQLAlchemy URL (``postgresql+psycopg://``). It is empty when the session
    starts, not between tests: tests that share it clean up what they make,
    or use ``fresh_pg_url``. Dropped at the end of the session.
    """
    run_url = os.environ.get("SCHAKEL_TEST_DATABASE_URL")
    if run_url and WORKER == "main":
        # scripts/test made this database for this very run; it is empty.
        yield run_url
        return

    if run_url:
        name = f"{urlsplit(run_url).path.lstrip('/')}_{WORKER}"
    else:
        name = f"schakel_test_{secrets.token_hex(4)}_{WORKER}"
    url = _create_database(pg_admin_url, name)
    yield url
    _drop_database(pg_admin_url, name)


@pytest.fixture
def fresh_pg_url(pg_admin_url: str) -> Iterator[str]:
    """A brand-new empty database for one test (e.g. a migration test)."""
    base = os.environ.get("SCHAKEL_TEST_DATABASE_URL")
    prefix = urlsplit(base).path.lstrip("/") if base else "schakel_test"
    name = f"{prefix}_{WORKER}_{secrets.token_hex(3)}"
    url = _create_database(pg_admin_url, name)
    yield url
    _drop_database(pg_admin_url, name)


# --- Redis -------------------------------------------------------------------

# Claims live in database 0 of the server as keys with a lifetime, so that
# concurrent runs against one shared Redis never use the same database, and
# a crashed run frees its database an hour later.
_CLAIM_KEY = "schakel-test:claim:{}"
_CLAIM_SECONDS = 3600


def _redis_base_url() -> str:
    url = os.environ.get("SCHAKEL_TEST_REDIS_URL")
    if url:
        return url
    url = os.environ.get("REDIS_URL", "")
    return url if url.startswith("redis") else DEFAULT_REDIS


def _with_db(url: str, db: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


def _database_count(client: Any) -> int:
    import redis

    try:
        return int(client.config_get("databases").get("databases", 16))
    except redis.ResponseError:
        # CONFIG may be renamed away on managed servers.
        return 16


@pytest.fixture(scope="session")
def _redis_db() -> Iterator[str]:
    import redis

    base = _redis_base_url()
    try:
        admin = redis.Redis.from_url(_with_db(base, 0), socket_timeout=3)
        admin.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not available at {base}: {exc}")

    token = secrets.token_hex(8)
    for db in range(1, _database_count(admin)):
        if admin.set(_CLAIM_KEY.format(db), token, nx=True, ex=_CLAIM_SECONDS):
            break
    else:
        unavailable(f"every database of the Redis at {base} is claimed by a test run")

    url = _with_db(base, db)
    yield url
    redis.Redis.from_url(url).flushdb()
    if admin.get(_CLAIM_KEY.format(db)) == token.encode():
        admin.delete(_CLAIM_KEY.format(db))
    admin.close()


@pytest.fixture
def redis_url(_redis_db: str) -> str:
    """A Redis database of this test process, emptied before each test."""
    import redis

    client = redis.Redis.from_url(_redis_db)
    client.flushdb()
    client.close()
    return _redis_db


# --- shared reference material -------------------------------------------------


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """What a real FreeSWITCH sent, recorded: ``<repo>/../shared/freeswitch-captures``.

    ``SCHAKEL_CAPTURES_DIR`` points elsewhere.
    """
    default = ROOT.parent / "shared" / "freeswitch-captures"
    path = Path(os.environ.get("SCHAKEL_CAPTURES_DIR", default))
    if not (path / "README.md").is_file():
        unavailable(f"FreeSWITCH captures not found at {path}")
    return path


# --- mail ----------------------------------------------------------------------


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_to: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""

    host: str
    port: int
    messages: list[ReceivedMail] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        with self._arrived:
            self.messages.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message)
            )
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until ``count`` messages have arrived; fail after ``timeout``."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                pytest.fail(
                    f"expected {count} mail(s) within {timeout}s, "
                    f"got {len(self.messages)}"
                )
            return list(self.messages)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Point ``smtp_host``/``smtp_port`` at it; read ``.messages`` or ``.wait_for()``."""
    from aiosmtpd.controller import Controller

    server = SmtpServer(host="127.0.0.1", port=find_free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    yield server
    controller.stop()


# --- browser -------------------------------------------------------------------


def _chromium_path() -> str | None:
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright's sync API.

    Playwright never downloads a browser here: ``executable_path`` names the
    system one.
    """
    path = _chromium_path()
    if path is None:
        unavailable(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A page in a fresh browser context (own cookies), Dutch as users have it."""
    context = chromium.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
