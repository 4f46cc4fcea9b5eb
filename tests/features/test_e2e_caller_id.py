"""Outbound caller ID end to end: policy per user, per call, per device.

Karin (DID 0317 49 2311) calls an outside number from her desk phone or
her app; the trunk leg shows the number the policy chose.
"""

from orchestrator.store import models as m

OUTSIDE = "+31201234567"
MAIN = "+31317492300"
KARIN_DID = "+31317492311"


def presented(sim, caller_phone, dialled: str):
    """The caller ID number the trunk leg of a call shows."""
    far = sim.parties.get("outside") or sim.mobile(
        "outside", OUTSIDE, answers_after=0.5
    )
    call = caller_phone.dial(dialled)
    leg = call.expect_answered_by(far, within=30)
    number = leg.profile.caller_id_number
    call.hangup()
    call.expect_hangup(within=10)
    return number


def set_user(demo, **values):
    def change(session):
        user = session.get(m.User, 11)
        for name, value in values.items():
            setattr(user, name, value)

    demo.change(change)


def test_own_did_by_default(sim):
    karin = sim.phone("karin", "2311")
    assert presented(sim, karin, "0201234567") == KARIN_DID


def test_main_number_by_policy(sim, demo):
    set_user(demo, caller_id_policy="main")
    karin = sim.phone("karin", "2311")
    assert presented(sim, karin, "0201234567") == MAIN


def test_group_number_by_policy(sim, demo):
    set_user(demo, caller_id_policy="group", caller_id_group_number="+31317492800")
    karin = sim.phone("karin", "2311")
    assert presented(sim, karin, "0201234567") == "+31317492800"


def test_main_number_for_one_call_only(sim):
    karin = sim.phone("karin", "2311")
    assert presented(sim, karin, "*310201234567") == MAIN
    assert presented(sim, karin, "0201234567") == KARIN_DID


def test_private_mobile_only_where_allowed(sim, demo):
    karin = sim.phone("karin", "2311")
    call = karin.dial("*320201234567")
    call.expect_hangup(cause="CALL_REJECTED", within=30)
    set_user(demo, private_mobile_cli=True)
    assert presented(sim, karin, "*320201234567") == demo.user("karin").mobile


def test_the_app_presents_like_the_desk_phone(sim, demo):
    app = sim.phone("karin app", "2311-app")
    assert presented(sim, app, "0201234567") == KARIN_DID
    set_user(demo, caller_id_policy="main")
    assert presented(sim, app, "0201234567") == MAIN


def test_caller_name_and_number_reach_the_colleague(sim):
    karin = sim.phone("karin", "2311", answers_after=0.5)
    call = sim.dial("0612345678", "0317492311", display="Jan de Aannemer")
    leg = call.expect_answered_by(karin, within=30)
    assert (leg.profile.caller_id_number, leg.profile.caller_id_name) == (
        "0612345678",
        "Jan de Aannemer",
    )
