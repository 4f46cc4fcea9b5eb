"""Hold: the other party hears music, never silence.

Every channel carries hold_music (the organisation's setting); when a phone
puts the call on hold the switch plays it to the other party.
"""

from orchestrator.store import models as m


def held_music(sim, call, holder) -> str:
    holder_leg = next(c for c in sim.legs.values() if holder.owns(c))
    sim.switch.hold(holder_leg.uuid)
    record = call.expect_event("PLAYBACK_START", within=10)
    sim.switch.unhold(holder_leg.uuid)
    call.expect_event("PLAYBACK_STOP", within=10)
    return record.get("Playback-File-Path")


def test_external_caller_hears_music_when_put_on_hold(sim):
    karin = sim.phone("karin", "2311", answers_after=0.5)
    call = sim.dial("0201234567", "0317492311")
    call.expect_answered_by(karin, within=30)
    assert held_music(sim, call, karin) == "local_stream://moh"


def test_the_organisations_music_is_used_internally_too(sim, demo):
    def change(session):
        for org in session.query(m.Organisation):
            org.music_on_hold = "local_stream://gemeente"

    demo.change(change)
    karin = sim.phone("karin", "2311", answers_after=0.5)
    lars = sim.phone("lars", "2312")
    call = lars.dial("2311")
    call.expect_answered_by(karin, within=30)
    assert held_music(sim, call, karin) == "local_stream://gemeente"
    # And the other way round: Lars holds, Karin hears the same music.
    karin_leg = next(c for c in sim.legs.values() if karin.owns(c))
    sim.switch.hold(call.uuid)
    sim.log.wait_for(
        lambda: any(
            r.get("Unique-ID") == karin_leg.uuid for r in sim.events("PLAYBACK_START")
        ),
        10,
        sim.check,
    )
    start = next(
        r for r in sim.events("PLAYBACK_START") if r.get("Unique-ID") == karin_leg.uuid
    )
    assert start.get("Playback-File-Path") == "local_stream://gemeente"
