"""Reading live state for the live page: who is present, which calls are up."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.calls.presence import CALLS_KEY, PRESENCE_KEY
from orchestrator.store import models as m

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Person:
    user_id: int
    username: str
    name: str
    extension: str | None
    state: str
    dnd: bool


def presence(live: redis.Redis) -> dict[str, str]:
    try:
        return dict(live.hgetall(PRESENCE_KEY))
    except redis.RedisError:
        log.warning("presence unavailable: Redis unreachable")
        return {}


def calls(live: redis.Redis) -> list[dict[str, Any]]:
    try:
        raw = live.hgetall(CALLS_KEY)
    except redis.RedisError:
        log.warning("live calls unavailable: Redis unreachable")
        return []
    found = []
    for uuid, text in raw.items():
        try:
            call = json.loads(text)
        except ValueError:
            log.warning("call %s has unreadable live state", uuid)
            continue
        if isinstance(call, dict):
            found.append(call | {"uuid": uuid})
    return found


def snapshot(live: redis.Redis) -> dict[str, Any]:
    return {"type": "snapshot", "calls": calls(live), "presence": presence(live)}


def people(db: Session, live: redis.Redis) -> list[Person]:
    states = presence(live)
    users = db.scalars(
        select(m.User)
        .where(m.User.active, m.User.extension.is_not(None))
        .order_by(m.User.name)
    )
    return [
        Person(
            user_id=user.id,
            username=user.username,
            name=user.name,
            extension=user.extension,
            state=states.get(user.username, "dnd" if user.dnd else "offline"),
            dnd=user.dnd,
        )
        for user in users
    ]
