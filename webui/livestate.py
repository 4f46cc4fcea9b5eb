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
    """A live call with its numbers as people write them, and a caller label.

    The switch gives numbers in E.164 (``+31612345678``); the page shows
    ``06 12345678``. ``from_label`` is what the page shows for the caller:
    the name and the number, the number once where the name already holds
    it (the switch puts the number in the name when the caller sent none;
    a hunt group puts its own name before it).
    """
    number = call.get("from")
    name = call.get("from_name")
    from_shown = _readable(number, country)
    label = from_shown
    if isinstance(name, str) and name.strip():
        name = name.strip()
        if isinstance(number, str) and number and name.endswith(number):
            label = (name[: -len(number)] + from_shown).strip()
        elif from_shown and not name.endswith(from_shown):
            label = f"{name} {from_shown}"
        else:
            label = name
    return call | {
        "from_shown": from_shown,
        "from_label": label,
        "to_shown": _readable(call.get("to"), country),
    }


def shown_text(text: str, country: str = "NL") -> str:
    """`shown` for a live event as published (JSON text); others as they are."""
    try:
        event = json.loads(text)
    except ValueError:
        return text
    if not isinstance(event, dict) or event.get("type") != "call":
        return text
    return json.dumps(shown(event, country), separators=(",", ":"))


def _readable(value: Any, country: str) -> str:
    return numbering.readable(value, country) if isinstance(value, str) else ""


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
