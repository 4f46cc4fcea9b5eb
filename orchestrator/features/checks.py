"""Telephony checks the configuration's validation runs on every publish.

Whatever path a change takes (self-service page, admin portal, API, import,
restore), these refuse what the switch would carry out badly:

- forwards and hunt-group fallbacks that can go round in a circle, of any
  kind (on busy, on no answer ... not only "always"), also through a
  colleague's DID typed as an outside number;
- hunt-group settings the dialplan cannot honour (a member ringing longer
  than the group waits, a group falling back to itself);
- a one-number delay the mobile would never reach;
- a caller-ID policy naming a number that is not there.

Each failure is raised as the configuration's own validation error, so it
is reported like every other refused change.
"""

from __future__ import annotations

import logging
from typing import Any

from orchestrator.domain import callerid, forwarding, hunt
from orchestrator.domain.dialstring import DialStringError, check_one_number
from orchestrator.store import models as m

log = logging.getLogger(__name__)


def check_telephony(rows: Any) -> None:
    """``rows`` is the validation's view of the rows after the change."""
    from orchestrator.config import validate as v

    users = {u.id: u for u in rows(m.User) if u.id is not None}
    groups = {g.id: g for g in rows(m.HuntGroup) if g.id is not None}
    _check_loops(rows, users, groups, v)
    _check_groups(rows, groups, v)
    orgs = rows(m.Organisation)
    main_number = orgs[0].main_number if orgs else None
    for user in users.values():
        try:
            callerid.check_policy(user, main_number)
        except callerid.CallerIdError as exc:
            raise v.InvalidValue(exc.field, exc.message, item=v.describe(user)) from exc
        try:
            check_one_number(user.one_number, user.one_number_delay or 0,
                             user.ring_seconds)  # fmt: skip
        except DialStringError as exc:
            raise v.InvalidValue(
                "one_number_delay", str(exc), item=v.describe(user)
            ) from exc


def _check_loops(rows: Any, users: dict[int, Any], groups: dict[int, Any], v: Any):
    numbers: dict[str, forwarding.Node] = {}
    for user in users.values():
        if user.did:
            numbers[user.did] = ("user", user.id)
    for group in groups.values():
        if group.number:
            numbers[group.number] = ("hunt_group", group.id)
    rules = [f for f in rows(m.CallForward) if f.user_id is not None]
    ctx = forwarding.ForwardContext(users=users, hunt_groups=groups)
    try:
        forwarding.check_hunt_fallbacks(rules, ctx, numbers)
    except forwarding.ForwardingLoop as exc:
        raise v.ForwardingLoop("target_id", exc.message) from exc


def _check_groups(rows: Any, groups: dict[int, Any], v: Any) -> None:
    known = {
        "queue": [q.id for q in rows(m.Queue)],
        "hunt_group": list(groups),
        "user": [u.id for u in rows(m.User)],
        "ivr": [i.id for i in rows(m.IvrMenu)],
        "oncall": [o.id for o in rows(m.OnCallGroup)],
        "announcement": [a.id for a in rows(m.Announcement)],
    }
    for group in groups.values():
        try:
            hunt.check_group(group, known=known)
        except hunt.HuntGroupError as exc:
            raise v.InvalidValue(
                exc.field, exc.message, item=v.describe(group)
            ) from exc
