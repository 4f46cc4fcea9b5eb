"""Feature-code calls parked by the dialplan, carried out over the gateway."""

import pytest
from sqlalchemy import select

from orchestrator.esl.fake import FakeGateway
from orchestrator.features.parked import FeatureCalls
from orchestrator.store import models as m


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def calls(store, gateway, notifier):
    handler = FeatureCalls(store, gateway, notifier=notifier)
    handler.start()
    yield handler
    handler.stop()


def park(gateway: FakeGateway, action: str, user_id: str = "3", arg: str = "") -> str:
    uuid = gateway.add_channel()
    variables = {
        "variable_schakel_action": action,
        "variable_schakel_target": "feature",
    }
    if user_id:
        variables["variable_schakel_user_id"] = user_id
    if arg:
        variables["variable_schakel_action_arg"] = arg
    gateway.push(gateway.event("CHANNEL_PARK", uuid, **variables))
    return uuid


def test_dnd_on_then_confirmation(calls, gateway, store):
    uuid = park(gateway, "dnd_on")
    assert gateway.lines("uuid_transfer") == [
        f"uuid_transfer {uuid} feature_ok XML targets"
    ]
    with store.session() as s:
        assert s.get(m.User, 3).dnd is True


def test_forward_on_and_off(calls, gateway, store):
    park(gateway, "forward_always_on", arg="0612345678")
    with store.session() as s:
        row = s.scalars(select(m.CallForward).where(m.CallForward.user_id == 3)).one()
        assert (row.kind, row.target_number) == ("always", "+31612345678")
    park(gateway, "forward_always_off")
    with store.session() as s:
        assert s.scalars(select(m.CallForward)).all() == []
    assert all(" feature_ok " in line for line in gateway.lines("uuid_transfer"))


def test_hunt_logout_of_one_group(calls, gateway, store):
    park(gateway, "hunt_logout", user_id="11", arg="2500")
    with store.session() as s:
        row = s.scalars(
            select(m.HuntGroupMember).where(m.HuntGroupMember.user_id == 11)
        ).one()
        assert row.logged_in is False


@pytest.mark.parametrize(
    "action,user_id,arg",
    [
        ("hunt_login", "3", "2500"),  # not a member
        ("forward_always_on", "3", "0900123456"),  # barred by the traffic class
        ("forward_always_on", "3", "2303"),  # to itself
        ("dnd_on", "", ""),  # a device without a user
        ("make_coffee", "3", ""),
    ],
)
def test_refusals_get_the_refusal_tone(calls, gateway, action, user_id, arg):
    uuid = park(gateway, action, user_id, arg)
    assert gateway.lines("uuid_transfer") == [
        f"uuid_transfer {uuid} feature_refused XML targets"
    ]


def test_other_parked_calls_are_left_alone(calls, gateway):
    uuid = gateway.add_channel()
    gateway.push(gateway.event("CHANNEL_PARK", uuid, variable_schakel_target="queue"))
    assert gateway.sent == []


def test_caller_gone_before_the_answer(calls, gateway, store):
    uuid = park(gateway, "dnd_on")
    gateway.clear()
    gateway.channels.pop(uuid)
    gateway.push(
        gateway.event(
            "CHANNEL_PARK",
            uuid,
            variable_schakel_action="dnd_off",
            variable_schakel_user_id="3",
        )
    )
    with store.session() as s:
        assert s.get(m.User, 3).dnd is False


def test_a_feature_call_parked_while_nobody_followed_the_switch_is_carried_out(
    store, gateway, notifier
):
    from orchestrator.esl.snapshot import LiveSnapshot

    uuid = gateway.add_channel()
    gateway.channels[uuid].variables.update(
        {"schakel_action": "dnd_on", "schakel_user_id": "3"}
    )
    queued = gateway.add_channel()  # parked for the contact centre
    gateway.channels[queued].variables["schakel_target"] = "queue"
    rows = [
        {"uuid": uuid, "application": "park"},
        {"uuid": queued, "application": "park"},
        {"uuid": gateway.add_channel(), "application": "bridge"},
    ]
    handler = FeatureCalls(store, gateway, notifier=notifier)
    handler.start()
    try:
        gateway.resync(LiveSnapshot(rows, [], []))
        assert gateway.lines("uuid_transfer") == [
            f"uuid_transfer {uuid} feature_ok XML targets"
        ]
        with store.session() as s:
            assert s.get(m.User, 3).dnd is True
        # Its CHANNEL_PARK, should it still arrive, is not acted on twice.
        gateway.push(
            gateway.event(
                "CHANNEL_PARK",
                uuid,
                variable_schakel_action="dnd_on",
                variable_schakel_user_id="3",
            )
        )
        assert len(gateway.lines("uuid_transfer")) == 1
    finally:
        handler.stop()
