"""Hunt groups (department numbers that are not ACD queues).

A group rings its logged-in members: one after the other in a fixed order
(linear), one after the other starting where the previous call started plus
one (cyclic, round robin), or all at once (simultaneous). When nobody has
answered within the group's wait, the call goes to its fallback: an ACD
queue, another hunt group, the "voicemail or contact centre" choice, or any
other destination.

The switch does all of it natively. :func:`hunt_plan` gives, for each
starting point (one for linear and simultaneous, one per member for
cyclic), the failover steps of one ``bridge``: each step rings a set of
members for some seconds. Cyclic groups keep their pointer in the switch
(``hash`` realm :data:`POINTER_REALM`): the dialplan picks the rotation the
pointer names and writes the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator.domain.steps import Action, Step, hangup

log = logging.getLogger(__name__)

POINTER_REALM = "schakel_hunt"

# Fallbacks a group may have: a queue, another group, the voicemail-or-queue
# menu, and the obvious others.
FALLBACKS = frozenset(
    {
        "queue",
        "hunt_group",
        "vm_or_queue",
        "voicemail",
        "user",
        "external",
        "ivr",
        "oncall",
        "announcement",
        "hangup",
    }
)


class HuntGroupError(ValueError):
    """A hunt group setting that cannot be saved."""

    status = 422
    error_id = "invalid-hunt-group"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotAMember(HuntGroupError):
    """Logging in or out of a group the user does not belong to."""

    error_id = "not-a-member"


class _User(Protocol):
    id: int
    name: str
    extension: str | None
    active: bool


class _Member(Protocol):
    user_id: int
    position: int
    logged_in: bool


class _Group(Protocol):
    id: int
    name: str
    strategy: str
    member_ring_seconds: int
    no_answer_seconds: int
    fallback_type: str | None
    fallback_id: int | None
    fallback_number: str | None
    extension: str | None


@dataclass(frozen=True)
class MemberLeg:
    """One member as the group rings them: every registered device at once."""

    user_id: int
    extension: str
    sip_users: tuple[str, ...]


@dataclass(frozen=True)
class HuntStep:
    """Members rung together for ``seconds``; steps are tried in order."""

    members: tuple[MemberLeg, ...]
    seconds: int


@dataclass(frozen=True)
class HuntPlan:
    """Everything the dialplan needs for one group.

    ``rotations[i]`` are the steps when the pointer says ``i``; only cyclic
    groups have more than one. ``rotations`` is empty when nobody is logged
    in: the call goes straight to ``fallback``.
    """

    group_id: int
    strategy: str
    rotations: tuple[tuple[HuntStep, ...], ...]
    fallback: Step
    members: tuple[MemberLeg, ...] = ()


def next_pointer(current: int, rotations: int) -> int:
    """The pointer after a call that started at ``current``."""
    return (current + 1) % rotations if rotations else 0


def ringing_members(
    members: Iterable[_Member],
    users: Mapping[int, _User],
    devices: Mapping[int, Sequence[str]],
    *,
    dnd: Mapping[int, bool] | None = None,
) -> list[MemberLeg]:
    """Members who ring, in position order: logged in, active, not on DND,
    with at least one device. ``devices`` maps a user to their SIP users."""
    dnd = dnd or {}
    ringing = []
    for member in sorted(members, key=lambda m: (m.position, m.user_id)):
        user = users.get(member.user_id)
        if not member.logged_in or user is None or not user.active:
            continue
        sip_users = tuple(devices.get(member.user_id, ()))
        if dnd.get(member.user_id) or not sip_users:
            continue
        ringing.append(MemberLeg(member.user_id, user.extension or "", sip_users))
    return ringing


def linear_steps(
    members: Sequence[MemberLeg], member_seconds: int, total_seconds: int
) -> tuple[HuntStep, ...]:
    """Ring each member in turn, within the group's total wait.

    The last member rung gets what is left of the wait, so the fallback
    starts on time; members who would start after the wait are left out.
    A member whose phones are not registered fails at once and the next
    one rings straight away, as FreeSWITCH's failover does.
    """
    steps = []
    left = total_seconds
    for member in members:
        if left <= 0:
            break
        seconds = min(member_seconds, left)
        steps.append(HuntStep((member,), seconds))
        left -= seconds
    return tuple(steps)


def hunt_plan(
    group: _Group,
    members: Sequence[MemberLeg],
    *,
    extensions: Mapping[tuple[str, int], str | None] | None = None,
    mailbox: str | None = None,
) -> HuntPlan:
    """The plan of ``group`` for the members who ring now (in order)."""
    strategy = group.strategy
    if not members:
        rotations: tuple[tuple[HuntStep, ...], ...] = ()
    elif strategy == "simultaneous":
        rotations = ((HuntStep(tuple(members), group.no_answer_seconds),),)
    elif strategy == "linear":
        rotations = (
            linear_steps(members, group.member_ring_seconds, group.no_answer_seconds),
        )
    elif strategy == "cyclic":
        rotations = tuple(
            linear_steps(
                [*members[start:], *members[:start]],
                group.member_ring_seconds,
                group.no_answer_seconds,
            )
            for start in range(len(members))
        )
    else:
        raise HuntGroupError("strategy", f"unknown strategy {strategy!r}")
    return HuntPlan(
        group_id=group.id,
        strategy=strategy,
        rotations=rotations,
        fallback=fallback_step(group, extensions or {}, mailbox=mailbox),
        members=tuple(members),
    )


def fallback_step(
    group: _Group,
    extensions: Mapping[tuple[str, int], str | None],
    *,
    mailbox: str | None = None,
) -> Step:
    """Where the group's unanswered calls go (``extensions`` maps
    ``(kind, id)`` to the extension a destination is reached on)."""
    kind = group.fallback_type
    target = group.fallback_id
    if not kind or kind == "hangup":
        return hangup("NO_ANSWER")
    if kind == "external":
        return Step(Action.EXTERNAL, number=group.fallback_number)
    if kind in ("voicemail", "vm_or_queue"):
        step = Step(
            Action(kind),
            target_id=target,
            mailbox=mailbox,
            extension=extensions.get(("queue", target or 0)),
        )
        return step
    if kind in ("queue", "hunt_group", "user", "ivr", "oncall"):
        return Step(
            Action(kind),
            target_id=target,
            extension=extensions.get((kind, target or 0)),
        )
    if kind == "announcement":
        return Step(Action.ANNOUNCEMENT, target_id=target)
    raise HuntGroupError("fallback_type", f"unknown fallback {kind!r}")


def check_group(group: _Group, *, known: Mapping[str, Iterable[int]]) -> None:
    """Raise :class:`HuntGroupError` for settings the switch cannot do.

    ``known`` maps a target kind (``queue``, ``hunt_group``, ``user`` ...)
    to the ids that exist.
    """
    if group.strategy not in ("linear", "cyclic", "simultaneous"):
        raise HuntGroupError(
            "strategy", f"{group.strategy!r} is not linear, cyclic or simultaneous"
        )
    if group.strategy != "simultaneous" and (
        group.member_ring_seconds > group.no_answer_seconds
    ):
        raise HuntGroupError(
            "member_ring_seconds",
            "each member cannot ring longer than the whole group waits "
            f"({group.member_ring_seconds} > {group.no_answer_seconds} seconds)",
        )
    kind = group.fallback_type
    if kind is None:
        return
    if kind not in FALLBACKS:
        raise HuntGroupError("fallback_type", f"{kind!r} cannot be a fallback")
    if kind == "hunt_group" and group.fallback_id == group.id:
        raise HuntGroupError("fallback_id", "a group cannot fall back to itself")
    if kind == "external":
        if not group.fallback_number:
            raise HuntGroupError("fallback_number", "give the number to forward to")
        return
    if kind == "vm_or_queue":
        kind = "queue"
    if kind in ("voicemail", "hangup"):
        return
    if group.fallback_id not in set(known.get(kind, ())):
        raise HuntGroupError(
            "fallback_id", f"the fallback {kind.replace('_', ' ')} does not exist"
        )
    if group.fallback_type == "vm_or_queue" and not group.extension:
        # The voicemail choice records in the group's own box.
        raise HuntGroupError(
            "extension",
            f"hunt group {group.name!r} needs an extension: the voicemail of "
            "its fallback 'voicemail or contact centre' is kept in a box with "
            "the group's extension",
        )


def check_membership(
    members: Iterable[_Member], user_id: int, group_name: str
) -> _Member:
    """The membership row of ``user_id``; raise :class:`NotAMember`."""
    for member in members:
        if member.user_id == user_id:
            return member
    raise NotAMember("user_id", f"user {user_id} is not a member of {group_name!r}")
