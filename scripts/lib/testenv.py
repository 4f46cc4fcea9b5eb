"""Helpers for scripts/test: probe servers, create and drop run databases.

Run with the project's virtualenv (it needs psycopg and redis):

    python scripts/lib/testenv.py pg-probe URL
    python scripts/lib/testenv.py pg-create ADMIN_URL NAME   # prints the URL
    python scripts/lib/testenv.py pg-drop ADMIN_URL PREFIX   # NAME and NAME_*
    python scripts/lib/testenv.py redis-probe URL

Exit status 0 means success; a probe that fails prints why on stderr.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from psycopg import sql


def libpq_url(url: str) -> str:
    """The URL psycopg accepts: SQLAlchemy's ``+driver`` suffix removed."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise SystemExit(f"not a PostgreSQL URL: {url}")
    return urlunsplit(parts._replace(scheme="postgresql"))


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` pointed at database ``name``, in SQLAlchemy form."""
    parts = urlsplit(libpq_url(admin_url))
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", path=f"/{name}"))


def pg_probe(url: str) -> int:
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        print(f"PostgreSQL at {url}: {exc}".strip(), file=sys.stderr)
        return 1
    return 0


def pg_create(admin_url: str, name: str) -> int:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(database_url(admin_url, name))
    return 0


def pg_drop(admin_url: str, prefix: str) -> int:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s",
            (prefix, prefix.replace("_", r"\_") + r"\_%"),
        ).fetchall()
        for (name,) in rows:
            # FORCE ends connections a crashed test may have left open.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )
    return 0


def redis_probe(url: str) -> int:
    try:
        redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        print(f"Redis at {url}: {exc}", file=sys.stderr)
        return 1
    return 0


COMMANDS = {
    "pg-probe": pg_probe,
    "pg-create": pg_create,
    "pg-drop": pg_drop,
    "redis-probe": redis_probe,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](*argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
