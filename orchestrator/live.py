"""Live state: agent states, queue positions, call ownership, presence.

It lives in Redis so that several orchestrator processes share it and a
restart loses nothing. The embedded demo has no Redis server: the URL
``memory://`` gives fakeredis, the same interface kept in this process.
"""

from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)

_MEMORY_SERVERS: dict[str, object] = {}


def connect(url: str) -> redis.Redis:
    """A Redis client for ``url``; ``memory://[name]`` is an in-process server.

    Every ``memory://`` client with the same name shares one server, as
    clients of one real Redis do.
    """
    if url.startswith("memory://"):
        import fakeredis

        name = url.removeprefix("memory://") or "default"
        server = _MEMORY_SERVERS.setdefault(name, fakeredis.FakeServer())
        return fakeredis.FakeRedis(server=server, decode_responses=True)
    # Many call greenlets share one client: a blocking pool makes a burst wait
    # for a free connection instead of failing with "Too many connections".
    pool = redis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        health_check_interval=30,
        max_connections=64,
        timeout=5,
    )
    return redis.Redis(connection_pool=pool)
