"""Feature codes from a desk phone, end to end over the Event Socket.

The dialplan parks the call; the orchestrator (connected to the simulated
switch's Event Socket like to FreeSWITCH) changes the setting, publishes
it, flushes the switch's XML cache and sends the phone to the
confirmation tone. The next call follows the new setting.
"""

from collections.abc import Iterator

import pytest
from feature_support import rang

from orchestrator.config.notifier import Notifier
from orchestrator.esl import Backoff, EslClient, EslGateway
from orchestrator.features.parked import FeatureCalls
from orchestrator.store import models as m

CALLER = "0201234567"


@pytest.fixture
def orchestrator(sim, store, demo_settings) -> Iterator[EslGateway]:
    host, port = sim.start_esl(port=0)
    client = EslClient(
        host, port, "ClueCon", connect_timeout=2, backoff=Backoff(0.02, 0.2)
    )
    client.start()
    assert client.wait_ready(5)
    gateway = EslGateway(client)
    calls = FeatureCalls(
        store, gateway, settings=demo_settings, notifier=Notifier(switch=gateway)
    )
    calls.start()
    yield gateway
    calls.stop()
    client.stop()


def dial_code(sim, phone, code: str) -> str:
    """Dial a feature code; the targets address the phone was sent to."""
    call = phone.dial(code)
    call.expect_parked(within=30)
    call.expect_hangup(within=30)
    return call.channel.profile.destination_number


def test_dnd_on_and_off(sim, store, orchestrator):
    karin = sim.phone("karin", "2311", answers_after=1)
    assert dial_code(sim, karin, "*78") == "feature_ok"
    with store.session() as session:
        assert session.get(m.User, 11).dnd
    call = sim.dial(CALLER, "0317492311")
    call.expect_event(
        "CHANNEL_EXECUTE",
        within=30,
        Application="voicemail",
        Application_Data="default pbx.local 2311",
    )
    assert rang(sim, karin) == 0
    assert dial_code(sim, karin, "*79") == "feature_ok"
    call = sim.dial(CALLER, "0317492311")
    call.expect_answered_by(karin, within=30)


def test_forward_all_calls_from_the_phone(sim, orchestrator):
    karin = sim.phone("karin", "2311", answers_after=1)
    mobile = sim.mobile("mobile", "+31612345678", answers_after=1)
    assert dial_code(sim, karin, "*210612345678") == "feature_ok"
    call = sim.dial(CALLER, "0317492311")
    call.expect_answered_by(mobile, within=30)
    assert rang(sim, karin) == 0
    assert dial_code(sim, karin, "*20") == "feature_ok"
    call = sim.dial(CALLER, "0317492311")
    call.expect_answered_by(karin, within=30)


def test_refused_forward_gets_the_refusal_tone(sim, store, orchestrator):
    karin = sim.phone("karin", "2311")
    assert dial_code(sim, karin, "*2109001234567") == "feature_refused"
    assert dial_code(sim, karin, "*212311") == "feature_refused"
    with store.session() as session:
        assert session.query(m.CallForward).count() == 0


def test_hunt_group_logout_and_login(sim, demo, orchestrator):
    group = demo.group("Burgerzaken")
    karin = sim.phone("karin", "2311", answers_after=1)
    lars = sim.phone("lars", "2312", answers_after=1)
    assert dial_code(sim, karin, f"*61{group.extension}") == "feature_ok"
    call = sim.dial(CALLER, group.number)
    call.expect_answered_by(lars, within=30)
    call.hangup()
    assert rang(sim, karin) == 0
    assert dial_code(sim, karin, "*60") == "feature_ok"
    call = sim.dial(CALLER, group.number)
    call.expect_answered_by(karin, within=30)


def test_login_to_a_group_one_is_not_in(sim, demo, orchestrator):
    anna = sim.phone("anna", "2301")
    group = demo.group("Burgerzaken")
    assert dial_code(sim, anna, f"*60{group.extension}") == "feature_refused"
