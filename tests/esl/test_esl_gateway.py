"""Command lines, argument checks and typed results, through the FakeGateway."""

from __future__ import annotations

import pytest

from orchestrator.esl import (
    Application,
    ChannelNotFound,
    CommandFailed,
    Extension,
    FakeGateway,
    InvalidArgument,
    LiveSnapshot,
    commands,
)

A = "9a0b3a70-53fd-4249-a108-ec2b67bb8a7d"
B = "bb58c677-cb85-4763-89da-f71a99aac529"


@pytest.fixture
def gateway() -> FakeGateway:
    fake = FakeGateway()
    fake.add_channel(A)
    fake.add_channel(B)
    return fake


def test_command_lines_match_what_freeswitch_was_sent():
    # The lines of capture 05, rebuilt from arguments.
    assert commands.uuid_broadcast(A, "tone_stream://%(1000,0,440)") == (
        f"uuid_broadcast {A} tone_stream://%(1000,0,440) aleg"
    )
    assert commands.uuid_setvar(A, "capture_note", "parked-by-esl") == (
        f"uuid_setvar {A} capture_note parked-by-esl"
    )
    assert commands.uuid_bridge(A, B) == f"uuid_bridge {A} {B}"
    assert commands.uuid_transfer(A, "3301", "XML", "public") == (
        f"uuid_transfer {A} 3301 XML public"
    )
    assert commands.originate(
        "user/1001@127.0.0.1",
        Application("park"),
        {
            "origination_caller_id_number": "3300",
            "origination_caller_id_name": "Park-Control",
        },
    ) == (
        "originate {origination_caller_id_number=3300,"
        "origination_caller_id_name=Park-Control}user/1001@127.0.0.1 &park()"
    )


def test_other_command_lines():
    assert commands.uuid_hold(A) == f"uuid_hold {A}"
    assert commands.uuid_hold(A, on=False) == f"uuid_hold off {A}"
    assert commands.uuid_break(A, everything=True) == f"uuid_break {A} all"
    assert commands.uuid_kill(A, "USER_BUSY") == f"uuid_kill {A} USER_BUSY"
    assert commands.uuid_transfer(A, "1001", leg="bleg") == (
        f"uuid_transfer {A} -bleg 1001 XML default"
    )
    assert commands.uuid_record(A, "start", "/tmp/a.wav", 60) == (
        f"uuid_record {A} start /tmp/a.wav 60"
    )
    assert commands.uuid_displace(A, "start", "/tmp/m.wav", mux=True) == (
        f"uuid_displace {A} start /tmp/m.wav 0 mux"
    )
    assert commands.eavesdrop("user/1002", A) == (
        f"originate user/1002 &eavesdrop({A})"
    )
    assert commands.originate("loopback/1001", Extension("1001")) == (
        "originate loopback/1001 1001 XML default"
    )
    assert commands.channel_variables({"a": "two words, one comma"}) == (
        "{a='two words\\, one comma'}"
    )
    assert commands.execute("playback", "x.wav", lock=True) == [
        ("call-command", "execute"),
        ("execute-app-name", "playback"),
        ("execute-app-arg", "x.wav"),
        ("event-lock", "true"),
    ]


@pytest.mark.parametrize(
    "build",
    [
        lambda: commands.uuid_kill("not-a-uuid"),
        lambda: commands.uuid_kill(A, "normal clearing"),
        lambda: commands.uuid_broadcast(A, "a b.wav"),
        lambda: commands.uuid_broadcast(A, "x.wav", leg="left"),
        lambda: commands.uuid_setvar(A, "bad name", "x"),
        lambda: commands.uuid_setvar(A, "ok", "line\nexit"),
        lambda: commands.uuid_transfer(A, "1001\n"),
        lambda: commands.uuid_transfer(A, "-both"),
        lambda: commands.originate("user/1001 &bridge()", Application("park")),
        lambda: commands.originate("{x=1}user/1001", Application("park")),
        lambda: commands.originate("user/1001", Application("park"), {"a": "x}y"}),
        lambda: commands.originate("user/1001", Application("bad app")),
        lambda: commands.uuid_record(A, "start", "/tmp/a.wav", -1),
        lambda: commands.execute("playback", "a\r\nb"),
    ],
)
def test_unsafe_arguments_are_refused(build):
    with pytest.raises(InvalidArgument):
        build()


def test_originate_chooses_the_uuid_and_runs_in_the_background(gateway):
    uuid = gateway.originate("user/1001", Application("park"), {"x": "1"})
    (sent,) = gateway.sent
    assert sent.kind == "bgapi"
    assert sent.line == f"originate {{origination_uuid={uuid},x=1}}user/1001 &park()"
    assert uuid in gateway.channels


def test_results_are_values_or_exceptions(gateway):
    gateway.setvar(A, "queue", "kcc")
    assert gateway.getvar(A, "queue") == "kcc"
    assert gateway.getvar(A, "unset") is None
    gateway.broadcast(A, "tone_stream://%(500,0,440)")
    gateway.bridge(A, B)
    gateway.hold(A)
    gateway.unhold(A)
    gateway.kill(B)
    with pytest.raises(ChannelNotFound) as err:
        gateway.kill(B)
    assert err.value.reply == "-ERR No such channel!"
    with pytest.raises(ChannelNotFound):
        gateway.execute(B, "answer")
    gateway.reply("uuid_transfer", "-ERR NO_ROUTE_DESTINATION\n")
    with pytest.raises(CommandFailed) as err:
        gateway.transfer(A, "9999")
    assert err.value.reply == "-ERR NO_ROUTE_DESTINATION"
    assert gateway.lines("uuid_kill") == [f"uuid_kill {B} NORMAL_CLEARING"] * 2


def test_sendmsg_execute_and_hangup(gateway):
    gateway.execute(A, "playback", "ivr/welkom.wav")
    gateway.hangup(A, "USER_BUSY")
    first, second = gateway.sent
    assert first.line == f"sendmsg {A}"
    assert dict(first.headers)["execute-app-name"] == "playback"
    assert second.headers == (("call-command", "hangup"), ("hangup-cause", "USER_BUSY"))


def test_pushed_events_reach_attached_controllers(gateway):
    seen: list[str] = []
    uuid = "33333333-3333-4333-8333-333333333333"
    gateway.attach(uuid, lambda e: seen.append(e.name))
    gateway.push(gateway.event("CHANNEL_CREATE", uuid))
    assert uuid in gateway.channels
    gateway.push(gateway.event("CHANNEL_PARK", uuid, Channel_State="CS_EXECUTE"))
    gateway.push(gateway.event("CHANNEL_DESTROY", uuid))
    assert seen == ["CHANNEL_CREATE", "CHANNEL_PARK", "CHANNEL_DESTROY"]
    assert uuid not in gateway.channels


def test_controller_commands_from_an_event_handler(gateway):
    def on_park(event):
        gateway.broadcast(event.unique_id, "local_stream://moh")

    gateway.subscribe(on_park, ["CHANNEL_PARK"])
    gateway.push(gateway.event("CHANNEL_PARK", A))
    assert gateway.lines() == [f"uuid_broadcast {A} local_stream://moh aleg"]


def test_resync_hands_the_seeded_state(gateway):
    snapshots: list[LiveSnapshot] = []
    gateway.on_resync(snapshots.append)
    gateway.resync()
    assert snapshots[0].channel_uuids() == {A, B}
