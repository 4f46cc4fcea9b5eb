"""Changing hunt group login, do-not-disturb and forwarding, published."""

import pytest
from sqlalchemy import func, select

from orchestrator.domain.forwarding import (
    ForwardBarred,
    ForwardingLoop,
    ForwardRule,
    InvalidForwardTarget,
)
from orchestrator.domain.hunt import NotAMember
from orchestrator.features import service
from orchestrator.store import models as m

# Demo organisation: users 1-48 have extensions 2301-2348; Burgerzaken (2500)
# has users 11-15, Vergunningen (2510) users 16-20; queue KCC is 2400.


def revisions(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(m.ConfigRevision))


def member(store, group_id: int, user_id: int) -> bool:
    with store.session() as s:
        return s.scalars(
            select(m.HuntGroupMember.logged_in).where(
                m.HuntGroupMember.group_id == group_id,
                m.HuntGroupMember.user_id == user_id,
            )
        ).one()


def test_hunt_membership_from_the_web_app_publishes_a_revision(store, notifier):
    before = revisions(store)
    assert service.set_hunt_membership(store, 11, 1, False, notifier=notifier)
    assert member(store, 1, 11) is False
    assert revisions(store) == before + 1
    assert not service.set_hunt_membership(store, 11, 1, False, notifier=notifier)
    assert revisions(store) == before + 1


def test_hunt_membership_refuses_strangers(store, notifier):
    with pytest.raises(NotAMember, match="not a member of 'Burgerzaken'"):
        service.set_hunt_membership(store, 1, 1, True, notifier=notifier)
    with pytest.raises(service.UnknownHuntGroup):
        service.set_hunt_membership(store, 11, 99, True, notifier=notifier)
    with pytest.raises(service.UnknownUser):
        service.set_hunt_membership(store, 999, 1, True, notifier=notifier)


def test_feature_code_login_by_group_extension_or_all(store, notifier):
    assert service.set_hunt_login(store, 11, False, notifier=notifier) == [
        "Burgerzaken"
    ]
    assert service.set_hunt_login(
        store, 11, True, group_extension="2500", notifier=notifier
    ) == ["Burgerzaken"]
    with pytest.raises(NotAMember):
        service.set_hunt_login(store, 11, True, group_extension="2510")
    with pytest.raises(service.UnknownHuntGroup):
        service.set_hunt_login(store, 11, True, group_extension="2999")


def test_dnd(store, notifier):
    assert service.set_dnd(store, 3, True, notifier=notifier)
    assert not service.set_dnd(store, 3, True, notifier=notifier)
    with store.session() as s:
        assert s.get(m.User, 3).dnd is True


def stored_forward(store, user_id: int, kind: str) -> m.CallForward | None:
    with store.session() as s:
        return s.scalars(
            select(m.CallForward).where(
                m.CallForward.user_id == user_id, m.CallForward.kind == kind
            )
        ).first()


@pytest.mark.parametrize("typed", ["0201234567", "+31201234567", "0031201234567"])
def test_forward_to_a_number_is_stored_normalised(store, notifier, typed):
    rule = ForwardRule(
        3, "no_answer", "external", target_number=typed, no_answer_seconds=15
    )
    service.set_forward(store, rule, notifier=notifier)
    row = stored_forward(store, 3, "no_answer")
    assert (row.target_type, row.target_number, row.no_answer_seconds) == (
        "external",
        "+31201234567",
        15,
    )


def test_forward_replaces_and_clears(store, notifier):
    service.set_forward(store, ForwardRule(3, "busy", "voicemail"), notifier=notifier)
    service.set_forward(
        store, ForwardRule(3, "busy", "user", target_id=4), notifier=notifier
    )
    assert stored_forward(store, 3, "busy").target_id == 4
    assert service.clear_forward(store, 3, "busy", notifier=notifier)
    assert stored_forward(store, 3, "busy") is None
    assert not service.clear_forward(store, 3, "busy", notifier=notifier)


def test_forwarding_loop_refused_and_nothing_stored(store, notifier):
    service.set_forward(
        store, ForwardRule(3, "busy", "user", target_id=4), notifier=notifier
    )
    before = revisions(store)
    with pytest.raises(ForwardingLoop, match="Carla Smit .2303. → Daan de Vries"):
        service.set_forward(
            store, ForwardRule(4, "no_answer", "user", target_id=3), notifier=notifier
        )
    assert stored_forward(store, 4, "no_answer") is None
    assert revisions(store) == before


def test_forward_within_the_traffic_class_only(store, notifier):
    # User 11 has the end-user profile: national and mobile, no premium.
    with pytest.raises(ForwardBarred, match="premium"):
        service.set_forward(
            store,
            ForwardRule(11, "always", "external", target_number="0900 1234567"),
            notifier=notifier,
        )
    with pytest.raises(InvalidForwardTarget, match="not a telephone number"):
        service.set_forward(
            store,
            ForwardRule(11, "always", "external", target_number="abc"),
            notifier=notifier,
        )


def test_forward_always_to_what_was_dialled(store, notifier):
    rule = service.forward_always_to(store, 3, "2304", notifier=notifier)
    assert (rule.target_type, rule.target_id) == ("user", 4)
    rule = service.forward_always_to(store, 3, "2400", notifier=notifier)
    assert rule.target_type == "queue"
    rule = service.forward_always_to(store, 3, "0612345678", notifier=notifier)
    assert (rule.target_type, rule.target_number) == ("external", "+31612345678")
    with pytest.raises(InvalidForwardTarget, match="ivr"):
        service.forward_always_to(store, 3, "2300", notifier=notifier)
