"""api commands: FreeSWITCH's exact replies and the API event after each."""

from __future__ import annotations

import json

import pytest
from capture_compare import EventRecorder

from simulator.channel import CS_EXECUTE
from simulator.clock import Clock
from simulator.switch import Switch


@pytest.fixture
def switch():
    switch = Switch(clock=Clock(speed=100))
    yield switch
    switch.stop()


@pytest.fixture
def recorder(switch):
    recorder = EventRecorder(switch.clock)
    switch.add_listener(recorder)
    return recorder


def park_router(channel) -> None:
    channel.set_state(CS_EXECUTE)
    channel.run_app("answer")
    channel.run_app("park")


@pytest.fixture
def parked(switch, recorder):
    switch.router = park_router
    call = switch.new_inbound_call("0201234567", "3300", caller_name="Caller")
    recorder.wait_event("CHANNEL_PARK", call.uuid)
    return call


def test_unknown_command(switch, recorder):
    assert switch.api("no_such_command") == "-ERR no_such_command Command not found!\n"
    event = recorder.events[-1]
    assert (event.name, event.get("API-Command")) == ("API", "no_such_command")
    assert event.get("API-Command-Argument") is None


def test_commands_on_a_missing_channel(switch):
    bogus = "00000000-0000-4000-8000-000000000000"
    for command in ("uuid_kill", "uuid_getvar", "uuid_break", "uuid_broadcast"):
        assert switch.api(command, f"{bogus} x y") == "-ERR No such channel!\n"
    assert switch.api("uuid_exists", bogus) == "false"
    assert switch.sendmsg(bogus, [("call-command", "execute")]) == (
        f"-ERR invalid session id [{bogus}]"
    )


def test_empty_listings(switch):
    assert switch.api("show", "channels as json") == '{"row_count": 0}\n'
    assert switch.api("show", "calls as json") == '{"row_count": 0}\n'
    assert switch.api("show", "channels").endswith("\n\n0 total.\n")


def test_variables_on_a_parked_channel(switch, parked):
    uuid = parked.uuid
    assert switch.api("uuid_getvar", f"{uuid} note") == "_undef_"
    assert switch.api("uuid_setvar", f"{uuid} note parked by esl") == "+OK\n"
    assert switch.api("uuid_getvar", f"{uuid} note") == "parked by esl"
    assert switch.api("uuid_setvar", f"{uuid} note") == "+OK\n"
    assert switch.api("uuid_getvar", f"{uuid} note") == "_undef_"
    assert switch.api("uuid_exists", uuid) == "true"


def test_channel_listing_has_the_core_db_columns(switch, parked):
    data = json.loads(switch.api("show", "channels as json"))
    assert data["row_count"] == 1
    row = data["rows"][0]
    assert list(row)[:6] == [
        "uuid",
        "direction",
        "created",
        "created_epoch",
        "name",
        "state",
    ]
    assert (row["uuid"], row["application"], row["callstate"]) == (
        parked.uuid,
        "park",
        "ACTIVE",
    )


def test_globals(switch):
    assert switch.api("global_getvar", "hold_music") == "local_stream://moh"
    assert switch.api("global_setvar", "office=closed") == "+OK\n"
    assert switch.api("global_getvar", "office") == "closed"
    assert switch.api("global_getvar", "nothing") == ""


def test_fixed_replies(switch):
    assert switch.api("reloadxml") == "+OK [Success]\n"
    assert switch.api("xml_flush_cache") == "+OK cleared 0 entries\n"
    assert switch.api("sofia_contact", "1002@127.0.0.1") == "error/user_not_registered"
    assert "FreeSWITCH (Version 1.10.12-release" in switch.api("status")


def test_uuid_kill_with_a_cause(switch, parked, recorder):
    assert switch.api("uuid_kill", f"{parked.uuid} USER_BUSY") == "+OK\n"
    event = recorder.wait_event("CHANNEL_HANGUP_COMPLETE", parked.uuid)
    assert event.get("Hangup-Cause") == "USER_BUSY"
    assert event.get("variable_hangup_cause_q850") == "17"


def test_hupall(switch, parked, recorder):
    assert switch.api("hupall", "MANAGER_REQUEST") == "+OK\n"
    event = recorder.wait_event("CHANNEL_HANGUP", parked.uuid)
    assert event.get("Hangup-Cause") == "MANAGER_REQUEST"


def test_broadcast_plays_while_parked_and_stays_parked(switch, parked, recorder):
    reply = switch.api("uuid_broadcast", f"{parked.uuid} tone_stream://%(200,0,440)")
    assert reply == "+OK Message sent\n"
    command = recorder.wait_event("PRIVATE_COMMAND", parked.uuid)
    first = command.headers[0]
    assert first == ("Event-Name", "COMMAND")
    names = [e.name for e in recorder.events if e.get("Unique-ID") == parked.uuid]
    tail = names[names.index("CHANNEL_PARK") + 1 :]
    assert tail == [
        "CHANNEL_EXECUTE",
        "PLAYBACK_START",
        "PLAYBACK_STOP",
        "CHANNEL_EXECUTE_COMPLETE",
        "PRIVATE_COMMAND",
    ]
    assert parked.state == CS_EXECUTE and not parked.hungup


def test_uuid_break_stops_an_endless_playback(switch, parked, recorder):
    switch.api("uuid_broadcast", f"{parked.uuid} local_stream://moh")
    recorder.wait_event("PLAYBACK_START", parked.uuid)
    assert switch.api("uuid_break", parked.uuid) == "+OK\n"
    stop = recorder.wait_event("PLAYBACK_STOP", parked.uuid)
    assert stop.get("Playback-Status") == "break"


def test_uuid_transfer_routes_the_channel_again(switch, parked, recorder):
    assert switch.api("uuid_transfer", f"{parked.uuid} 3301 XML public") == "+OK\n"
    event = recorder.wait(
        lambda e: (
            e.name == "CHANNEL_PARK" and e.get("Caller-Destination-Number") == "3301"
        )
    )
    assert event.get("Caller-RDNIS") == "3300"
    assert event.get("Caller-Context") == "public"
    assert event.get("Caller-Profile-Index") == "2"


def test_sendmsg_executes_on_the_channel(switch, parked, recorder):
    reply = switch.sendmsg(
        parked.uuid,
        [
            ("call-command", "execute"),
            ("execute-app-name", "playback"),
            ("execute-app-arg", "silence_stream://500"),
            ("Event-UUID", "3f6c4c3e-0000-4000-8000-000000000001"),
        ],
    )
    assert reply == "+OK"
    done = recorder.wait(
        lambda e: (
            e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "playback"
        )
    )
    assert done.get("Application-UUID") == "3f6c4c3e-0000-4000-8000-000000000001"
    assert done.get("Application-Response") == "FILE PLAYED"


def test_api_event_comes_after_the_events_the_command_causes(switch, parked, recorder):
    switch.api("uuid_kill", parked.uuid)
    names = [e.name for e in recorder.events]
    assert names.index("CHANNEL_HANGUP") < len(names) - 1
    api = recorder.events[-1]
    assert (api.name, api.get("API-Command")) == ("API", "uuid_kill")
    sequences = {e.name: int(e.get("Event-Sequence")) for e in recorder.events[-2:]}
    # Its sequence number was taken when the command started.
    assert sequences["API"] < sequences["CHANNEL_HANGUP"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a  b", ["a", "b"]),
        ("'My Name' 123", ["My Name", "123"]),
        ("it\\'s a\\sb", ["it's", "a b"]),
        # An escaped comma is left for the dial string.
        ("{x=a\\,b}y z", ["{x=a\\,b}y", "z"]),
        # A lone quote stays, but (as in FreeSWITCH) no space splits after it.
        ("o'clock x", ["o'clock x"]),
    ],
)
def test_command_words_are_separated_as_the_core_does(text, words):
    from simulator.commands import separate_words

    assert separate_words(text) == words


def test_originate_keeps_an_escaped_comma_in_a_variable(switch):
    switch.add_gateway("trunk")
    reply = switch.api(
        "originate",
        "{sip_h_X-Note=a\\,b,origination_caller_id_name='Jan Jansen'}"
        "sofia/gateway/trunk/0612345678 &park()",
    )
    assert reply.startswith("+OK ")
    leg = switch.channels[reply.split()[1]]
    assert leg.get_variable("sip_h_X-Note") == "a,b"
    assert leg.get_variable("origination_caller_id_name") == "Jan Jansen"
    switch.api("uuid_kill", leg.uuid)
