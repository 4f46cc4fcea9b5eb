"""Counting failed sign-ins in the live store, shared by every web process.

A fixed window per key: the first failure starts the window, later ones
count, and the key expires with the window. Good enough to stop password
guessing; it needs no clock of its own because Redis expires the keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from webui import errors

log = logging.getLogger(__name__)

PREFIX = "schakel:ratelimit:"


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window_s: int


# Per account: a handful of guesses; per address: a whole office behind one
# NAT address signing in on Monday morning must not be locked out.
PER_ACCOUNT = Limit("account", attempts=5, window_s=600)
PER_ADDRESS = Limit("address", attempts=50, window_s=600)


class FailureCounter:
    def __init__(self, live: redis.Redis) -> None:
        self.live = live

    def check(self, limit: Limit, key: str) -> None:
        """Raise :class:`TooManyAttempts` while ``key`` is over ``limit``."""
        name = self._key(limit, key)
        count = int(self.live.get(name) or 0)
        if count >= limit.attempts:
            ttl = self.live.ttl(name)
            log.info("sign-in refused for %s %s: %s failures", limit.name, key, count)
            raise errors.TooManyAttempts(retry_after=max(int(ttl), 1))

    def fail(self, limit: Limit, key: str) -> None:
        name = self._key(limit, key)
        with self.live.pipeline() as pipe:
            pipe.incr(name)
            pipe.expire(name, limit.window_s, nx=True)
            pipe.execute()

    def reset(self, limit: Limit, key: str) -> None:
        self.live.delete(self._key(limit, key))

    @staticmethod
    def _key(limit: Limit, key: str) -> str:
        return f"{PREFIX}{limit.name}:{key.lower()}"
