import pytest

from orchestrator.domain.numberplan import (
    Destination,
    DuplicateNumber,
    NumberPlan,
    UnknownNumber,
    area_prefix,
)
from orchestrator.store import models as m


def user(uid: int, ext: str, did: str | None, active: bool = True) -> m.User:
    return m.User(
        id=uid,
        username=f"u{uid}",
        name=f"User {uid}",
        did=did,
        extension=ext,
        active=active,
    )


@pytest.fixture
def plan() -> NumberPlan:
    group = m.HuntGroup(
        id=7, name="Burgerzaken", number="+31317492800", extension="2800"
    )
    queue = m.Queue(id=3, name="KCC", number="+31317492400", extension="2400")
    menu = m.IvrMenu(id=5, name="Hoofdmenu", number="+31317492300", extension="2300")
    main = m.InboundNumber(
        id=1,
        number="+31317492300",
        label="Hoofdnummer",
        is_main=True,
        target_type="ivr",
        target_id=5,
    )
    single = m.InboundNumber(
        id=2,
        number="+31317499000",
        label="Los nummer",
        target_type="hunt_group",
        target_id=7,
    )
    return NumberPlan.from_config(
        users=[
            user(1, "2301", "+31317492301"),
            user(2, "2302", None),
            user(9, "2309", "+31317492309", active=False),
        ],
        inbound_numbers=[main, single],
        hunt_groups=[group],
        queues=[queue],
        menus=[menu],
    )


@pytest.mark.parametrize(
    "dialled", ["0317492301", "0317 49 23 01", "+31317492301", "0031317492301", "2301"]
)
def test_user_reachable_on_did_and_extension_in_every_form(plan, dialled):
    dest = plan.resolve(dialled)
    assert (dest.kind, dest.id) == ("user", 1)


def test_main_number_row_wins_over_the_menu_number(plan):
    dest = plan.resolve("0317 49 2300")
    assert dest == Destination("ivr", 5, "Hoofdnummer", "inbound", None, 1)


def test_single_number_and_group_number(plan):
    assert plan.resolve("0317499000").kind == "hunt_group"
    assert plan.resolve("0317492800") == Destination(
        "hunt_group", 7, "Burgerzaken", "did"
    )
    assert plan.resolve("2400").kind == "queue"


def test_unknown_and_inactive_numbers(plan):
    with pytest.raises(UnknownNumber, match="not a number or extension of ours"):
        plan.resolve("0317492399")
    assert plan.try_resolve("2309") is None
    assert plan.try_resolve("rubbish") is None


def test_a_number_used_twice_is_refused():
    with pytest.raises(DuplicateNumber, match=r"\+31317492301 is used by user"):
        NumberPlan.from_config(
            users=[user(1, "2301", "+31317492301")],
            hunt_groups=[m.HuntGroup(id=1, name="X", number="+31317492301")],
        )
    with pytest.raises(DuplicateNumber, match="2301"):
        NumberPlan.from_config(
            users=[user(1, "2301", None), user(2, "2301", None)],
        )


def test_area_prefix():
    assert area_prefix("+31317492301") == "+31317"
    assert area_prefix("+31201234567") == "+3120"
    assert area_prefix("+31612345678") is None
