"""The number plan, end to end: every DID, extension and main number routes.

Demo organisation through the simulated switch: the trunk may send a DID
as 0317..., +31317... or 0031317...; phones dial short extensions.
"""

import pytest


@pytest.mark.parametrize("dialled", ["0317492311", "+31317492311", "0031317492311"])
def test_did_in_every_form_rings_the_user(sim, dialled):
    karin = sim.phone("karin", "2311", answers_after=1)
    call = sim.dial("0201234567", dialled)
    call.expect_answered_by(karin, within=30)
    assert call.variable("schakel_user_id") == "11"


def test_colleague_by_extension_from_a_desk_phone(sim):
    karin = sim.phone("karin", "2311", answers_after=1)
    lars = sim.phone("lars", "2312")
    call = lars.dial("2311")
    leg = call.expect_answered_by(karin, within=30)
    # Internally the caller shows as the colleague, by name and extension.
    assert leg.profile.caller_id_number == "2312"
    assert leg.profile.caller_id_name.startswith("Lars")


def test_colleague_by_full_number_from_a_desk_phone(sim):
    karin = sim.phone("karin", "2311", answers_after=1)
    lars = sim.phone("lars", "2312")
    call = lars.dial("0317492311")
    call.expect_answered_by(karin, within=30)


def test_group_number_and_group_extension(sim, demo):
    burgerzaken = demo.group("Burgerzaken")
    first = burgerzaken.member_names[0]
    phone = sim.phone(first, demo.user(first).extension, answers_after=1)
    call = sim.dial("0201234567", burgerzaken.number)
    call.expect_answered_by(phone, within=30)
    assert call.variable("schakel_hunt_group_id") == str(burgerzaken.id)
    colleague = sim.phone("jeroen", "2310")
    call = colleague.dial(burgerzaken.extension)
    call.expect_answered_by(phone, within=30)


def test_main_number_goes_to_its_schedule_and_menu(sim):
    call = sim.dial("0201234567", "0317492300")
    call.expect_parked(within=30)
    assert call.variable("schakel_target") == "schedule"
    assert call.variable("schakel_open_target") == "ivr-1"


def test_single_number_outside_the_block_reaches_the_on_call_team(sim):
    call = sim.dial("0201234567", "0317499000")
    call.expect_parked(within=30)
    assert call.variable("schakel_target") == "oncall"


def test_queue_number_parks_for_the_contact_centre(sim):
    call = sim.dial("0201234567", "0317492700")
    call.expect_parked(within=30)
    assert (call.variable("schakel_target"), call.variable("schakel_queue_id")) == (
        "queue",
        "1",
    )


@pytest.mark.parametrize("dialled", ["0317492999", "12345", "0317"])
def test_numbers_that_are_not_ours_are_refused(sim, dialled):
    call = sim.dial("0201234567", dialled)
    call.expect_hangup(cause="UNALLOCATED_NUMBER", within=30)
