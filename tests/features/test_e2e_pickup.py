"""Pickup: answering a colleague's ringing call from another desk phone.

Karin and Lars share the pickup group of their department; Anna is in
another group (the contact centre's).
"""

from feature_support import rang

CALLER = "0201234567"


def test_group_pickup_takes_the_ringing_call(sim):
    karin = sim.phone("karin", "2311", answers=False)
    lars = sim.phone("lars", "2312")
    call = sim.dial(CALLER, "0317492311")
    call.expect_event("CHANNEL_PROGRESS", within=30)
    picker = lars.dial("*8")
    picker.expect_event("CHANNEL_BRIDGE", within=30)
    assert call.channel.partner is picker.channel
    # Karin's phone stopped ringing: the call was taken from it.
    (desk,) = [c for c in sim.legs.values() if karin.owns(c)]
    assert desk.hangup_cause == "PICKED_OFF"


def test_group_pickup_from_another_group_finds_nothing(sim):
    sim.phone("karin", "2311", answers=False)
    anna = sim.phone("anna", "2301")
    call = sim.dial(CALLER, "0317492311")
    call.expect_event("CHANNEL_PROGRESS", within=30)
    picker = anna.dial("*8")
    picker.expect_hangup(cause="CALL_REJECTED", within=30)
    assert not call.answered


def test_directed_pickup_of_one_extension(sim):
    karin = sim.phone("karin", "2311", answers=False)
    anna = sim.phone("anna", "2301")
    call = sim.dial(CALLER, "0317492311")
    call.expect_event("CHANNEL_PROGRESS", within=30)
    picker = anna.dial("**2311")
    picker.expect_event("CHANNEL_BRIDGE", within=30)
    assert call.channel.partner is picker.channel
    assert rang(sim, karin) == 1


def test_an_answered_call_cannot_be_picked_up(sim):
    sim.phone("karin", "2311", answers_after=1)
    lars = sim.phone("lars", "2312")
    call = sim.dial(CALLER, "0317492311")
    call.expect_answered(within=30)
    picker = lars.dial("**2311")
    picker.expect_hangup(cause="CALL_REJECTED", within=30)
    assert call.channel.partner is not picker.channel
