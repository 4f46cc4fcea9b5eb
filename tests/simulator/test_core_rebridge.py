"""Moving legs between bridges (uuid_bridge), hold off, and what a leg does
once its bridge is over, as FreeSWITCH does them."""

from __future__ import annotations

import pytest
from capture_compare import EventRecorder

from simulator.channel import CS_EXECUTE
from simulator.clock import Clock
from simulator.endpoints import Behaviour
from simulator.switch import Switch

MOH = "local_stream://moh"


@pytest.fixture
def switch():
    switch = Switch(clock=Clock(speed=100))
    switch.add_gateway("trunk", default=Behaviour(answer_after=0.5))
    yield switch
    switch.stop()


@pytest.fixture
def recorder(switch):
    recorder = EventRecorder(switch.clock)
    switch.add_listener(recorder)
    return recorder


def route(*actions):
    def router(channel):
        channel.set_state(CS_EXECUTE)
        for app, data in actions:
            channel.run_app(app, data)
            if channel.interrupted:
                return

    return router


def bridged_call(switch, recorder, *variables: str):
    """An inbound call bridged to the trunk; the caller's and the B leg."""
    sets = [("set", v) for v in variables]
    switch.router = route(*sets, ("bridge", "sofia/gateway/trunk/0612345678"))
    call = switch.new_inbound_call("0201234567", "3100")
    recorder.wait_event("CHANNEL_BRIDGE", call.uuid)
    return call, call.partner


def parked_leg(switch, recorder):
    reply = switch.api("originate", "sofia/gateway/trunk/0699999999 &park()")
    uuid = reply[4:-1]
    recorder.wait_event("CHANNEL_PARK", uuid)
    return switch.channels[uuid]


def played(recorder, name, uuid):
    return [e for e in recorder.events if e.name == name and e.get("Unique-ID") == uuid]


def test_a_bridged_leg_moved_by_uuid_bridge_stays_in_its_new_bridge(switch, recorder):
    call, b_leg = bridged_call(switch, recorder)
    other = parked_leg(switch, recorder)

    assert switch.api("uuid_bridge", f"{b_leg.uuid} {other.uuid}").startswith("+OK")

    # The caller's bridge is over; with nothing left to run it hangs up.
    recorder.wait_event("CHANNEL_HANGUP_COMPLETE", call.uuid)
    switch.clock.sleep(2)
    assert b_leg.partner is other and other.partner is b_leg
    assert not b_leg.hungup and not other.hungup
    assert b_leg.get_variable("bridge_to") == other.uuid
    switch.remote_hangup(other.uuid)
    recorder.wait_event("CHANNEL_DESTROY", b_leg.uuid)


def test_the_old_partner_parks_with_park_after_bridge(switch, recorder):
    call, b_leg = bridged_call(switch, recorder, "park_after_bridge=true")
    other = parked_leg(switch, recorder)

    switch.api("uuid_bridge", f"{b_leg.uuid} {other.uuid}")

    recorder.wait_event("CHANNEL_PARK", call.uuid)
    assert not call.hungup and call.partner is None
    assert b_leg.partner is other
    call.hangup()
    b_leg.hangup()


def test_park_after_bridge_goes_before_hangup_after_bridge(switch, recorder):
    call, b_leg = bridged_call(
        switch, recorder, "park_after_bridge=true", "hangup_after_bridge=true"
    )

    switch.remote_hangup(b_leg.uuid)

    recorder.wait_event("CHANNEL_PARK", call.uuid)
    assert not call.hungup
    call.hangup()


def test_hold_off_stops_only_the_music_and_keeps_the_bridge(switch, recorder):
    call, b_leg = bridged_call(switch, recorder)

    switch.api("uuid_hold", call.uuid)
    recorder.wait_event("PLAYBACK_START", b_leg.uuid)
    switch.api("uuid_hold", f"off {call.uuid}")

    recorder.wait_event("PLAYBACK_STOP", b_leg.uuid)
    switch.clock.sleep(2)
    assert call.partner is b_leg and b_leg.partner is call
    assert not played(recorder, "CHANNEL_UNBRIDGE", call.uuid)
    call.hangup()


def test_hold_off_after_a_move_leaves_the_old_partner_s_music(switch, recorder):
    # An attended transfer: the held user's leg is moved to the consultation
    # call and the caller, parked, gets music of its own.
    call, b_leg = bridged_call(switch, recorder, "park_after_bridge=true")
    other = parked_leg(switch, recorder)
    switch.api("uuid_hold", b_leg.uuid)
    recorder.wait_event("PLAYBACK_START", call.uuid)

    switch.api("uuid_bridge", f"{b_leg.uuid} {other.uuid}")
    recorder.wait_event("CHANNEL_PARK", call.uuid)
    switch.api("uuid_broadcast", f"{call.uuid} {MOH} aleg")
    switch.api("uuid_hold", f"off {b_leg.uuid}")
    recorder.wait_event("CHANNEL_UNHOLD", b_leg.uuid)
    switch.clock.sleep(2)

    starts = played(recorder, "PLAYBACK_START", call.uuid)
    stops = played(recorder, "PLAYBACK_STOP", call.uuid)
    assert (len(starts), len(stops)) == (2, 1)
    assert b_leg.partner is other and other.partner is b_leg
    for leg in (call, b_leg):
        leg.hangup()
