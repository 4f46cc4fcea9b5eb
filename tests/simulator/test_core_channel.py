"""Channel behaviour: states, DTMF, playback, billing, hold, concurrency."""

from __future__ import annotations

import gevent
import pytest
from capture_compare import EventRecorder

from simulator.channel import CS_EXECUTE, ChannelError
from simulator.clock import Clock
from simulator.endpoints import Behaviour
from simulator.switch import Switch


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


def leg_events(recorder, uuid):
    return [e for e in recorder.events if e.get("Unique-ID") == uuid]


def route(*actions):
    def router(channel):
        channel.set_state(CS_EXECUTE)
        for app, data in actions:
            channel.run_app(app, data)
            if channel.interrupted:
                return

    return router


def test_without_a_router_the_call_has_no_route(switch, recorder):
    call = switch.new_inbound_call("0201234567", "3999")
    done = recorder.wait_event("CHANNEL_HANGUP_COMPLETE", call.uuid)
    assert done.get("Hangup-Cause") == "NO_ROUTE_DESTINATION"
    assert done.get("variable_sip_hangup_disposition") == "send_refuse"
    assert [e.name for e in leg_events(recorder, call.uuid)][:3] == [
        "CHANNEL_STATE",
        "CHANNEL_STATE",
        "CHANNEL_CREATE",
    ]


def test_end_of_dialplan_hangs_up_normally(switch, recorder):
    switch.router = route(("answer", ""))
    call = switch.new_inbound_call("0201234567", "3100")
    done = recorder.wait_event("CHANNEL_HANGUP_COMPLETE", call.uuid)
    assert done.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert done.get("variable_last_app") == "answer"


def test_caller_giving_up_before_the_answer_cancels(switch, recorder):
    switch.router = route(("park", ""))
    call = switch.new_inbound_call("0201234567", "3100")
    recorder.wait_event("CHANNEL_PARK", call.uuid)
    switch.remote_hangup(call.uuid)
    done = recorder.wait_event("CHANNEL_HANGUP_COMPLETE", call.uuid)
    assert done.get("Hangup-Cause") == "ORIGINATOR_CANCEL"
    assert done.get("variable_sip_hangup_disposition") == "recv_cancel"
    assert done.get("variable_billsec") == "0"


def test_dtmf_is_fired_when_the_channel_takes_it(switch, recorder):
    switch.router = route(("answer", ""), ("park", ""))
    call = switch.new_inbound_call("0201234567", "3100")
    recorder.wait_event("CHANNEL_PARK", call.uuid)
    switch.inject_dtmf(call.uuid, "12#")
    recorder.wait(lambda e: e.name == "DTMF" and e.get("DTMF-Digit") == "#")
    digits = [e.get("DTMF-Digit") for e in recorder.events if e.name == "DTMF"]
    assert digits == ["1", "2", "#"]
    assert [call.dtmf_queue.get_nowait() for _ in range(3)] == ["1", "2", "#"]
    with pytest.raises(ChannelError):
        call.receive_dtmf("x")
    call.hangup()
    done = recorder.wait_event("CHANNEL_HANGUP_COMPLETE", call.uuid)
    assert done.get("variable_digits_dialed") == "12#"


def test_playback_lengths(switch):
    assert switch.duration_of("tone_stream://%(1000,0,440)") == 1.0
    assert switch.duration_of("tone_stream://L=3;%(100,100,350,440)") == 0.6
    assert switch.duration_of("silence_stream://1500") == 1.5
    assert switch.duration_of("local_stream://moh") == float("inf")
    switch.sounds["ivr/welcome.wav"] = 4.2
    assert switch.duration_of("ivr/welcome.wav") == 4.2


def test_playback_stops_on_a_terminator(switch, recorder):
    played = []

    def router(channel):
        channel.set_state(CS_EXECUTE)
        channel.answer()
        played.append(channel.playback("silence_stream://60000", terminators="#"))
        channel.park()

    switch.router = router
    call = switch.new_inbound_call("0201234567", "3100")
    recorder.wait_event("PLAYBACK_START", call.uuid)
    switch.inject_dtmf(call.uuid, "#")
    stop = recorder.wait_event("PLAYBACK_STOP", call.uuid)
    assert stop.get("Playback-Status") == "break"
    assert played == ["FILE PLAYED"] and call.dtmf_queue.get_nowait() == "#"
    call.hangup()


def test_billing_variables_follow_the_timetable(switch, recorder):
    switch.router = route(("answer", ""), ("park", ""))
    call = switch.new_inbound_call("0201234567", "3100")
    recorder.wait_event("CHANNEL_PARK", call.uuid)
    switch.clock.sleep(3)
    switch.remote_hangup(call.uuid)
    done = recorder.wait_event("CHANNEL_HANGUP_COMPLETE", call.uuid)
    v = {k[9:]: val for k, val in done.headers if k.startswith("variable_")}
    start, answer, end = (int(v[f"{n}_uepoch"]) for n in ("start", "answer", "end"))
    assert int(v["billsec"]) == end // 10**6 - answer // 10**6
    assert int(v["duration"]) == end // 10**6 - start // 10**6
    assert int(v["billusec"]) == end - answer
    assert int(v["billsec"]) >= 3
    assert v["sip_hangup_disposition"] == "recv_bye"
    assert v["caller_id"] == '"0201234567" <0201234567>'


def test_hold_plays_music_to_the_other_leg(switch, recorder):
    switch.router = route(("bridge", "sofia/gateway/trunk/0612345678"))
    call = switch.new_inbound_call("0201234567", "3100")
    recorder.wait_event("CHANNEL_BRIDGE", call.uuid)
    other = call.partner
    assert switch.api("uuid_hold", call.uuid) == "+OK Success\n"
    start = recorder.wait_event("PLAYBACK_START", other.uuid)
    assert start.get("Playback-File-Path") == "local_stream://moh"
    assert call.callstate == "HELD"
    assert switch.api("uuid_hold", f"off {call.uuid}") == "+OK Success\n"
    recorder.wait_event("PLAYBACK_STOP", other.uuid)
    recorder.wait_event("CHANNEL_UNHOLD", call.uuid)
    assert call.callstate == "ACTIVE"
    switch.remote_hangup(call.uuid)
    recorder.wait_event("CHANNEL_DESTROY", other.uuid)


def test_the_far_end_hanging_up_ends_the_bridge(switch, recorder):
    switch.router = route(
        ("set", "hangup_after_bridge=false"),
        ("bridge", "sofia/gateway/trunk/0612345678"),
        ("park", ""),
    )
    call = switch.new_inbound_call("0201234567", "3100")
    recorder.wait_event("CHANNEL_BRIDGE", call.uuid)
    switch.remote_hangup(call.partner.uuid)
    recorder.wait_event("CHANNEL_PARK", call.uuid)
    unbridge = recorder.wait_event("CHANNEL_UNBRIDGE", call.uuid)
    assert unbridge.get("variable_bridge_hangup_cause") == "NORMAL_CLEARING"
    call.hangup()


def test_heartbeats(switch, recorder):
    fast = Switch(clock=Clock(speed=2000))
    events = EventRecorder(fast.clock)
    fast.add_listener(events)
    fast.start()
    try:
        beat = events.wait_event("HEARTBEAT")
        events.wait_event("RE_SCHEDULE")
    finally:
        fast.stop()
    names = [name for name, _ in beat.headers]
    assert names[13:] == [
        "Event-Info",
        "Up-Time",
        "FreeSWITCH-Version",
        "Uptime-msec",
        "Session-Count",
        "Max-Sessions",
        "Session-Per-Sec",
        "Session-Per-Sec-Last",
        "Session-Per-Sec-Max",
        "Session-Per-Sec-FiveMin",
        "Session-Since-Startup",
        "Session-Peak-Max",
        "Session-Peak-FiveMin",
        "Idle-CPU",
    ]


def test_dozens_of_calls_at_once(switch, recorder):
    switch.router = route(("bridge", "sofia/gateway/trunk/0612345678"))
    calls = [switch.new_inbound_call(f"02012345{n:02}", "3100") for n in range(40)]
    for call in calls:
        recorder.wait_event("CHANNEL_BRIDGE", call.uuid, timeout=30)
    assert len(switch.channels) == 80
    for call in calls:
        switch.remote_hangup(call.uuid)
    with gevent.Timeout(30):
        while switch.channels:
            next(iter(switch.channels.values())).wait_destroyed()
    completes = [e for e in recorder.events if e.name == "CHANNEL_HANGUP_COMPLETE"]
    assert len(completes) == 80
