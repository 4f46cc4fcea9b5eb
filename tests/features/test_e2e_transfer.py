"""Transfers with the desk phone's keys during a call (*1 blind, *2 attended).

A caller reaches Anna (2301); Anna transfers the call to Bram (2302). And
the other way round: Anna makes a call and transfers the one she called.
"""

import pytest

CALLER = "0201234567"


def anna_talking(sim):
    """The caller bridged to Anna's phone: (caller's call, Anna's call)."""
    anna = sim.phone("anna", "2301", answers_after=1)
    sim.phone("bram", "2302", answers_after=2)
    call = sim.dial(CALLER, "0317492301")
    leg = call.expect_answered_by(anna, within=30)
    return call, sim.track(leg, anna)


def music_for(call) -> bool:
    return any(
        str(r.get("Playback-File-Path") or "").startswith("local_stream://")
        for r in call.events("PLAYBACK_START")
    )


def test_blind_transfer_puts_the_caller_through_to_bram(sim):
    call, anna = anna_talking(sim)
    anna.press("*12302#")
    bram = call.expect_answered_by("bram", within=30)
    assert music_for(call)
    assert anna.channel.wait_hangup(30)
    # Bram's phone shows who is calling: the caller, not Anna.
    assert bram.profile.caller_id_number.endswith(CALLER[1:])
    assert call.channel.partner is bram
    call.hangup()
    sim.wait_idle()


def test_blind_transfer_to_nothing_keeps_the_call(sim):
    call, anna = anna_talking(sim)
    anna.press("*1#")
    anna.expect_event("PLAYBACK_START", within=30)
    assert call.channel.partner is anna.channel
    call.hangup()
    sim.wait_idle()


def consulting(sim, anna):
    """Anna presses *2 2302: the leg she talks to Bram on, once he answered.

    The consultation goes through "default" as a loopback call, so Anna's
    partner is the loopback leg, which reaches Bram's phone.
    """
    after = len(anna.events())
    anna.press("*22302#")
    anna.expect_event("CHANNEL_BRIDGE", after=after, within=30)
    (desk,) = [leg for leg in sim.legs.values() if sim.party("bram").owns(leg)]
    assert desk.answered and not desk.hungup
    return anna.channel.partner, desk


def test_attended_transfer_completes_with_star(sim):
    call, anna = anna_talking(sim)
    consult, desk = consulting(sim, anna)
    assert music_for(call)
    assert call.channel.partner is anna.channel
    anna.press("*")
    # uuid_bridge <consultation leg> <caller>: the caller now talks to Bram.
    sim.expect_event(
        "CHANNEL_BRIDGE",
        within=30,
        **{"Unique-ID": consult.uuid, "Other-Leg-Unique-ID": call.uuid},
    )
    assert anna.channel.wait_hangup(30)
    assert call.channel.partner is consult and not desk.hungup
    call.hangup()
    assert desk.wait_hangup(30)
    sim.wait_idle()


def test_attended_transfer_cancelled_with_hash(sim):
    call, anna = anna_talking(sim)
    consult, desk = consulting(sim, anna)
    after = len(anna.events())
    anna.press("#")
    anna.expect_event("CHANNEL_BRIDGE", after=after, within=30)
    assert call.channel.partner is anna.channel
    assert consult.wait_hangup(30) and desk.wait_hangup(30)
    assert not call.hungup and not anna.hungup
    call.hangup()
    sim.wait_idle()


def test_attended_transfer_to_an_outside_number_uses_the_users_call_rights(sim):
    call, anna = anna_talking(sim)
    outside = sim.mobile("outside", "+31207654321", answers_after=1)
    after = len(anna.events())
    anna.press("*20207654321#")
    anna.expect_event("CHANNEL_BRIDGE", after=after, within=30)
    (far,) = [leg for leg in sim.legs.values() if outside.owns(leg)]
    assert far.answered and not far.hungup
    anna.press("*")
    assert anna.channel.wait_hangup(30)
    assert not far.hungup and not call.hungup
    call.hangup()
    sim.wait_idle()


# -- the caller's keys -----------------------------------------------------------


def _live_leg(sim, party):
    (leg,) = [leg for leg in sim.legs.values() if party.owns(leg) and not leg.hungup]
    return leg


@pytest.mark.parametrize(
    ("dialled", "far_end"),
    [
        # Anna called outside; the outside party goes on to Carla.
        ("0207654321", lambda sim: sim.mobile("far", "+31207654321", answers_after=1)),
        # Anna called Bram; Bram goes on to Carla.
        ("2302", lambda sim: sim.phone("far", "2302", answers_after=1)),
    ],
    ids=["outside", "colleague"],
)
def test_a_user_who_made_the_call_transfers_the_other_party(sim, dialled, far_end):
    anna = sim.phone("anna", "2301")
    carla = sim.phone("carla", "2303", answers_after=1)
    other = far_end(sim)
    call = anna.dial(dialled)
    call.expect_event("CHANNEL_BRIDGE", within=30)
    far = _live_leg(sim, other)

    call.press("*12303#")

    # The other party, sent on to 2303, is bridged to Carla's phone.
    sim.expect_event("CHANNEL_BRIDGE", within=30, **{"Unique-ID": far.uuid})
    assert call.channel.wait_hangup(30)
    desk = _live_leg(sim, carla)
    assert desk.answered and far.partner is desk and not far.hungup
    far.hangup()
    assert desk.wait_hangup(30)
    sim.wait_idle()


def test_a_caller_from_outside_has_no_transfer_keys(sim):
    call, anna = anna_talking(sim)
    call.press("*12302#")
    sim.wait(10)
    assert call.channel.partner is anna.channel
    assert not [leg for leg in sim.legs.values() if sim.party("bram").owns(leg)]
    call.hangup()
    sim.wait_idle()
