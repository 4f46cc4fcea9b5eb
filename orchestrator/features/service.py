"""Changing a user's telephony settings, and publishing the change.

Every function here changes the store through
:func:`orchestrator.config.revisions.publish`: the change is checked (by the
domain rules here, then by the configuration's own validation), stored as a
new revision and announced, after which the switch fetches the new
dialplan. A refused change raises and leaves the store as it was.

Exceptions (each with ``status`` and ``error_id``):

- :class:`UnknownUser`, :class:`UnknownHuntGroup` (404);
- :class:`orchestrator.domain.hunt.NotAMember` (422);
- :class:`orchestrator.domain.forwarding.ForwardingError` and its kinds:
  invalid target, barred by the traffic class, loop (422);
- :class:`orchestrator.config.validate.ValidationError` from the
  configuration's own checks (422).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.config.notifier import Notifier
from orchestrator.config.revisions import publish
from orchestrator.domain import numbering
from orchestrator.domain.forwarding import (
    ForwardContext,
    ForwardRule,
    InvalidForwardTarget,
    check_no_loop,
    check_rule,
)
from orchestrator.domain.hunt import check_membership
from orchestrator.domain.numberplan import NumberPlan, area_prefix
from orchestrator.domain.traffic import Rights, effective_rights
from orchestrator.settings import Settings
from orchestrator.store import models as m
from orchestrator.store.db import Store

log = logging.getLogger(__name__)


class FeatureError(LookupError):
    """Base of the failures of this module that are not validation."""

    status = 404
    error_id = "not-found"


class UnknownUser(FeatureError):
    error_id = "unknown-user"

    def __init__(self, user_id: int) -> None:
        super().__init__(f"there is no user {user_id}")
        self.user_id = user_id


class UnknownHuntGroup(FeatureError):
    error_id = "unknown-hunt-group"

    def __init__(self, what: int | str) -> None:
        super().__init__(f"there is no hunt group {what}")
        self.what = what


def _user(session: Session, user_id: int) -> m.User:
    user = session.get(m.User, user_id)
    if user is None:
        raise UnknownUser(user_id)
    return user


def _publish(
    store: Store,
    actor: str,
    summary: str,
    change: Callable[[Session], Any],
    settings: Settings | None,
    notifier: Notifier | None,
) -> None:
    publish(store, actor, summary, change, settings=settings, notifier=notifier)


# --- hunt groups -------------------------------------------------------------


def set_hunt_membership(
    store: Store,
    user_id: int,
    group_id: int,
    logged_in: bool,
    *,
    actor: str | None = None,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
) -> bool:
    """Log a member in to (or out of) a hunt group; False if nothing changed."""
    with store.session() as session:
        group = session.get(m.HuntGroup, group_id)
        if group is None:
            raise UnknownHuntGroup(group_id)
        user = _user(session, user_id)
        member = check_membership(group.members, user_id, group.name)
        if member.logged_in == logged_in:
            return False
        label = f"{user.name} {'logged in to' if logged_in else 'logged out of'}"
        summary = f"{label} hunt group {group.name}"

    def change(session: Session) -> None:
        row = session.scalars(
            select(m.HuntGroupMember).where(
                m.HuntGroupMember.group_id == group_id,
                m.HuntGroupMember.user_id == user_id,
            )
        ).one()
        row.logged_in = logged_in

    _publish(store, actor or f"user:{user_id}", summary, change, settings, notifier)
    log.info(
        "user %s %s hunt group %s", user_id, "in" if logged_in else "out", group_id
    )
    return True


def set_hunt_login(
    store: Store,
    user_id: int,
    logged_in: bool,
    *,
    group_extension: str | None = None,
    actor: str | None = None,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
) -> list[str]:
    """Log in to (or out of) one group by its extension, or all of the user's.

    What a desk phone does with a feature code. Returns the names of the
    groups that changed.
    """
    with store.session() as session:
        _user(session, user_id)
        memberships = session.execute(
            select(m.HuntGroupMember.group_id, m.HuntGroup.name, m.HuntGroup.extension)
            .join(m.HuntGroup, m.HuntGroup.id == m.HuntGroupMember.group_id)
            .where(m.HuntGroupMember.user_id == user_id)
        ).all()
        if group_extension:
            group = session.scalars(
                select(m.HuntGroup).where(m.HuntGroup.extension == group_extension)
            ).first()
            if group is None:
                raise UnknownHuntGroup(group_extension)
            check_membership(group.members, user_id, group.name)
            memberships = [r for r in memberships if r.group_id == group.id]
    changed = []
    for group_id, name, _extension in memberships:
        if set_hunt_membership(
            store,
            user_id,
            group_id,
            logged_in,
            actor=actor,
            settings=settings,
            notifier=notifier,
        ):
            changed.append(name)
    return changed


# --- do not disturb ----------------------------------------------------------


def set_dnd(
    store: Store,
    user_id: int,
    on: bool,
    *,
    actor: str | None = None,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
) -> bool:
    """Switch do-not-disturb on or off; False if it already was."""
    with store.session() as session:
        user = _user(session, user_id)
        if user.dnd == on:
            return False
        summary = f"{user.name}: do not disturb {'on' if on else 'off'}"

    def change(session: Session) -> None:
        _user(session, user_id).dnd = on

    _publish(store, actor or f"user:{user_id}", summary, change, settings, notifier)
    log.info("user %s do-not-disturb %s", user_id, "on" if on else "off")
    return True


# --- forwarding --------------------------------------------------------------


def forward_context(session: Session, country: str = "NL") -> ForwardContext:
    """What checking a forwarding rule needs, read from the store."""
    users = {u.id: u for u in session.scalars(select(m.User))}
    groups = {g.id: g for g in session.scalars(select(m.HuntGroup))}
    queues = {q.id: q.name for q in session.scalars(select(m.Queue))}
    org = session.scalars(select(m.Organisation).order_by(m.Organisation.id)).first()
    plan = NumberPlan.from_config(
        users=users.values(),
        inbound_numbers=session.scalars(select(m.InboundNumber)).all(),
        hunt_groups=groups.values(),
        queues=session.scalars(select(m.Queue)).all(),
        menus=session.scalars(select(m.IvrMenu)).all(),
        oncall_groups=session.scalars(select(m.OnCallGroup)).all(),
        country=country,
    )
    default_class = (
        session.get(m.TrafficClass, org.default_traffic_class_id)
        if org and org.default_traffic_class_id
        else None
    )

    def rights(user_id: int) -> Rights:
        user = users[user_id]
        profile_class = user.profile.traffic_class if user.profile else None
        return effective_rights(user.traffic_class, profile_class, default_class)

    own_area = area_prefix(org.main_number) if org and org.main_number else None
    return ForwardContext(
        users=users,
        queues=queues,
        hunt_groups=groups,
        plan=plan,
        rights=rights,
        own_area=own_area or "+31317",
        country=country,
    )


def set_forward(
    store: Store,
    rule: ForwardRule,
    *,
    actor: str | None = None,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
) -> ForwardRule:
    """Store one forwarding rule (replacing the user's rule of that kind).

    The rule is checked and normalised (:func:`check_rule`) and must not
    close a loop with the rules already stored; the checked rule is returned.
    """
    country = settings.country if settings else "NL"
    checked: list[ForwardRule] = []

    def change(session: Session) -> None:
        ctx = forward_context(session, country)
        rule_ok = check_rule(rule, ctx)
        others = [ForwardRule.of(f) for f in session.scalars(select(m.CallForward))]
        check_no_loop(rule_ok, others, ctx)
        row = session.scalars(
            select(m.CallForward).where(
                m.CallForward.user_id == rule.user_id, m.CallForward.kind == rule.kind
            )
        ).first()
        if row is None:
            row = m.CallForward(user_id=rule.user_id, kind=rule.kind)
            session.add(row)
        row.enabled = rule_ok.enabled
        row.target_type = rule_ok.target_type
        row.target_id = rule_ok.target_id
        row.target_number = rule_ok.target_number
        row.no_answer_seconds = rule_ok.no_answer_seconds
        row.announce = rule_ok.announce
        checked.append(rule_ok)

    with store.session() as session:
        name = _user(session, rule.user_id).name
    summary = f"{name}: forwarding {rule.kind.replace('_', ' ')} set"
    _publish(
        store, actor or f"user:{rule.user_id}", summary, change, settings, notifier
    )
    log.info("user %s forwards %s to %s", rule.user_id, rule.kind, rule.target_type)
    return checked[0]


def clear_forward(
    store: Store,
    user_id: int,
    kind: str,
    *,
    actor: str | None = None,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
) -> bool:
    """Remove the user's rule of ``kind``; False if there was none."""
    with store.session() as session:
        name = _user(session, user_id).name
        row = session.scalars(
            select(m.CallForward).where(
                m.CallForward.user_id == user_id, m.CallForward.kind == kind
            )
        ).first()
        if row is None:
            return False

    def change(session: Session) -> None:
        stored = session.scalars(
            select(m.CallForward).where(
                m.CallForward.user_id == user_id, m.CallForward.kind == kind
            )
        ).first()
        if stored is not None:
            session.delete(stored)

    summary = f"{name}: forwarding {kind.replace('_', ' ')} removed"
    _publish(store, actor or f"user:{user_id}", summary, change, settings, notifier)
    log.info("user %s no longer forwards %s", user_id, kind)
    return True


def forward_always_to(
    store: Store,
    user_id: int,
    dialled: str,
    *,
    actor: str | None = None,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
) -> ForwardRule:
    """Forward every call to what the user dialled (an extension or a number).

    An extension of a colleague, hunt group or queue becomes that internal
    target; anything else must be a telephone number.
    """
    country = settings.country if settings else "NL"
    with store.session() as session:
        ctx = forward_context(session, country)
    target = ctx.plan.try_resolve(dialled) if ctx.plan else None
    if target is not None and target.kind in ("user", "hunt_group", "queue"):
        rule = ForwardRule(user_id, "always", target.kind, target_id=target.id)
    elif target is not None:
        raise InvalidForwardTarget(
            "target_number", f"{dialled} is a {target.kind} and cannot take forwards"
        )
    else:
        number = numbering.try_normalise(dialled, country)
        rule = ForwardRule(
            user_id, "always", "external", target_number=number or dialled
        )
    return set_forward(store, rule, actor=actor, settings=settings, notifier=notifier)
