"""Call forwarding set by users (and by admins on their behalf).

A user forwards their own number always, on busy, on no answer after N
seconds, or when none of their phones is registered, to a colleague, an
external number, their own mobile, their voicemail, the "voicemail or
contact centre" choice, a queue or a hunt group; optionally the caller
first hears "this person is not available, you are being put through".

Saving a rule goes through :func:`check_rule` (the target exists, the
number is valid and within the user's traffic class) and
:func:`check_no_loop` (no chain of forwards and group fallbacks comes back
to where it started). A call in progress is bounded as well: the dialplan
records each hop in :data:`PATH_VARIABLE` and stops forwarding after
:data:`MAX_FORWARD_HOPS` hops or when a hop would revisit a user or group,
using :func:`visited_regex` and :func:`hops_regex` on the path of addresses
(``,user-12,hunt_group-2``) the call has passed.

:func:`user_route` turns a user's rules into the steps the dialplan takes.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from orchestrator.domain import numbering
from orchestrator.domain.numberplan import NumberPlan
from orchestrator.domain.steps import Action, Step, hangup
from orchestrator.domain.traffic import Rights, right_needed

log = logging.getLogger(__name__)

PATH_VARIABLE = "schakel_fwd_path"
MAX_FORWARD_HOPS = 5
NO_ANSWER_SECONDS = (5, 300)


class Kind(enum.StrEnum):
    ALWAYS = "always"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNREACHABLE = "unreachable"


# Where a user's forward may lead.
TARGETS = frozenset(
    {
        "user",
        "external",
        "mobile",
        "voicemail",
        "vm_or_queue",
        "queue",
        "hunt_group",
    }
)


class ForwardingError(ValueError):
    """A forwarding rule that cannot be saved; ``field`` names the culprit."""

    status = 422
    error_id = "invalid-forwarding"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class InvalidForwardTarget(ForwardingError):
    """The target does not exist, is not valid, or is the user themself."""

    error_id = "invalid-forward-target"


class ForwardBarred(ForwardingError):
    """The user's traffic class does not allow calling the target number."""

    error_id = "forward-barred"


class ForwardingLoop(ForwardingError):
    """The rule would make calls go round in circles."""

    error_id = "forwarding-loop"

    def __init__(self, chain: list[str]) -> None:
        super().__init__(
            "target", "forwarding loop: " + " → ".join(chain) + " (refused)"
        )
        self.chain = chain


class _User(Protocol):
    id: int
    name: str
    extension: str | None
    did: str | None
    mobile: str | None
    voicemail_enabled: bool
    ring_seconds: int
    active: bool


class _Forward(Protocol):
    user_id: int
    kind: str
    enabled: bool
    target_type: str
    target_id: int | None
    target_number: str | None
    no_answer_seconds: int
    announce: bool


class _HuntGroup(Protocol):
    id: int
    name: str
    fallback_type: str | None
    fallback_id: int | None


@dataclass(frozen=True)
class ForwardRule:
    """A forwarding rule, checked and normalised."""

    user_id: int
    kind: str
    target_type: str
    target_id: int | None = None
    target_number: str | None = None
    no_answer_seconds: int = 20
    announce: bool = False
    enabled: bool = True

    @classmethod
    def of(cls, row: _Forward) -> ForwardRule:
        return cls(
            user_id=row.user_id,
            kind=row.kind,
            target_type=row.target_type,
            target_id=row.target_id,
            target_number=row.target_number,
            no_answer_seconds=row.no_answer_seconds,
            announce=row.announce,
            enabled=row.enabled,
        )


@dataclass
class ForwardContext:
    """What checking a rule needs to know about the rest of the configuration."""

    users: Mapping[int, _User]
    queues: Mapping[int, str] = field(default_factory=dict)
    hunt_groups: Mapping[int, _HuntGroup] = field(default_factory=dict)
    plan: NumberPlan | None = None
    rights: Callable[[int], Rights] | None = None
    own_area: str = "+31317"
    country: str = "NL"


def check_rule(rule: ForwardRule, ctx: ForwardContext) -> ForwardRule:
    """Return ``rule`` normalised, or raise a :class:`ForwardingError`.

    An "external" number that is one of ours becomes an internal target, so
    that loops through it are seen and the call never leaves the switch.
    """
    user = ctx.users.get(rule.user_id)
    if user is None:
        raise InvalidForwardTarget("user_id", f"user {rule.user_id} does not exist")
    if rule.kind not in {k.value for k in Kind}:
        raise ForwardingError(
            "kind", f"{rule.kind!r} is not one of always, busy, no_answer, unreachable"
        )
    if rule.target_type not in TARGETS:
        raise InvalidForwardTarget(
            "target_type",
            f"a forward cannot lead to {rule.target_type!r}; choose one of "
            + ", ".join(sorted(TARGETS)),
        )
    if rule.kind == Kind.NO_ANSWER:
        low, high = NO_ANSWER_SECONDS
        if not low <= rule.no_answer_seconds <= high:
            raise ForwardingError(
                "no_answer_seconds",
                f"ring {low} to {high} seconds before forwarding, "
                f"not {rule.no_answer_seconds}",
            )
    checker = _TARGET_CHECKS[rule.target_type]
    return checker(rule, user, ctx)


def _check_user(rule: ForwardRule, user: _User, ctx: ForwardContext) -> ForwardRule:
    target = ctx.users.get(rule.target_id) if rule.target_id is not None else None
    if target is None or not target.active:
        raise InvalidForwardTarget("target_id", "choose a colleague to forward to")
    if target.id == user.id:
        raise InvalidForwardTarget("target_id", "a number cannot forward to itself")
    if not target.extension:
        raise InvalidForwardTarget(
            "target_id", f"{target.name} has no extension to forward to"
        )
    return replace(rule, target_number=None)


def _check_external(rule: ForwardRule, user: _User, ctx: ForwardContext) -> ForwardRule:
    text = rule.target_number or ""
    if numbering.classify(text, ctx.country) == numbering.NumberKind.EMERGENCY:
        raise InvalidForwardTarget(
            "target_number",
            f"{text} is an emergency number and cannot be a forwarding target",
        )
    e164 = numbering.try_normalise(text, ctx.country)
    if e164 is None:
        raise InvalidForwardTarget(
            "target_number", f"{text!r} is not a telephone number"
        )
    ours = ctx.plan.try_resolve(e164) if ctx.plan is not None else None
    if ours is not None:
        return _internalise(rule, user, ctx, ours.kind, ours.id, e164)
    _check_rights(rule, e164, ctx)
    return replace(rule, target_number=e164, target_id=None)


def _internalise(
    rule: ForwardRule,
    user: _User,
    ctx: ForwardContext,
    kind: str,
    target_id: int | None,
    e164: str,
) -> ForwardRule:
    if kind not in {"user", "queue", "hunt_group"}:
        raise InvalidForwardTarget(
            "target_number",
            f"{numbering.national(e164)} is one of our own numbers ({kind}); "
            "forward to the colleague, queue or group instead",
        )
    internal = replace(rule, target_type=kind, target_id=target_id, target_number=None)
    return _TARGET_CHECKS[kind](internal, user, ctx)


def _check_mobile(rule: ForwardRule, user: _User, ctx: ForwardContext) -> ForwardRule:
    if not user.mobile:
        raise InvalidForwardTarget(
            "target_type", f"{user.name} has no mobile number to forward to"
        )
    _check_rights(rule, user.mobile, ctx)
    # Stored as the number it is today: the store knows no "mobile" target,
    # and a changed mobile number should be a conscious change of forward.
    return replace(
        rule, target_type="external", target_id=None, target_number=user.mobile
    )


def _check_voicemail(
    rule: ForwardRule, user: _User, _ctx: ForwardContext
) -> ForwardRule:
    if not user.voicemail_enabled:
        raise InvalidForwardTarget(
            "target_type", f"{user.name} has no voicemail; switch it on first"
        )
    if not user.extension:
        raise InvalidForwardTarget(
            "target_type", f"{user.name} has no extension, so no voicemail box"
        )
    return replace(rule, target_id=user.id, target_number=None)


def _check_vm_or_queue(
    rule: ForwardRule, user: _User, ctx: ForwardContext
) -> ForwardRule:
    _check_voicemail(rule, user, ctx)
    return _check_queue(rule, user, ctx)  # the target is the queue


def _check_queue(rule: ForwardRule, _user: _User, ctx: ForwardContext) -> ForwardRule:
    if rule.target_id is None or rule.target_id not in ctx.queues:
        raise InvalidForwardTarget("target_id", "choose an existing queue")
    return replace(rule, target_number=None)


def _check_hunt_group(
    rule: ForwardRule, _user: _User, ctx: ForwardContext
) -> ForwardRule:
    if rule.target_id is None or rule.target_id not in ctx.hunt_groups:
        raise InvalidForwardTarget("target_id", "choose an existing hunt group")
    return replace(rule, target_number=None)


def _check_rights(rule: ForwardRule, e164: str, ctx: ForwardContext) -> None:
    if ctx.rights is None:
        return
    rights = ctx.rights(rule.user_id)
    kind = numbering.classify(e164, ctx.country, own_area=ctx.own_area)
    if kind == numbering.NumberKind.EMERGENCY or right_needed(kind) is None:
        raise InvalidForwardTarget(
            "target_number", f"{e164} cannot be a forwarding target"
        )
    if not rights.allows(kind):
        raise ForwardBarred(
            "target_number",
            f"{numbering.national(e164)} is a {kind.value.replace('_', '-')} "
            f"number, which traffic class {rights.name!r} does not allow",
        )


_TARGET_CHECKS: dict[
    str, Callable[[ForwardRule, _User, ForwardContext], ForwardRule]
] = {
    "user": _check_user,
    "external": _check_external,
    "mobile": _check_mobile,
    "voicemail": _check_voicemail,
    "vm_or_queue": _check_vm_or_queue,
    "queue": _check_queue,
    "hunt_group": _check_hunt_group,
}


# --- loops --------------------------------------------------------------------

Node = tuple[str, int]


def forwarding_graph(
    rules: Iterable[ForwardRule | _Forward],
    hunt_groups: Iterable[_HuntGroup] = (),
    numbers: Mapping[str, Node] | None = None,
) -> dict[Node, list[Node]]:
    """Where calls can go next: users' forwards and groups' fallbacks.

    ``numbers`` maps our own numbers (E.164) to the user or group they
    reach, so that a forward to "an external number" that is a colleague's
    DID counts as the internal hop it is.
    """
    graph: dict[Node, list[Node]] = {}
    for rule in rules:
        # None: a row not yet flushed, which the column default enables.
        if rule.enabled is False:
            continue
        if rule.target_type in ("user", "hunt_group") and rule.target_id is not None:
            edge: Node | None = (rule.target_type, rule.target_id)
        elif rule.target_type == "external" and numbers and rule.target_number:
            edge = numbers.get(rule.target_number)
        else:
            edge = None
        if edge is not None:
            graph.setdefault(("user", rule.user_id), []).append(edge)
    for group in hunt_groups:
        if group.fallback_type in ("user", "hunt_group") and group.fallback_id:
            edge = (group.fallback_type, group.fallback_id)
            graph.setdefault(("hunt_group", group.id), []).append(edge)
    return graph


def find_loop(graph: Mapping[Node, Iterable[Node]]) -> list[Node] | None:
    """A cycle of ``graph`` as a path that starts and ends at one node."""
    state: dict[Node, int] = {}  # 1: on the current path, 2: done
    path: list[Node] = []

    def visit(node: Node) -> list[Node] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def check_no_loop(
    rule: ForwardRule,
    other_rules: Iterable[ForwardRule | _Forward],
    ctx: ForwardContext,
) -> None:
    """Raise :class:`ForwardingLoop` if saving ``rule`` closes a circle.

    ``other_rules`` are the rules already stored (the one being replaced,
    same user and kind, is left out here).
    """
    kept = [
        r
        for r in other_rules
        if not (r.user_id == rule.user_id and r.kind == rule.kind)
    ]
    loop = find_loop(forwarding_graph([*kept, rule], ctx.hunt_groups.values()))
    if loop is not None:
        raise ForwardingLoop([_label(node, ctx) for node in loop])


def check_hunt_fallbacks(
    rules: Iterable[ForwardRule | _Forward],
    ctx: ForwardContext,
    numbers: Mapping[str, Node] | None = None,
) -> None:
    """Raise :class:`ForwardingLoop` if groups' fallbacks and forwards loop."""
    loop = find_loop(forwarding_graph(rules, ctx.hunt_groups.values(), numbers))
    if loop is not None:
        raise ForwardingLoop([_label(node, ctx) for node in loop])


def _label(node: Node, ctx: ForwardContext) -> str:
    kind, row_id = node
    if kind == "user" and row_id in ctx.users:
        user = ctx.users[row_id]
        return f"{user.name} ({user.extension})" if user.extension else user.name
    if kind == "hunt_group" and row_id in ctx.hunt_groups:
        return f"hunt group {ctx.hunt_groups[row_id].name}"
    return f"{kind} {row_id}"


# --- run-time bound -----------------------------------------------------------


def visited_regex(address: str) -> str:
    """Matches a path that already passed ``address`` (``user-12``)."""
    return rf"(^|,){re.escape(address)}(,|$)"


def hops_regex(hops: int = MAX_FORWARD_HOPS) -> str:
    """Matches a path of ``hops`` or more hops (each written ``,address``)."""
    return rf"^(,[^,]+){{{hops},}}$"


def append_hop(path: str | None, address: str) -> str:
    """The path after one more hop (what the dialplan's ``set`` does)."""
    return f"{path or ''},{address}"


# --- routing ------------------------------------------------------------------


@dataclass(frozen=True)
class UserRoute:
    """What the dialplan does with a call to one user.

    ``always`` (if set) is taken before anything rings; a user on do-not-
    disturb goes to ``on_busy`` without ringing; otherwise the user's phones
    ring ``ring_seconds`` and the outcome picks ``on_busy``,
    ``on_no_answer`` or ``on_unreachable``.
    """

    user_id: int
    extension: str | None
    dnd: bool
    ring_seconds: int
    always: Step | None
    on_busy: Step
    on_no_answer: Step
    on_unreachable: Step


def user_route(
    user: _User,
    rules: Iterable[ForwardRule | _Forward],
    users: Mapping[int, _User],
    *,
    dnd: bool = False,
    hunt_extensions: Mapping[int, str | None] | None = None,
    queue_extensions: Mapping[int, str | None] | None = None,
) -> UserRoute:
    """Turn a user's enabled rules into routing steps.

    Without a rule for an outcome, the caller gets the user's voicemail if
    it is on, and otherwise the outcome's own hangup cause.
    """
    by_kind = {r.kind: r for r in rules if r.enabled and r.user_id == user.id}

    def step(kind: Kind, cause: str) -> Step:
        rule = by_kind.get(kind)
        if rule is None:
            return _voicemail(user) if user.voicemail_enabled else hangup(cause)
        return _rule_step(
            rule, user, users, hunt_extensions or {}, queue_extensions or {}
        )

    no_answer = by_kind.get(Kind.NO_ANSWER)
    ring = no_answer.no_answer_seconds if no_answer else user.ring_seconds
    return UserRoute(
        user_id=user.id,
        extension=user.extension,
        dnd=dnd,
        ring_seconds=ring,
        always=step(Kind.ALWAYS, "") if Kind.ALWAYS in by_kind else None,
        on_busy=step(Kind.BUSY, "USER_BUSY"),
        on_no_answer=step(Kind.NO_ANSWER, "NO_ANSWER"),
        on_unreachable=step(Kind.UNREACHABLE, "USER_NOT_REGISTERED"),
    )


def _voicemail(user: _User, *, announce: bool = False) -> Step:
    return Step(
        Action.VOICEMAIL, target_id=user.id, mailbox=user.extension, announce=announce
    )


def _rule_step(
    rule: ForwardRule | _Forward,
    user: _User,
    users: Mapping[int, _User],
    hunt_extensions: Mapping[int, str | None],
    queue_extensions: Mapping[int, str | None],
) -> Step:
    kind = rule.target_type
    if kind == "user":
        target = users.get(rule.target_id) if rule.target_id is not None else None
        if target is None or not target.extension or not target.active:
            # A colleague who left: the rule is dead, the caller still gets
            # somewhere sensible rather than silence.
            log.warning("user %s forwards to missing user %s", user.id, rule.target_id)
            return _voicemail(user) if user.voicemail_enabled else hangup("NO_ANSWER")
        return Step(
            Action.USER,
            target_id=target.id,
            extension=target.extension,
            announce=rule.announce,
        )
    if kind == "external":
        return Step(Action.EXTERNAL, number=rule.target_number, announce=rule.announce)
    if kind == "mobile":
        return Step(Action.EXTERNAL, number=user.mobile, announce=rule.announce)
    if kind == "voicemail":
        return _voicemail(user, announce=rule.announce)
    if kind == "vm_or_queue":
        return Step(
            Action.VM_OR_QUEUE,
            target_id=rule.target_id,
            mailbox=user.extension,
            extension=queue_extensions.get(rule.target_id or 0),
            announce=rule.announce,
        )
    if kind == "queue":
        return Step(
            Action.QUEUE,
            target_id=rule.target_id,
            extension=queue_extensions.get(rule.target_id or 0),
            announce=rule.announce,
        )
    if kind == "hunt_group":
        return Step(
            Action.HUNT_GROUP,
            target_id=rule.target_id,
            extension=hunt_extensions.get(rule.target_id or 0),
            announce=rule.announce,
        )
    raise ValueError(f"forward of user {user.id} has unknown target {kind!r}")
