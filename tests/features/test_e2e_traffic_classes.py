"""Traffic classes end to end: every class against every kind of number.

Karin's own class is set (a user's class overrides the profile's) and she
dials from her desk phone; each call is either put through to the trunk
(answered there) or refused with OUTGOING_CALL_BARRED. 112 always works.
"""

import pytest
from sqlalchemy import select

from orchestrator.store import models as m

NUMBERS = {
    "internal": "2312",
    "local": "0317123456",
    "national": "0201234567",
    "mobile": "0612345678",
    "freephone": "08001234",
    "premium": "09001234567",
    "international": "00442079460958",
    "emergency": "112",
}
ALWAYS = {"internal", "emergency"}
REACHES = {
    "Intern": ALWAYS,
    "Nationaal": ALWAYS | {"local", "national", "mobile", "freephone"},
    "Internationaal": ALWAYS
    | {"local", "national", "mobile", "freephone", "international"},
    "Alles": set(NUMBERS),
}


def give_class(demo, user_id: int, name: str | None) -> None:
    def change(session):
        tc = session.scalars(
            select(m.TrafficClass).where(m.TrafficClass.name == name)
        ).first()
        session.get(m.User, user_id).traffic_class_id = tc.id if tc else None

    demo.change(change)


@pytest.mark.parametrize("class_name", list(REACHES))
def test_every_kind_of_number(sim, demo, class_name):
    give_class(demo, 11, class_name)
    karin = sim.phone("karin", "2311")
    sim.phone("lars", "2312", answers_after=0.5)
    got = {}
    for kind, number in NUMBERS.items():
        call = karin.dial(number)
        hangup_or_bridge = sim.log.wait_for(
            lambda call=call: call.channel.partner or call.hungup,
            30,
            sim.check,
        )
        assert hangup_or_bridge, f"{number}: neither put through nor refused"
        if call.hungup:
            got[kind] = call.channel.hangup_cause
        else:
            got[kind] = "through"
            call.hangup()
        call.expect_hangup(within=10)
    expected = {
        kind: "through" if kind in REACHES[class_name] else "OUTGOING_CALL_BARRED"
        for kind in NUMBERS
    }
    assert got == expected


def test_profile_class_applies_without_a_user_class(sim, demo):
    # Karin's profile (end user) has class Nationaal: no premium, no abroad.
    karin = sim.phone("karin", "2311")
    call = karin.dial("00442079460958")
    call.expect_hangup(cause="OUTGOING_CALL_BARRED", within=30)
    call = karin.dial("0201234567")
    call.expect_answered(within=30)


def test_out_through_the_trunk_in_e164(sim, demo):
    give_class(demo, 11, "Alles")
    karin = sim.phone("karin", "2311")
    far = sim.mobile("uk", "+442079460958", answers_after=0.5)
    call = karin.dial("00442079460958")
    leg = call.expect_answered_by(far, within=30)
    assert leg.profile.destination_number == "+442079460958"
