"""From the switch's directory id of a channel to the user it belongs to.

The switch knows users by their directory id: the SIP user a device
registers as, or a user's extension or user name (a voicemail box, a
``user/<id>`` dial string). This module maps any of them to the user.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from orchestrator.store import models as m
from orchestrator.store.db import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserRef:
    """What the live features need to know about a user."""

    id: int
    username: str
    name: str
    email: str | None
    language: str
    dnd: bool
    extension: str | None
    did: str | None
    voicemail_to_email: bool

    @classmethod
    def of(cls, user: m.User) -> UserRef:
        return cls(
            id=user.id,
            username=user.username,
            name=user.name,
            email=user.email,
            language=user.language or "nl",
            dnd=bool(user.dnd),
            extension=user.extension,
            did=user.did,
            voicemail_to_email=bool(user.voicemail_to_email),
        )

    @property
    def number(self) -> str | None:
        """The number colleagues and callers know this user by."""
        return self.did or self.extension


def find_user(session: Session, directory_id: str) -> m.User | None:
    """The user behind a directory id: device SIP user, extension, user name."""
    if not directory_id:
        return None
    device_user = session.scalar(
        select(m.User)
        .join(m.Device, m.Device.user_id == m.User.id)
        .where(m.Device.sip_user == directory_id)
    )
    if device_user is not None:
        return device_user
    return session.scalar(
        select(m.User).where(
            or_(
                m.User.extension == directory_id,
                m.User.username == directory_id,
                m.User.did == directory_id,
            )
        )
    )


class UserDirectory:
    """A cache of directory id -> `UserRef`, read from the store.

    The whole mapping is reloaded when an id is not known (at most once per
    ``ttl`` seconds) or is older than ``ttl``; when the store is down the
    last known mapping keeps serving.
    """

    def __init__(
        self,
        store: Store,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock
        self._by_id: dict[str, UserRef] = {}
        self._by_username: dict[str, UserRef] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def lookup(self, directory_id: str | None) -> UserRef | None:
        if not directory_id:
            return None
        if self._stale() or directory_id not in self._by_id:
            self._reload(force=self._stale())
        return self._by_id.get(directory_id)

    def by_username(self, username: str) -> UserRef | None:
        if self._stale() or username not in self._by_username:
            self._reload(force=self._stale())
        return self._by_username.get(username)

    def invalidate(self) -> None:
        """Forget everything: the next lookup reads the store."""
        with self._lock:
            self._loaded_at = None

    def _stale(self) -> bool:
        loaded = self._loaded_at
        return loaded is None or self._clock() - loaded > self.ttl

    def _reload(self, force: bool) -> None:
        with self._lock:
            loaded = self._loaded_at
            if not force and loaded is not None and self._clock() - loaded < 1.0:
                return
            try:
                by_id, by_username = self._read()
            except SQLAlchemyError as exc:
                log.warning("user directory not refreshed, store unavailable: %s", exc)
                return
            self._by_id, self._by_username = by_id, by_username
            self._loaded_at = self._clock()

    def _read(self) -> tuple[dict[str, UserRef], dict[str, UserRef]]:
        by_id: dict[str, UserRef] = {}
        by_username: dict[str, UserRef] = {}
        with self.store.session() as session:
            users = session.scalars(select(m.User)).all()
            refs = {user.id: UserRef.of(user) for user in users}
            for user in users:
                ref = refs[user.id]
                by_username[user.username] = ref
                for key in (user.did, user.username, user.extension):
                    if key:
                        by_id[key] = ref
            devices = session.execute(select(m.Device.sip_user, m.Device.user_id))
            for sip_user, user_id in devices:
                if user_id in refs:
                    by_id[sip_user] = refs[user_id]
        return by_id, by_username
