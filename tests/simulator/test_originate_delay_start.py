"""leg_delay_start: a leg of a bridge is called only after a delay, as
switch_ivr_originate does (its timeout grows by the delay; once no other
leg is left the delayed leg starts at once)."""

import pytest

DIALPLAN = """<document type="freeswitch/xml"><section name="dialplan">
<context name="public">
  <extension name="both">
    <condition field="destination_number" expression="^(\\d+)$">
      <action application="bridge" data="[leg_timeout=10]sofia/gateway/trunk/+31201111111,[leg_timeout=10,leg_delay_start=$1]sofia/gateway/trunk/+31612222222"/>
    </condition>
  </extension>
</context></section></document>"""


@pytest.fixture
def sim(tmp_path):
    from simulator.scenario import Simulation

    (tmp_path / "dialplan.public.xml").write_text(DIALPLAN)
    with Simulation(tmp_path, speed=20) as simulation:
        yield simulation


def started(sim, party):
    leg = next(c for c in sim.legs.values() if party.owns(c))
    created = next(
        r for r in sim.events("CHANNEL_CREATE") if r.get("Unique-ID") == leg.uuid
    )
    ringing = next(
        r for r in sim.events("CHANNEL_PROGRESS") if r.get("Unique-ID") == leg.uuid
    )
    return created.at, ringing.at


def test_delayed_leg_rings_later_and_longer(sim):
    desk = sim.mobile("desk", "+31201111111", answers=False)
    mobile = sim.mobile("mobile", "+31612222222", answers_after=7)
    call = sim.dial("0201234567", "5")
    call.expect_answered_by(mobile, within=30)
    desk_created, desk_rings = started(sim, desk)
    created, rings = started(sim, mobile)
    assert created == desk_created  # made together
    assert rings - desk_rings == 5  # but called 5 s later
    # Answered 12 s after the start: past its own 10 s, within 10 + 5.
    answered = call.events("CHANNEL_ANSWER")[0].at
    assert answered - desk_created == pytest.approx(12.02, abs=1e-5)


def test_delayed_leg_starts_at_once_when_the_others_are_gone(sim):
    desk = sim.mobile("desk", "+31201111111", rejects=486, rejects_after=1)
    mobile = sim.mobile("mobile", "+31612222222", answers_after=1)
    call = sim.dial("0201234567", "8")
    call.expect_answered_by(mobile, within=30)
    _desk_created, desk_rings = started(sim, desk)
    _created, rings = started(sim, mobile)
    # The desk refused after 1 s: the mobile is called then, not 8 s in.
    assert rings - desk_rings == pytest.approx(1.02, abs=1e-5)


def test_delayed_leg_times_out_with_the_delay_added(sim):
    sim.mobile("desk", "+31201111111", answers=False)
    sim.mobile("mobile", "+31612222222", answers=False)
    call = sim.dial("0201234567", "4")
    hangup = call.expect_hangup(within=40)
    start = call.events("CHANNEL_CREATE")[0].at
    assert hangup.at - start == 14
