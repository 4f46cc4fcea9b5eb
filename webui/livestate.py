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
from orchestrator.domain import numbering
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


def snapshot(live: redis.Redis, country: str = "NL") -> dict[str, Any]:
    return {
        "type": "snapshot",
        "calls": [shown(call, country) for call in calls(live)],
        "presence": presence(live),
    }


def shown(call: dict[str, Any], country: str = "NL") -> dict[str, Any]:
    """A live call with its numbers as people write them.

    The switch gives numbers in E.164 (``+31612345678``); the page shows
    ``06 12345678``. A caller name that is only the number again (what the
    switch puts there when the caller sent none) is no name.
    """
    number = call.get("from")
    name = call.get("from_name")
    extra: dict[str, Any] = {
        "from_shown": _number(number, country),
        "to_shown": _number(call.get("to"), country),
    }
    if name and isinstance(number, str) and _digits(name) == _digits(number):
        extra["from_name"] = ""
    return call | extra


def shown_text(text: str, country: str = "NL") -> str:
    """`shown` for a live event as published (JSON text); others as they are."""
    if '"type":"call"' not in text.replace(" ", ""):
        return text
    try:
        event = json.loads(text)
    except ValueError:
        return text
    if not isinstance(event, dict) or event.get("type") != "call":
        return text
    return json.dumps(shown(event, country), separators=(",", ":"))


def _number(value: Any, country: str) -> str:
    if not isinstance(value, str):
        return ""
    if value.startswith("+"):
        return numbering.national(value, country)
    return value


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


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
