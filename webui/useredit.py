"""Checking and applying an admin's edit of a user.

Input arrives as plain strings (a form or a JSON body) and is checked as a
whole: every field's problem is reported at once, in the user's language,
and nothing is stored unless all of it is right.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.domain import numbering
from orchestrator.domain.numberplan import NumberPlan
from orchestrator.store import models as m
from webui import audit, errors

log = logging.getLogger(__name__)

ROLES = [r.value for r in m.Role]
FIELDS = (
    "name",
    "email",
    "did",
    "extension",
    "mobile",
    "roles",
    "profile_id",
    "active",
)
MAX_NAME = 200
USERNAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,79}$")


def current_values(user: m.User) -> dict[str, Any]:
    return {
        "name": user.name,
        "email": user.email,
        "did": user.did,
        "extension": user.extension,
        "mobile": user.mobile,
        "roles": sorted(user.roles or []),
        "profile_id": user.profile_id,
        "active": user.active,
    }


def parse(
    db: Session, user: m.User | None, form: Mapping[str, Any], country: str
) -> dict[str, Any]:
    """Checked values from ``form``; raise :class:`InvalidInput` listing problems."""
    problems: dict[str, Any] = {}
    values: dict[str, Any] = {}

    name = str(form.get("name") or "").strip()
    if not name:
        problems["name"] = _l("Fill in a name.")
    elif len(name) > MAX_NAME:
        problems["name"] = _l("The name is too long.")
    values["name"] = name

    email = str(form.get("email") or "").strip()
    if email and ("@" not in email or len(email) > 200 or " " in email):
        problems["email"] = _l("This is not an e-mail address.")
    values["email"] = email or None

    values["did"] = _number(form.get("did"), "did", problems, country)
    values["mobile"] = _number(form.get("mobile"), "mobile", problems, country)
    values["extension"] = _extension(form.get("extension"), problems)
    values["roles"] = _roles(form, problems)
    values["profile_id"] = _profile(db, form.get("profile_id"), problems)
    values["active"] = _truthy(form.get("active", "on" if user is None else ""))

    if values["did"] and "did" not in problems:
        _check_block(db, values["did"], problems)
    _check_unique(db, user, values, problems, country)
    if problems:
        raise errors.InvalidInput(details=problems)
    return values


def _number(raw: Any, field: str, problems: dict[str, Any], country: str) -> str | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return numbering.normalise(text, country)
    except numbering.InvalidNumber:
        problems[field] = _l("This is not a valid telephone number.")
        return None


def _extension(raw: Any, problems: dict[str, Any]) -> str | None:
    text = numbering.clean(str(raw or ""))
    if not text:
        return None
    if not m.SHORT.match(text):
        problems["extension"] = _l("An extension has 2 to 6 digits.")
        return None
    return text


def _roles(form: Mapping[str, Any], problems: dict[str, Any]) -> list[str]:
    if hasattr(form, "getlist"):
        chosen = form.getlist("roles")
    else:
        chosen = form.get("roles") or []
    if isinstance(chosen, str) or not isinstance(chosen, list):
        problems["roles"] = _l("Choose roles from the list.")
        return []
    unknown = [r for r in chosen if r not in ROLES]
    if unknown:
        problems["roles"] = _l("Choose roles from the list.")
    return sorted({str(r) for r in chosen if r in ROLES})


def _profile(db: Session, raw: Any, problems: dict[str, Any]) -> int | None:
    if raw in (None, ""):
        return None
    try:
        profile_id = int(raw)
    except (TypeError, ValueError):
        profile_id = 0
    if db.get(m.Profile, profile_id) is None:
        problems["profile_id"] = _l("Choose a profile from the list.")
        return None
    return profile_id


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").lower() in ("1", "on", "true", "yes")


def _check_block(db: Session, did: str, problems: dict[str, Any]) -> None:
    blocks = db.scalars(select(m.NumberBlock)).all()
    if blocks and not any(did in block for block in blocks):
        problems["did"] = _l("This number is not in one of our number blocks.")


def _check_unique(
    db: Session,
    user: m.User | None,
    values: dict[str, Any],
    problems: dict[str, Any],
    country: str,
) -> None:
    plan = _plan_without(db, user, country)
    for field in ("did", "extension"):
        wanted = values[field]
        if not wanted or field in problems:
            continue
        taken = plan.try_resolve(wanted)
        if taken is not None:
            problems[field] = _l("Already in use by %(label)s.", label=taken.label)


def _plan_without(db: Session, user: m.User | None, country: str) -> NumberPlan:
    skip = user.id if user is not None else None
    return NumberPlan.from_config(
        users=[u for u in db.scalars(select(m.User)) if u.id != skip],
        inbound_numbers=db.scalars(select(m.InboundNumber)).all(),
        hunt_groups=db.scalars(select(m.HuntGroup)).all(),
        queues=db.scalars(select(m.Queue)).all(),
        menus=db.scalars(select(m.IvrMenu)).all(),
        oncall_groups=db.scalars(select(m.OnCallGroup)).all(),
        country=country,
    )


def apply(
    db: Session, actor: m.User, user: m.User, values: dict[str, Any]
) -> dict[str, list[Any]]:
    """Store ``values`` on ``user`` with an audit entry; the changes made."""
    if user.id == actor.id and m.Role.ADMIN not in values["roles"]:
        raise errors.InvalidInput(
            details={"roles": _l("You cannot take away your own admin role.")}
        )
    if user.id == actor.id and not values["active"]:
        raise errors.InvalidInput(
            details={"active": _l("You cannot switch off your own account.")}
        )
    made = audit.changes(current_values(user), values)
    for field, value in values.items():
        setattr(user, field, value)
    if made:
        audit.record(db, "admin.user.updated", actor, user_id=user.id, changes=made)
    return made


def create(db: Session, actor: m.User, username: str, values: dict[str, Any]) -> m.User:
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise errors.InvalidInput(
            details={"username": _l("Use letters, digits, dots and dashes.")}
        )
    if db.scalar(select(m.User).where(m.User.username == username)) is not None:
        raise errors.InvalidInput(details={"username": _l("This name is taken.")})
    user = m.User(username=username, **values)
    db.add(user)
    db.flush()
    audit.record(
        db, "admin.user.created", actor, user_id=user.id, values=current_values(user)
    )
    return user
