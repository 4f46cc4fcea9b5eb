"""What end users change about their own telephony: do-not-disturb, forwarding.

Shared by the pages and the JSON API: input arrives as plain strings, is
checked field by field, and is refused as a whole with a message per field
(:class:`webui.errors.InvalidInput`) so that nothing half-valid is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from orchestrator.calls.presence import PresenceTracker
from orchestrator.calls.runtime import features_of
from orchestrator.domain import numbering, traffic
from orchestrator.store import models as m
from webui import errors

log = logging.getLogger(__name__)

FORWARD_KINDS = [k.value for k in m.ForwardKind]
# What a user picks; "internal" and "mobile" are stored as a user target and
# an external number respectively.
FORWARD_TARGETS = ["internal", "external", "mobile", "voicemail", "vm_or_queue"]
MIN_SECONDS, MAX_SECONDS = 5, 120


@dataclass(frozen=True)
class ForwardChoice:
    """A forwarding rule as the user sees it."""

    kind: str
    enabled: bool
    target: str
    number: str
    seconds: int
    queue_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "enabled": self.enabled,
            "target": self.target,
            "number": self.number,
            "seconds": self.seconds,
            "queue_id": self.queue_id,
        }


def describe(db: Session, user: m.User, rule: m.CallForward | None, kind: str) -> Any:
    """The rule for ``kind`` (or an empty one) as a :class:`ForwardChoice`."""
    if rule is None:
        return ForwardChoice(kind, False, "voicemail", "", 20, None)
    target, number, queue_id = rule.target_type, rule.target_number or "", None
    if target == m.TargetType.USER:
        other = db.get(m.User, rule.target_id) if rule.target_id else None
        target, number = "internal", (other.extension or "") if other else ""
    elif target == m.TargetType.EXTERNAL and number and number == user.mobile:
        target = "mobile"
    elif target == m.TargetType.VM_OR_QUEUE:
        queue_id = rule.target_id
    if number.startswith("+"):
        number = numbering.national(number)
    return ForwardChoice(
        kind, rule.enabled, target, number, rule.no_answer_seconds, queue_id
    )


def forwards_of(db: Session, user: m.User) -> list[ForwardChoice]:
    rules = {
        f.kind: f
        for f in db.scalars(
            select(m.CallForward).where(m.CallForward.user_id == user.id)
        )
    }
    return [describe(db, user, rules.get(kind), kind) for kind in FORWARD_KINDS]


def save_forward(
    db: Session, user: m.User, kind: str, form: Mapping[str, Any], country: str = "NL"
) -> m.CallForward | None:
    """Store the user's rule for ``kind`` from form fields; None when removed.

    Fields: ``enabled`` (on/true/1), ``target``, ``number``, ``seconds``,
    ``queue_id``.
    """
    if kind not in FORWARD_KINDS:
        raise errors.NotFound()
    enabled = _truthy(form.get("enabled"))
    target = str(form.get("target") or "")
    problems: dict[str, Any] = {}
    if target not in FORWARD_TARGETS:
        problems["target"] = _l("Choose where calls should go.")
        raise errors.InvalidInput(details=problems)

    values: dict[str, Any] = {"target_id": None, "target_number": None}
    _resolve_target(db, user, target, form, values, problems, country)
    values["no_answer_seconds"] = _seconds(form.get("seconds"), problems)
    if problems:
        raise errors.InvalidInput(details=problems)

    rule = db.scalar(
        select(m.CallForward).where(
            m.CallForward.user_id == user.id, m.CallForward.kind == kind
        )
    )
    if rule is None:
        rule = m.CallForward(user_id=user.id, kind=kind)
        db.add(rule)
    rule.enabled = enabled
    rule.target_type = values["target_type"]
    rule.target_id = values["target_id"]
    rule.target_number = values["target_number"]
    rule.no_answer_seconds = values["no_answer_seconds"]
    log.info(
        "user %s forwarding %s -> %s %s (%s)",
        user.username,
        kind,
        rule.target_type,
        rule.target_number or rule.target_id or "",
        "on" if enabled else "off",
    )
    return rule


def _resolve_target(
    db: Session,
    user: m.User,
    target: str,
    form: Mapping[str, Any],
    values: dict[str, Any],
    problems: dict[str, Any],
    country: str,
) -> None:
    number = str(form.get("number") or "").strip()
    if target == "internal":
        colleague = _colleague(db, user, number, problems)
        values["target_type"] = m.TargetType.USER
        values["target_id"] = colleague.id if colleague else None
    elif target == "external":
        values["target_type"] = m.TargetType.EXTERNAL
        values["target_number"] = _external(db, user, number, problems, country)
    elif target == "mobile":
        if not user.mobile:
            problems["target"] = _l("No mobile number is known for you.")
        values["target_type"] = m.TargetType.EXTERNAL
        values["target_number"] = user.mobile
    elif target == "voicemail":
        if not user.voicemail_enabled:
            problems["target"] = _l("Voicemail is not switched on for you.")
        values["target_type"] = m.TargetType.VOICEMAIL
        # The box is named by its owner.
        values["target_id"] = user.id
    else:
        values["target_type"] = m.TargetType.VM_OR_QUEUE
        values["target_id"] = _queue(db, form.get("queue_id"), problems)


def _colleague(
    db: Session, user: m.User, number: str, problems: dict[str, Any]
) -> m.User | None:
    if not number:
        problems["number"] = _l("Fill in the extension of a colleague.")
        return None
    e164 = numbering.try_normalise(number) if number.startswith(("0", "+")) else None
    colleague = db.scalar(
        select(m.User).where(
            m.User.active,
            or_(m.User.extension == numbering.clean(number), m.User.did == e164)
            if e164
            else m.User.extension == numbering.clean(number),
        )
    )
    if colleague is None:
        problems["number"] = _l("No colleague has this extension.")
    elif colleague.id == user.id:
        problems["number"] = _l("You cannot forward to yourself.")
        return None
    return colleague


def _external(
    db: Session, user: m.User, number: str, problems: dict[str, Any], country: str
) -> str | None:
    if not number:
        problems["number"] = _l("Fill in a telephone number.")
        return None
    try:
        e164 = numbering.normalise(number, country)
    except numbering.InvalidNumber:
        problems["number"] = _l("This is not a valid telephone number.")
        return None
    if e164 == user.did:
        problems["number"] = _l("You cannot forward to yourself.")
        return None
    try:
        traffic.check_call(rights_of(db, user), e164, country=country)
    except traffic.CallBarred:
        problems["number"] = _l(
            "You are not allowed to forward to this kind of number."
        )
        return None
    return e164


def rights_of(db: Session, user: m.User) -> traffic.Rights:
    organisation = db.scalar(select(m.Organisation).limit(1))
    default = (
        db.get(m.TrafficClass, organisation.default_traffic_class_id)
        if organisation and organisation.default_traffic_class_id
        else None
    )
    profile = db.get(m.Profile, user.profile_id) if user.profile_id else None
    own = (
        db.get(m.TrafficClass, user.traffic_class_id) if user.traffic_class_id else None
    )
    profile_class = (
        db.get(m.TrafficClass, profile.traffic_class_id)
        if profile and profile.traffic_class_id
        else None
    )
    return traffic.effective_rights(own, profile_class, default)


def _queue(db: Session, raw: Any, problems: dict[str, Any]) -> int | None:
    try:
        queue_id = int(raw)
    except (TypeError, ValueError):
        queue_id = None
    if queue_id is None or db.get(m.Queue, queue_id) is None:
        problems["queue_id"] = _l("Choose a queue.")
        return None
    return queue_id


def _seconds(raw: Any, problems: dict[str, Any]) -> int:
    if raw in (None, ""):
        return 20
    try:
        seconds = int(raw)
    except (TypeError, ValueError):
        seconds = -1
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        problems["seconds"] = _l(
            "Fill in a number of seconds from %(low)s to %(high)s.",
            low=MIN_SECONDS,
            high=MAX_SECONDS,
        )
    return seconds


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").lower() in ("1", "on", "true", "yes")


def set_dnd(db: Session, user: m.User, on: bool) -> None:
    stored = db.get(m.User, user.id)
    if stored is None:
        raise errors.NotFound()
    stored.dnd = on
    user.dnd = on
    log.info("user %s do-not-disturb %s", user.username, "on" if on else "off")


@dataclass(frozen=True)
class Membership:
    group_id: int
    name: str
    number: str | None
    logged_in: bool


def hunt_memberships(db: Session, user: m.User) -> list[Membership]:
    rows = db.execute(
        select(m.HuntGroup, m.HuntGroupMember)
        .join(m.HuntGroupMember, m.HuntGroupMember.group_id == m.HuntGroup.id)
        .where(m.HuntGroupMember.user_id == user.id)
        .order_by(m.HuntGroup.name)
    ).all()
    return [
        Membership(group.id, group.name, group.number, member.logged_in)
        for group, member in rows
    ]


def set_hunt_membership(
    db: Session, user: m.User, group_id: int, logged_in: bool
) -> str:
    """Log the user in to or out of a hunt group they belong to; the group's name."""
    member = db.scalar(
        select(m.HuntGroupMember).where(
            m.HuntGroupMember.group_id == group_id,
            m.HuntGroupMember.user_id == user.id,
        )
    )
    if member is None:
        raise errors.NotFound()
    if member.logged_in != logged_in:
        member.logged_in = logged_in
        db.add(
            m.EventLog(
                kind="hunt_group.login" if logged_in else "hunt_group.logout",
                actor=user.username,
                user_id=user.id,
                data={"group_id": group_id},
            )
        )
        log.info(
            "user %s %s hunt group %s",
            user.username,
            "logged in to" if logged_in else "logged out of",
            group_id,
        )
    return member.group.name


def publish_dnd(user: m.User, on: bool) -> None:
    """Store do-not-disturb as a revision, then show the new presence live."""
    from webui import revisions

    def change(db: Session) -> None:
        set_dnd(db, user, on)

    state = "on" if on else "off"
    revisions.publish(user, f"Do not disturb {state} for {user.username}", change)
    presence_tracker().recompute(user.username)


def presence_tracker() -> PresenceTracker:
    """The process's presence tracker, shared with the call features."""
    tracker = features_of(current_app.extensions["schakel"]).presence
    tracker.directory.invalidate()
    return tracker
