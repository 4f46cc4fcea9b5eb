"""Hold and transfers: the commands the switch gets, checked on a fake one."""

from __future__ import annotations

import json
from collections.abc import Callable

import orjson
import pytest

from orchestrator import live
from orchestrator.calls.directory import UserDirectory
from orchestrator.calls.errors import (
    AlreadyOnHold,
    CallNotFound,
    InvalidDestination,
    NotBridged,
    NotOnHold,
    SwitchUnavailable,
    TransferInProgress,
    TransferNotAllowed,
)
from orchestrator.calls.presence import PresenceTracker
from orchestrator.calls.service import CallService
from orchestrator.calls.transfer import State
from orchestrator.esl.errors import NotConnected
from orchestrator.esl.fake import FakeGateway

CALLER = "06ff8061-06da-465e-833e-e565e01c8688"  # the external caller (A leg)
ANNA = "cbc748a5-d4e8-4f36-a299-078d8b53d46f"  # anna's phone (B leg)
MUSIC = "local_stream://gemeente"

USER_VARIABLES = {
    "variable_schakel_call_rights": "national,mobile",
    "variable_schakel_max_call_seconds": "3600",
    "variable_outbound_caller_id_number": "+31317492301",
    "variable_outbound_caller_id_name": "Gemeente Voorbeeldstad",
    "variable_schakel_username": "anna",
}
CALLER_VARIABLES = {
    "Caller-Caller-ID-Number": "0201234567",
    "Caller-Caller-ID-Name": "Capture Caller",
    "variable_schakel_external_cli": "+31201234567",
}


class Spawned:
    """Background work (the consultation's originate), run when the test says."""

    def __init__(self) -> None:
        self.work: list[Callable[[], None]] = []

    def __call__(self, work: Callable[[], None]) -> None:
        self.work.append(work)

    def run(self) -> None:
        while self.work:
            self.work.pop(0)()


@pytest.fixture
def gateway() -> FakeGateway:
    gateway = FakeGateway()
    gateway.add_channel(CALLER)
    gateway.add_channel(ANNA)
    dumps = {ANNA: USER_VARIABLES, CALLER: CALLER_VARIABLES}
    gateway.reply(
        "uuid_dump",
        lambda line: json.dumps(dumps.get(line.split()[1], {})),
    )
    return gateway


@pytest.fixture
def redis_client(settings):
    return live.connect(settings.redis_url)


@pytest.fixture
def tracker(redis_client, store, users, capture) -> PresenceTracker:
    """anna's phone answered an external call; the legs are bridged."""
    tracker = PresenceTracker(redis_client, UserDirectory(store))
    events = capture("03-basic-bridge")
    bridge = next(i for i, e in enumerate(events) if e.name == "CHANNEL_BRIDGE")
    for event in events[: bridge + 1]:
        tracker.handle(event)
    return tracker


@pytest.fixture
def spawned() -> Spawned:
    return Spawned()


@pytest.fixture
def service(gateway, redis_client, store, tracker, spawned, settings) -> CallService:
    return CallService(
        gateway,
        redis_client,
        UserDirectory(store),
        domain=settings.sip_domain,
        music=lambda: MUSIC,
        spawn=spawned,
    )


def sent_since(gateway: FakeGateway, mark: int) -> list[str]:
    return [s.line for s in gateway.sent[mark:] if s.command != "uuid_dump"]


# -- hold ----------------------------------------------------------------------


def test_hold_makes_sure_of_music_then_holds_the_users_leg(service, gateway):
    service.hold("anna", ANNA)
    assert gateway.lines() == [
        f"uuid_getvar {ANNA} hold_music",
        f"uuid_setvar {ANNA} hold_music {MUSIC}",
        f"uuid_hold {ANNA}",
    ]


def test_hold_keeps_music_the_dialplan_chose(service, gateway):
    gateway.channels[ANNA].variables["hold_music"] = "local_stream://moh"
    service.hold("anna", ANNA)
    assert gateway.lines() == [f"uuid_getvar {ANNA} hold_music", f"uuid_hold {ANNA}"]


def test_unhold(service, gateway, tracker):
    with pytest.raises(NotOnHold):
        service.unhold("anna", ANNA)
    tracker.handle(gateway.event("CHANNEL_HOLD", ANNA))
    with pytest.raises(AlreadyOnHold):
        service.hold("anna", ANNA)

    service.unhold("anna", ANNA)

    assert gateway.lines() == [f"uuid_hold off {ANNA}"]


def test_only_the_users_own_calls(service, gateway):
    with pytest.raises(CallNotFound):
        service.hold("bram", ANNA)
    with pytest.raises(CallNotFound):
        service.hold("anna", CALLER)  # the caller's leg is not anna's
    with pytest.raises(CallNotFound):
        service.hold("anna", "00000000-0000-4000-8000-000000000000")
    assert gateway.lines() == []


def test_a_call_not_connected_cannot_be_held(service, gateway, tracker):
    tracker.legs.update(ANNA, other="")
    with pytest.raises(NotBridged):
        service.hold("anna", ANNA)
    assert gateway.lines() == [f"uuid_getvar {ANNA} bridge_uuid"]


def test_switch_down_is_a_clear_error(service, gateway):
    def down(line: str) -> str:
        raise NotConnected("switch gone")

    gateway.reply("uuid_getvar", down)
    with pytest.raises(SwitchUnavailable):
        service.hold("anna", ANNA)


# -- blind transfer --------------------------------------------------------------


def test_blind_transfer_presents_the_original_caller(service, gateway, settings):
    service.blind_transfer("anna", ANNA, "06-1234 5678")

    lines = sent_since(gateway, 0)
    assert lines[-1] == f"uuid_transfer {CALLER} 0612345678 XML default"
    setvars = {
        line.split(" ", 3)[2]: line.split(" ", 3)[3]
        for line in lines
        if line.startswith(f"uuid_setvar {CALLER} ")
    }
    assert setvars["effective_caller_id_number"] == "0201234567"
    assert setvars["effective_caller_id_name"] == "Capture Caller"
    assert setvars["sip_h_Diversion"] == (
        f"<sip:+31317492301@{settings.sip_domain}>;reason=deflection"
    )
    # Routed with anna's rights, as if she had dialled the number.
    assert setvars["schakel_call_rights"] == "national,mobile"
    assert setvars["schakel_transferred_by"] == "anna"
    # The caller's own number stays the one presented outside: nothing of
    # anna's caller ID goes onto the caller's leg.
    assert "schakel_external_cli" not in setvars
    assert not {"outbound_caller_id_number", "outbound_caller_id_name"} & set(setvars)
    assert all(line.startswith("uuid_setvar") for line in lines[:-1])


def test_blind_transfer_refuses_what_is_not_a_number(service, gateway):
    for bad in ("", "abc", "1", "2002; rm", "0612345678\nuuid_kill"):
        with pytest.raises(InvalidDestination):
            service.blind_transfer("anna", ANNA, bad)
    assert gateway.lines() == []


# -- attended transfer -----------------------------------------------------------


def consultation(service, gateway, spawned, destination="2002"):
    transfer = service.start_attended("anna", ANNA, destination)
    return transfer, transfer.target


def test_attended_transfer_holds_the_caller_and_calls_the_target(
    service, gateway, spawned
):
    transfer, target = consultation(service, gateway, spawned)

    assert transfer.state is State.RINGING
    assert sent_since(gateway, 0) == [
        f"uuid_getvar {CALLER} park_after_bridge",
        f"uuid_getvar {CALLER} hangup_after_bridge",
        f"uuid_getvar {ANNA} park_after_bridge",
        f"uuid_setvar {CALLER} park_after_bridge true",
        f"uuid_setvar {CALLER} hangup_after_bridge false",
        f"uuid_setvar {ANNA} park_after_bridge true",
        f"uuid_getvar {ANNA} hold_music",
        f"uuid_setvar {ANNA} hold_music {MUSIC}",
        f"uuid_hold {ANNA}",
    ]
    mark = len(gateway.sent)

    spawned.run()

    (originate, *after) = sent_since(gateway, mark)
    assert originate.startswith("originate {origination_uuid=" + target)
    assert originate.endswith("}loopback/2002/default &park()")
    for part in (
        "schakel_call_rights=national\\,mobile",
        "origination_caller_id_number=2001",
        "origination_caller_id_name='Anna Jansen'",
        "loopback_bowout=false",
        "schakel_external_cli=+31317492301",
    ):
        assert part in originate
    assert after == [
        f"uuid_bridge {ANNA} {target}",
        f"uuid_broadcast {CALLER} {MUSIC} aleg",
        f"uuid_hold off {ANNA}",
    ]
    assert service.transfer_of("anna", ANNA).state is State.CONSULTING


def test_cancel_reconnects_the_caller(service, gateway, spawned):
    _, target = consultation(service, gateway, spawned)
    spawned.run()
    mark = len(gateway.sent)

    transfer = service.cancel_transfer("anna", ANNA)

    assert transfer.state is State.CANCELLED
    assert sent_since(gateway, mark) == [
        f"uuid_break {CALLER} all",
        f"uuid_bridge {CALLER} {ANNA}",
        f"uuid_kill {target} NORMAL_CLEARING",
        # park_after_bridge and hangup_after_bridge as they were (unset).
        f"uuid_setvar {CALLER} park_after_bridge",
        f"uuid_setvar {CALLER} hangup_after_bridge",
        f"uuid_setvar {ANNA} park_after_bridge",
    ]


def test_complete_connects_caller_and_target(service, gateway, spawned):
    gateway.channels[CALLER].variables["hangup_after_bridge"] = "true"
    _, target = consultation(service, gateway, spawned)
    spawned.run()
    mark = len(gateway.sent)

    transfer = service.complete_transfer("anna", ANNA)

    assert transfer.state is State.COMPLETED
    assert sent_since(gateway, mark) == [
        f"uuid_break {CALLER} all",
        f"uuid_bridge {CALLER} {target}",
        f"uuid_setvar {CALLER} park_after_bridge",
        f"uuid_setvar {CALLER} hangup_after_bridge true",
        f"uuid_kill {ANNA} NORMAL_CLEARING",
    ]


def test_cancel_while_the_target_rings(service, gateway, spawned):
    _, target = consultation(service, gateway, spawned)
    mark = len(gateway.sent)

    transfer = service.cancel_transfer("anna", ANNA)

    assert transfer.state is State.CANCELLED
    assert sent_since(gateway, mark) == [
        f"uuid_kill {target} ORIGINATOR_CANCEL",
        f"uuid_setvar {CALLER} park_after_bridge",
        f"uuid_setvar {CALLER} hangup_after_bridge",
        f"uuid_setvar {ANNA} park_after_bridge",
        f"uuid_hold off {ANNA}",
    ]
    # The originate gives up when its leg is killed; nothing more happens.
    gateway.reply("originate", "-ERR ORIGINATOR_CANCEL\n")
    mark = len(gateway.sent)
    spawned.run()
    assert sent_since(gateway, mark)[1:] == []


def test_target_busy_takes_the_caller_off_hold(service, gateway, spawned):
    gateway.reply("originate", "-ERR USER_BUSY\n")
    _, target = consultation(service, gateway, spawned)
    mark = len(gateway.sent)

    spawned.run()

    transfer = service.transfer_of("anna", ANNA)
    assert (transfer.state, transfer.reason) == (State.FAILED, "-ERR USER_BUSY")
    assert sent_since(gateway, mark)[1:] == [
        f"uuid_kill {target} ORIGINATOR_CANCEL",
        f"uuid_setvar {CALLER} park_after_bridge",
        f"uuid_setvar {CALLER} hangup_after_bridge",
        f"uuid_setvar {ANNA} park_after_bridge",
        f"uuid_hold off {ANNA}",
    ]


def test_complete_before_the_target_answers_is_refused(service, gateway, spawned):
    consultation(service, gateway, spawned)
    with pytest.raises(TransferNotAllowed):
        service.complete_transfer("anna", ANNA)
    assert service.transfer_of("anna", ANNA).state is State.RINGING


def test_one_transfer_at_a_time(service, gateway, spawned):
    consultation(service, gateway, spawned)
    with pytest.raises(TransferInProgress):
        service.start_attended("anna", ANNA, "2003")
    with pytest.raises(TransferInProgress):
        service.blind_transfer("anna", ANNA, "2003")


def test_target_hanging_up_returns_the_caller(service, gateway, spawned):
    _, target = consultation(service, gateway, spawned)
    spawned.run()
    mark = len(gateway.sent)

    service.handle(gateway.event("CHANNEL_HANGUP_COMPLETE", target))

    assert service.transfer_of("anna", ANNA).state is State.CANCELLED
    assert sent_since(gateway, mark)[:2] == [
        f"uuid_break {CALLER} all",
        f"uuid_bridge {CALLER} {ANNA}",
    ]


def test_hanging_up_during_the_consultation_completes(service, gateway, spawned):
    _, target = consultation(service, gateway, spawned)
    spawned.run()
    gateway.channels.pop(ANNA)

    service.handle(gateway.event("CHANNEL_HANGUP_COMPLETE", ANNA))

    assert service.transfer_of("anna", ANNA).state is State.COMPLETED
    assert f"uuid_bridge {CALLER} {target}" in gateway.lines()


def test_user_hanging_up_while_the_target_rings(service, gateway, spawned):
    _, target = consultation(service, gateway, spawned)
    gateway.channels.pop(ANNA)

    service.handle(gateway.event("CHANNEL_HANGUP_COMPLETE", ANNA))
    assert service.transfer_of("anna", ANNA).state is State.COMPLETING
    assert gateway.lines()[-1] == f"uuid_broadcast {CALLER} {MUSIC} aleg"

    spawned.run()  # the target answers
    assert service.transfer_of("anna", ANNA).state is State.COMPLETED
    assert f"uuid_bridge {CALLER} {target}" in gateway.lines()


def test_nobody_answers_after_the_user_hung_up(service, gateway, spawned):
    gateway.reply("originate", "-ERR NO_ANSWER\n")
    consultation(service, gateway, spawned)
    gateway.channels.pop(ANNA)
    service.handle(gateway.event("CHANNEL_HANGUP_COMPLETE", ANNA))

    spawned.run()

    # The caller rings the user again rather than waiting for nobody.
    assert service.transfer_of("anna", ANNA).state is State.FAILED
    assert gateway.lines()[-1] == f"uuid_transfer {CALLER} 2001 XML default"


def test_caller_hanging_up_while_the_target_rings(service, gateway, spawned):
    _, target = consultation(service, gateway, spawned)
    gateway.channels.pop(CALLER)

    service.handle(gateway.event("CHANNEL_HANGUP_COMPLETE", CALLER))

    assert service.transfer_of("anna", ANNA).state is State.ABANDONED
    assert gateway.lines()[-2:] == [
        f"uuid_kill {target} ORIGINATOR_CANCEL",
        f"uuid_kill {ANNA} NORMAL_CLEARING",
    ]


def test_calls_list_shows_the_transfer(service, gateway, spawned, redis_client):
    consultation(service, gateway, spawned)
    (call,) = service.calls_of("anna")
    assert call["uuid"] == ANNA
    assert call["other"] == CALLER
    assert call["other_number"] == "+31201234567"
    assert call["transfer"]["state"] == "ringing"
    assert call["transfer"]["destination"] == "2002"
    stored = orjson.loads(redis_client.get(f"schakel:transfer:{ANNA}"))
    assert stored["caller"] == CALLER
