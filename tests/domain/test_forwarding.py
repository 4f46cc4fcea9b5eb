import re

import pytest

from orchestrator.domain.forwarding import (
    MAX_FORWARD_HOPS,
    ForwardBarred,
    ForwardContext,
    ForwardingError,
    ForwardingLoop,
    ForwardRule,
    InvalidForwardTarget,
    append_hop,
    check_hunt_fallbacks,
    check_no_loop,
    check_rule,
    find_loop,
    hops_regex,
    user_route,
    visited_regex,
)
from orchestrator.domain.numberplan import NumberPlan
from orchestrator.domain.steps import Action, Step
from orchestrator.domain.traffic import Rights
from orchestrator.store import models as m


def user(uid: int, **kw) -> m.User:
    values = dict(
        id=uid,
        username=f"u{uid}",
        name=f"User {uid}",
        extension=str(2300 + uid),
        did=f"+3131749230{uid}",
        mobile=f"+3161234567{uid}",
        voicemail_enabled=True,
        ring_seconds=20,
        active=True,
    )
    values.update(kw)
    return m.User(**values)


@pytest.fixture
def ctx() -> ForwardContext:
    users = {
        u.id: u
        for u in [
            user(1),
            user(2),
            user(3),
            user(4, mobile=None, voicemail_enabled=False),
        ]
    }
    groups = {7: m.HuntGroup(id=7, name="Burgerzaken", extension="2800")}
    plan = NumberPlan.from_config(
        users=users.values(),
        hunt_groups=groups.values(),
        queues=[m.Queue(id=3, name="KCC", number="+31317492400", extension="2400")],
    )
    national = Rights(name="Nationaal", national=True, mobile=True, special=True)
    return ForwardContext(
        users=users,
        queues={3: "KCC"},
        hunt_groups=groups,
        plan=plan,
        rights=lambda uid: national,
    )


def rule(**kw) -> ForwardRule:
    values = dict(user_id=1, kind="always", target_type="external")
    values.update(kw)
    return ForwardRule(**values)


@pytest.mark.parametrize("text", ["020 123 4567", "+31201234567", "0031201234567"])
def test_external_numbers_are_normalised(ctx, text):
    checked = check_rule(rule(target_number=text), ctx)
    assert checked.target_number == "+31201234567"
    assert checked.target_type == "external"


def test_own_numbers_become_internal_targets(ctx):
    checked = check_rule(rule(target_number="0317 49 2302"), ctx)
    assert (checked.target_type, checked.target_id) == ("user", 2)
    checked = check_rule(rule(target_number="0317492400"), ctx)
    assert (checked.target_type, checked.target_id) == ("queue", 3)
    checked = check_rule(rule(target_type="mobile"), ctx)
    assert (checked.target_type, checked.target_number) == ("external", "+31612345671")
    checked = check_rule(rule(target_type="voicemail"), ctx)
    assert (checked.target_type, checked.target_id) == ("voicemail", 1)


@pytest.mark.parametrize(
    "bad,message",
    [
        (dict(target_number="hello"), "'hello' is not a telephone number"),
        (dict(target_number="0317492301"), "cannot forward to itself"),
        (dict(target_type="user", target_id=99), "choose a colleague"),
        (dict(target_type="user", target_id=1), "cannot forward to itself"),
        (dict(target_type="queue", target_id=99), "existing queue"),
        (dict(target_type="hunt_group", target_id=99), "existing hunt group"),
        (dict(target_type="ivr", target_id=1), "cannot lead to 'ivr'"),
        (dict(user_id=4, target_type="mobile"), "has no mobile number"),
        (dict(user_id=4, target_type="voicemail"), "has no voicemail"),
        (dict(user_id=4, target_type="vm_or_queue", target_id=3), "has no voicemail"),
        (dict(target_number="112"), "cannot be a forwarding target"),
        (dict(kind="sometimes"), "not one of always"),
        (
            dict(kind="no_answer", no_answer_seconds=2, target_type="voicemail"),
            "ring 5 to 300 seconds",
        ),
    ],
)
def test_invalid_targets_are_refused_with_a_clear_message(ctx, bad, message):
    with pytest.raises(ForwardingError, match=message):
        check_rule(rule(**bad), ctx)


def test_traffic_class_bounds_forwarding(ctx):
    with pytest.raises(ForwardBarred, match="premium number, which traffic class"):
        check_rule(rule(target_number="0900 1234567"), ctx)
    with pytest.raises(ForwardBarred, match="international"):
        check_rule(rule(target_number="+442079460958"), ctx)
    assert isinstance(ForwardBarred("x", "y"), ForwardingError)


def test_loop_a_b_a_is_refused(ctx):
    existing = [rule(user_id=2, target_type="user", target_id=1, kind="no_answer")]
    new = check_rule(rule(target_type="user", target_id=2), ctx)
    with pytest.raises(ForwardingLoop) as err:
        check_no_loop(new, existing, ctx)
    assert err.value.chain == ["User 1 (2301)", "User 2 (2302)", "User 1 (2301)"]
    assert "forwarding loop: User 1 (2301) → User 2 (2302) → User 1 (2301)" in str(
        err.value
    )


def test_longer_loop_through_a_hunt_group_fallback(ctx):
    ctx.hunt_groups[7].fallback_type = "user"
    ctx.hunt_groups[7].fallback_id = 1
    existing = [rule(user_id=2, target_type="hunt_group", target_id=7)]
    with pytest.raises(ForwardingLoop, match="hunt group Burgerzaken"):
        check_no_loop(rule(target_type="user", target_id=2), existing, ctx)
    with pytest.raises(ForwardingLoop):
        check_hunt_fallbacks([*existing, rule(target_type="user", target_id=2)], ctx)


def test_replacing_a_rule_does_not_see_the_old_one(ctx):
    existing = [
        rule(target_type="user", target_id=2),
        rule(user_id=2, target_type="user", target_id=3),
    ]
    check_no_loop(rule(target_type="voicemail"), existing, ctx)
    disabled = [rule(user_id=2, target_type="user", target_id=1, enabled=False)]
    check_no_loop(rule(target_type="user", target_id=2), disabled, ctx)


def test_find_loop():
    assert find_loop({("user", 1): [("user", 2)], ("user", 2): [("user", 3)]}) is None
    assert find_loop({("user", 1): [("user", 1)]}) == [("user", 1), ("user", 1)]


def test_run_time_bound_regexes():
    path = None
    for uid in range(1, MAX_FORWARD_HOPS + 1):
        assert not (path and re.search(hops_regex(), path))
        path = append_hop(path, f"user-{uid}")
    assert path == ",user-1,user-2,user-3,user-4,user-5"
    assert re.search(hops_regex(), path)
    assert re.search(visited_regex("user-3"), path)
    assert not re.search(visited_regex("user-33"), ",user-1,user-33x")
    assert re.search(visited_regex("user-33"), ",user-1,user-33")
    assert not re.search(visited_regex("hunt_group-1"), path)


def test_route_without_rules_goes_to_voicemail_or_hangs_up(ctx):
    route = user_route(ctx.users[1], [], ctx.users)
    assert route.always is None and route.ring_seconds == 20
    assert route.on_busy == Step(Action.VOICEMAIL, target_id=1, mailbox="2301")
    route = user_route(ctx.users[4], [], ctx.users)
    assert route.on_busy == Step(Action.HANGUP, cause="USER_BUSY")
    assert route.on_no_answer.cause == "NO_ANSWER"
    assert route.on_unreachable.cause == "USER_NOT_REGISTERED"


def test_route_with_rules(ctx):
    rules = [
        rule(kind="no_answer", target_type="user", target_id=2, no_answer_seconds=12),
        rule(kind="busy", target_type="mobile", announce=True),
        rule(kind="unreachable", target_type="vm_or_queue", target_id=3),
        rule(
            kind="always",
            target_type="external",
            target_number="+31201234567",
            enabled=False,
        ),
    ]
    route = user_route(ctx.users[1], rules, ctx.users, queue_extensions={3: "2400"})
    assert route.always is None
    assert route.ring_seconds == 12
    assert route.on_no_answer == Step(Action.USER, target_id=2, extension="2302")
    assert route.on_busy == Step(Action.EXTERNAL, number="+31612345671", announce=True)
    assert route.on_unreachable == Step(
        Action.VM_OR_QUEUE, target_id=3, mailbox="2301", extension="2400"
    )


def test_route_to_a_colleague_who_left_falls_back_to_voicemail(ctx):
    ctx.users[2].active = False
    route = user_route(ctx.users[1], [rule(target_type="user", target_id=2)], ctx.users)
    assert route.always == Step(Action.VOICEMAIL, target_id=1, mailbox="2301")
    assert isinstance(InvalidForwardTarget("a", "b"), ForwardingError)
