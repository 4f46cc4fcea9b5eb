from types import SimpleNamespace

import pytest

from orchestrator.domain.hunt import (
    HuntGroupError,
    HuntStep,
    MemberLeg,
    NotAMember,
    check_group,
    check_membership,
    hunt_plan,
    linear_steps,
    next_pointer,
    ringing_members,
)
from orchestrator.domain.steps import Action, Step
from orchestrator.store import models as m


def group(strategy: str, **kw) -> m.HuntGroup:
    values = dict(
        id=1,
        name="Burgerzaken",
        strategy=strategy,
        member_ring_seconds=15,
        no_answer_seconds=40,
        fallback_type="queue",
        fallback_id=3,
        fallback_number=None,
    )
    values.update(kw)
    return m.HuntGroup(**values)


def legs(n: int) -> list[MemberLeg]:
    return [
        MemberLeg(i, str(2300 + i), (str(2300 + i), f"{2300 + i}-app"))
        for i in range(1, n + 1)
    ]


def test_only_logged_in_active_members_with_devices_ring_in_position_order():
    users = {
        i: m.User(id=i, name=f"U{i}", extension=str(2300 + i), active=i != 4)
        for i in range(1, 7)
    }
    members = [
        m.HuntGroupMember(user_id=1, position=3, logged_in=True),
        m.HuntGroupMember(user_id=2, position=1, logged_in=True),
        m.HuntGroupMember(user_id=3, position=2, logged_in=False),
        m.HuntGroupMember(user_id=4, position=0, logged_in=True),
        m.HuntGroupMember(user_id=5, position=4, logged_in=True),
        m.HuntGroupMember(user_id=6, position=5, logged_in=True),
    ]
    devices = {i: [str(2300 + i)] for i in (1, 2, 3, 4, 5)}
    ringing = ringing_members(members, users, devices, dnd={5: True})
    assert [leg.user_id for leg in ringing] == [2, 1]


def test_linear_rings_in_turn_within_the_group_wait():
    steps = linear_steps(legs(5), 15, 40)
    assert [(s.members[0].user_id, s.seconds) for s in steps] == [
        (1, 15),
        (2, 15),
        (3, 10),
    ]
    assert linear_steps(legs(2), 15, 40)[-1].seconds == 15


def test_plans_per_strategy():
    members = legs(3)
    plan = hunt_plan(group("simultaneous"), members, extensions={("queue", 3): "2400"})
    assert plan.rotations == ((HuntStep(tuple(members), 40),),)
    assert plan.fallback == Step(Action.QUEUE, target_id=3, extension="2400")
    plan = hunt_plan(group("linear"), members)
    assert len(plan.rotations) == 1 and len(plan.rotations[0]) == 3
    plan = hunt_plan(group("cyclic", no_answer_seconds=30), members)
    starts = [[s.members[0].user_id for s in rot] for rot in plan.rotations]
    assert starts == [[1, 2], [2, 3], [3, 1]]
    assert plan.members == tuple(members)


def test_nobody_logged_in_goes_straight_to_the_fallback():
    plan = hunt_plan(
        group("cyclic", fallback_type="hunt_group", fallback_id=2),
        [],
        extensions={("hunt_group", 2): "2810"},
    )
    assert plan.rotations == ()
    assert plan.fallback == Step(Action.HUNT_GROUP, target_id=2, extension="2810")


@pytest.mark.parametrize(
    "kind,expected",
    [
        (
            "vm_or_queue",
            Step(Action.VM_OR_QUEUE, target_id=3, mailbox="2800", extension="2400"),
        ),
        (
            "voicemail",
            Step(Action.VOICEMAIL, target_id=3, mailbox="2800", extension="2400"),
        ),
        (None, Step(Action.HANGUP, cause="NO_ANSWER")),
    ],
)
def test_fallbacks(kind, expected):
    plan = hunt_plan(
        group("linear", fallback_type=kind),
        legs(1),
        extensions={("queue", 3): "2400"},
        mailbox="2800",
    )
    assert plan.fallback == expected
    ext = hunt_plan(
        group("linear", fallback_type="external", fallback_number="+31201234567"), []
    )
    assert ext.fallback == Step(Action.EXTERNAL, number="+31201234567")


def test_pointer_wraps():
    assert [next_pointer(i, 3) for i in range(3)] == [1, 2, 0]
    assert next_pointer(5, 0) == 0


@pytest.mark.parametrize(
    "kw,message",
    [
        (dict(strategy="random"), "not linear, cyclic or simultaneous"),
        (dict(member_ring_seconds=50), "cannot ring longer than the whole group"),
        (dict(fallback_type="hunt_group", fallback_id=1), "cannot fall back to itself"),
        (dict(fallback_type="queue", fallback_id=99), "fallback queue does not exist"),
        (dict(fallback_type="external"), "give the number"),
        (dict(fallback_type="vm_or_queue", fallback_id=99), "queue does not exist"),
    ],
)
def test_invalid_group_settings(kw, message):
    values = vars(group("linear")).copy()
    values.update(kw)
    row = SimpleNamespace(**values)
    with pytest.raises(HuntGroupError, match=message):
        check_group(row, known={"queue": [3], "hunt_group": [1, 2]})


def test_valid_group_settings():
    check_group(group("linear"), known={"queue": [3]})
    check_group(group("simultaneous", member_ring_seconds=60), known={"queue": [3]})


def test_membership():
    members = [m.HuntGroupMember(user_id=1, position=0, logged_in=True)]
    assert check_membership(members, 1, "X").user_id == 1
    with pytest.raises(NotAMember, match="user 2 is not a member of 'X'"):
        check_membership(members, 2, "X")
