"""Telephony checks run by the configuration's validation on every publish."""

import pytest
from sqlalchemy import func, select

from orchestrator.config.validate import ForwardingLoop, InvalidValue, ValidationError
from orchestrator.store import models as m


def revisions(store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(m.ConfigRevision))


def forwards(session, *rules):
    session.add_all(
        m.CallForward(user_id=uid, kind=kind, target_type=ttype, target_id=tid,
                      target_number=number)
        for uid, kind, ttype, tid, number in rules
    )  # fmt: skip


@pytest.mark.parametrize(
    "rules",
    [
        # busy / no answer loops, not only "always"
        [(11, "busy", "user", 12, None), (12, "no_answer", "user", 11, None)],
        # through a colleague's DID typed as an outside number
        [
            (11, "always", "external", None, "+31317492312"),
            (12, "unreachable", "user", 11, None),
        ],
        # through a hunt group whose fallback is the user
        [(11, "no_answer", "hunt_group", 1, None)],
    ],
)
def test_forwarding_loops_of_every_kind_are_refused(store, demo, rules):
    before = revisions(store)

    def change(session):
        forwards(session, *rules)
        if rules[0][2] == "hunt_group":
            group = session.get(m.HuntGroup, 1)
            group.fallback_type, group.fallback_id = "user", 11

    with pytest.raises(ForwardingLoop, match="forwarding loop"):
        demo.change(change)
    assert revisions(store) == before
    with store.session() as session:
        assert session.scalars(select(m.CallForward)).all() == []


def test_a_chain_without_a_circle_is_fine(demo):
    demo.change(lambda s: forwards(s, (11, "busy", "user", 12, None),
                                   (12, "busy", "user", 13, None)))  # fmt: skip


def test_hunt_group_settings_the_switch_cannot_honour(demo):
    def too_long(session):
        session.get(m.HuntGroup, 1).member_ring_seconds = 45

    with pytest.raises(InvalidValue, match="cannot ring longer than the whole group"):
        demo.change(too_long)

    def itself(session):
        group = session.get(m.HuntGroup, 1)
        group.fallback_type, group.fallback_id = "hunt_group", 1

    with pytest.raises(ValidationError, match="round in a circle|fall back to itself"):
        demo.change(itself)


def test_one_number_delay_within_the_ring_time(demo):
    def late(session):
        user = session.get(m.User, 11)
        user.one_number, user.one_number_delay = "after", 25

    with pytest.raises(InvalidValue, match="between 1 and 19"):
        demo.change(late)


def test_caller_id_policy_needs_its_number(demo):
    def group_without_number(session):
        session.get(m.User, 11).caller_id_policy = "group"

    with pytest.raises(InvalidValue, match="give the group number to present"):
        demo.change(group_without_number)
