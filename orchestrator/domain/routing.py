"""What the dialplan templates render for a user's number and a hunt group.

The templates get the configuration view; the decisions are made here, so
that they are tested without rendering. A call's way is written as
addresses in the ``targets`` context (``user-12``, ``hunt_group-2``,
``queue-3``, ``voicemail-12``, ``vm_or_queue-3``, ``external-31612345678``,
``hangup_USER_BUSY``): a user's route sets, before ringing, where each
outcome leads (:class:`Outcome`), and the general extensions of ``targets``
(``after_ring``, ``forward``) take the call there once the phones have
stopped ringing, checking the forwarding bound on the way.

Names used by the templates and the orchestrator alike are constants here.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.domain import dialstring
from orchestrator.domain.callerid import DIVERSION_REASONS
from orchestrator.domain.features import (
    ACTION_VARIABLE,
    ARGUMENT_VARIABLE,
    FEATURE_CODES,
)
from orchestrator.domain.forwarding import (
    MAX_FORWARD_HOPS,
    PATH_VARIABLE,
    ForwardRule,
    hops_regex,
    user_route,
)
from orchestrator.domain.hunt import (
    POINTER_REALM,
    HuntPlan,
    hunt_plan,
    next_pointer,
    ringing_members,
)
from orchestrator.domain.steps import Action, Step

log = logging.getLogger(__name__)

PICKUP_GROUP_REALM = "schakel_pickup_group"
# Callers' names by number (filled by orchestrator.features.names).
CALLER_NAMES_REALM = "schakel_names"
PICKUP_EXTENSION_REALM = "schakel_pickup_ext"
UNAVAILABLE_ANNOUNCEMENT = "niet-bereikbaar"
VM_OR_QUEUE_ANNOUNCEMENT = "keuze-voicemail-of-wachtrij"
# What the disposition of a failed bridge means for forwarding.
BUSY_CAUSES = ("USER_BUSY", "CALL_REJECTED")
UNREACHABLE_CAUSES = (
    "USER_NOT_REGISTERED",
    "SUBSCRIBER_ABSENT",
    "NO_ROUTE_DESTINATION",
    "UNALLOCATED_NUMBER",
    "DESTINATION_OUT_OF_ORDER",
    "NETWORK_OUT_OF_ORDER",
)


@dataclass(frozen=True)
class Outcome:
    """Where a call goes at one point, as the dialplan variables say it."""

    address: str
    announce: bool = False
    # RFC 5806 reason for the Diversion header (``user-busy`` ...).
    reason: str = ""
    # The voicemail box of a "voicemail or contact centre" choice.
    mailbox: str = ""


@dataclass(frozen=True)
class UserPlan:
    """One user's number: what rings and where each outcome leads."""

    user_id: int
    address: str
    ring: str | None
    ring_seconds: int
    always: Outcome | None
    busy: Outcome
    no_answer: Outcome
    unreachable: Outcome
    # Where the call goes when a forward is refused at run time.
    stop: Outcome
    diverter: str
    pickup: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class GroupPlan:
    """One hunt group: a dial string per starting point and the fallback."""

    group_id: int
    address: str
    strategy: str
    rotations: tuple[str, ...]
    fallback: Outcome
    display_prefix: str | None
    pickup: tuple[tuple[str, str], ...]
    pointer_key: str

    def next_pointer(self, index: int) -> int:
        return next_pointer(index, len(self.rotations))


def address(step: Step) -> str:
    """The ``targets`` address that carries out ``step``."""
    action = step.action
    if action == Action.HANGUP:
        return f"hangup_{step.cause or 'NORMAL_CLEARING'}"
    if action == Action.EXTERNAL:
        return f"external-{(step.number or '').lstrip('+')}"
    if action == Action.VOICEMAIL:
        return f"voicemail-{step.target_id}"
    return f"{action.value}-{step.target_id}"


def outcome(step: Step, reason: str) -> Outcome:
    """``step`` as dialplan variables; ``reason`` is a forwarding kind, kept
    as the RFC 5806 reason the ``Diversion`` header carries."""
    rfc_reason = DIVERSION_REASONS.get(reason, "unknown")
    return Outcome(address(step), step.announce, rfc_reason, step.mailbox or "")


class _Device(Protocol):
    sip_user: str
    pickup_group: str | None


class _TargetRef(Protocol):
    kind: str
    id: int | None
    number: str | None


class _ForwardView(Protocol):
    kind: str
    enabled: bool
    target: _TargetRef
    no_answer_seconds: int
    announce: bool


def rules_of(user: Any) -> list[ForwardRule]:
    """A view user's forwards as domain rules."""
    forwards: Iterable[_ForwardView] = user.forwards
    return [
        ForwardRule(
            user_id=user.id,
            kind=f.kind,
            target_type=f.target.kind,
            target_id=f.target.id,
            target_number=f.target.number,
            no_answer_seconds=f.no_answer_seconds,
            announce=f.announce,
            enabled=f.enabled,
        )
        for f in forwards
    ]


def user_plan(view: Any, user: Any) -> UserPlan:
    """The plan of ``user`` (a view user) in ``view`` (the configuration view)."""
    route = user_route(
        _Routable(user),
        rules_of(user),
        _routables(view),
        dnd=user.dnd,
    )
    mailbox = user.mailbox or ""
    steps = {
        "busy": route.on_busy,
        "no_answer": route.on_no_answer,
        "unreachable": route.on_unreachable,
    }
    ends = {
        kind: _with_box(outcome(step, kind), mailbox) for kind, step in steps.items()
    }
    always = (
        _with_box(outcome(route.always, "always"), mailbox) if route.always else None
    )
    ring = None
    sip_users = [d.sip_user for d in user.devices]
    if sip_users and not user.dnd:
        legs = dialstring.user_legs(
            sip_users,
            view.domain,
            route.ring_seconds,
            one_number=user.one_number,
            delay=user.one_number_delay,
            mobile=user.mobile,
            gateway=view.gateway,
            owner=user.username,
        )
        ring = dialstring.render([legs], dialstring.fork_variables(legs))
    stop = (
        Outcome(f"voicemail-{user.id}", reason="loop")
        if user.voicemail_enabled
        else Outcome("hangup_NO_ANSWER", reason="loop")
    )
    return UserPlan(
        user_id=user.id,
        address=f"user-{user.id}",
        ring=ring,
        ring_seconds=route.ring_seconds,
        always=always,
        busy=ends["busy"],
        no_answer=ends["no_answer"],
        unreachable=ends["unreachable"],
        stop=stop,
        diverter=user.did or view.main_number or "",
        pickup=_pickup_keys([user]),
    )


def _with_box(found: Outcome, mailbox: str) -> Outcome:
    if found.address.startswith("vm_or_queue-") and not found.mailbox:
        return Outcome(found.address, found.announce, found.reason, mailbox)
    return found


class _Routable:
    """A view user as the forwarding rules see one (mailbox as extension)."""

    def __init__(self, user: Any) -> None:
        self.id = user.id
        self.name = user.name
        self.extension = user.mailbox or user.extension
        self.did = user.did
        self.mobile = user.mobile
        self.voicemail_enabled = user.voicemail_enabled
        self.ring_seconds = user.ring_seconds
        self.active = user.active


# One map per configuration view: building it for every user made
# rendering a large organisation quadratic. Views are replaced, never
# changed, so the map stays right for as long as its view lives; views are
# not hashable, so the map is found by identity and dropped with its view.
_ROUTABLES: dict[int, dict[Any, _Routable]] = {}


def _routables(view: Any) -> dict[Any, _Routable]:
    key = id(view)
    routables = _ROUTABLES.get(key)
    if routables is None:
        routables = {uid: _Routable(u) for uid, u in view.users.items()}
        try:
            weakref.finalize(view, _ROUTABLES.pop, key, None)
        except TypeError:
            # Something that cannot be weakly referenced (a test double).
            return routables
        _ROUTABLES[key] = routables
    return routables


def _pickup_keys(users: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    keys: dict[tuple[str, str], None] = {}
    for user in users:
        if user.extension:
            keys[(PICKUP_EXTENSION_REALM, user.extension)] = None
        for device in user.devices:
            if device.pickup_group:
                keys[(PICKUP_GROUP_REALM, device.pickup_group)] = None
    return tuple(keys)


def group_plan(view: Any, group: Any) -> GroupPlan:
    """The plan of a view hunt group."""
    members = ringing_members(
        [_Membership(m.user.id, m.position, m.logged_in) for m in group.members],
        {m.user.id: m.user for m in group.members},
        {m.user.id: [d.sip_user for d in m.user.devices] for m in group.members},
        dnd={m.user.id: m.user.dnd for m in group.members},
    )
    # The "voicemail or contact centre" choice records in the group's box.
    plan: HuntPlan = hunt_plan(_GroupSettings(group), members, mailbox=group.mailbox)
    rotations = tuple(
        dialstring.hunt_dial_string(steps, view.domain) for steps in plan.rotations
    )
    ringing = {m.user_id for m in members}
    return GroupPlan(
        group_id=group.id,
        address=f"hunt_group-{group.id}",
        strategy=group.strategy,
        rotations=rotations,
        fallback=outcome(plan.fallback, "fallback"),
        display_prefix=group.display_prefix,
        pickup=_pickup_keys(m.user for m in group.members if m.user.id in ringing),
        pointer_key=str(group.id),
    )


@dataclass(frozen=True)
class _Membership:
    user_id: int
    position: int
    logged_in: bool


class _GroupSettings:
    def __init__(self, group: Any) -> None:
        self.id = group.id
        self.name = group.name
        self.strategy = group.strategy
        self.member_ring_seconds = group.member_ring_seconds
        self.no_answer_seconds = group.no_answer_seconds
        ref = group.fallback
        self.fallback_type = ref.kind if ref else None
        self.fallback_id = ref.id if ref else None
        self.fallback_number = ref.number if ref else None
        self.extension = group.extension


def prompt(announcements: Mapping[int, Any], name: str) -> str:
    """The announcement called ``name`` (the organisation's recording).

    :data:`UNAVAILABLE_ANNOUNCEMENT` is "the person you are trying to reach
    is not available, you are being put through"; :data:`VM_OR_QUEUE_
    ANNOUNCEMENT` is "press 1 to leave a message, 2 for the contact centre".
    Without a recording the caller hears a short tone rather than silence.
    """
    for announcement in announcements.values():
        if announcement.name == name and announcement.active:
            return str(announcement.uri)
    return "tone_stream://%(200,100,440);loops=2"


# What a phone hears after a feature code: a rising double beep when done,
# a low long tone when refused.
FEATURE_TONES = {
    "ok": "tone_stream://%(150,50,660);%(300,0,880)",
    "refused": "tone_stream://%(600,0,300)",
}

TEMPLATE_GLOBALS: dict[str, Any] = {
    "user_plan": user_plan,
    "group_plan": group_plan,
    "prompt": prompt,
    "UNAVAILABLE_ANNOUNCEMENT": UNAVAILABLE_ANNOUNCEMENT,
    "VM_OR_QUEUE_ANNOUNCEMENT": VM_OR_QUEUE_ANNOUNCEMENT,
    "fwd_path_variable": PATH_VARIABLE,
    "fwd_hops_regex": hops_regex(MAX_FORWARD_HOPS),
    "busy_causes": "|".join(BUSY_CAUSES),
    "unreachable_causes": "|".join(UNREACHABLE_CAUSES),
    "hunt_pointer_realm": POINTER_REALM,
    "pickup_group_realm": PICKUP_GROUP_REALM,
    "pickup_extension_realm": PICKUP_EXTENSION_REALM,
    "caller_names_realm": CALLER_NAMES_REALM,
    "features": {fc.action.value: fc for fc in FEATURE_CODES},
    "feature_action_variable": ACTION_VARIABLE,
    "feature_argument_variable": ARGUMENT_VARIABLE,
    "feature_tones": FEATURE_TONES,
}
