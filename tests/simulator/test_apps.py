"""Dialplan applications, each run on a simulated call."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import pytest

from simulator.apps import UnknownApplication, str2cause
from simulator.scenario import Simulation, SimulationError
from simulator.xmlcurl import StaticFetcher

DOMAIN = "127.0.0.1"
SOUNDS = "/usr/local/freeswitch/sounds/en/us/callie"


def dialplan(
    extensions: dict[str, list[tuple[str, str]]], inline: set[str] = ()
) -> str:
    """A public context: one extension per number, actions in order."""
    parts = []
    for number, actions in extensions.items():
        rows = "".join(
            f"<action application={quoteattr(app)} data={quoteattr(data)}"
            + (' inline="true"' if app in inline else "")
            + "/>"
            for app, data in actions
        )
        parts.append(
            f'<extension name="x{number}"><condition field="destination_number" '
            f'expression="^{number}$">{rows}</condition></extension>'
        )
    return (
        '<document type="freeswitch/xml"><section name="dialplan">'
        f'<context name="public">{"".join(parts)}</context></section></document>'
    )


USERS = "".join(
    f'<user id="{uid}"><params><param name="password" value="pw{uid}"/>'
    f'<param name="vm-password" value="1234"/>'
    f'<param name="vm-enabled" value="{"false" if uid == "2309" else "true"}"/>'
    f'</params><variables><variable name="user_context" value="default"/>'
    f"</variables></user>"
    for uid in ("2301", "2302", "2309")
)
DIRECTORY = (
    '<document type="freeswitch/xml"><section name="directory">'
    f'<domain name="{DOMAIN}"><params><param name="dial-string" value="'
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@"
    '${dialed_domain}}${sofia_contact(*/${dialed_user}@${dialed_domain})}"/>'
    f"</params>{USERS}</domain></section></document>"
)


def simulation(extensions, inline=(), speed: float = 100, **kw) -> Simulation:
    """A simulation with these extensions; tests that race a digit timeout
    run slower, so that a busy machine cannot make a key arrive late."""
    documents = {
        "dialplan.public.xml": dialplan(extensions, set(inline)),
        "directory.xml": DIRECTORY,
    }
    return Simulation(StaticFetcher(documents=documents), speed=speed, **kw)


def executed(call) -> list[tuple[str, str]]:
    return [
        (r.get("Application"), r.get("Application-Data") or "")
        for r in call.events("CHANNEL_EXECUTE")
    ]


def completed(call, app: str):
    return [
        r
        for r in call.events("CHANNEL_EXECUTE_COMPLETE")
        if r.get("Application") == app
    ]


# -- variables -----------------------------------------------------------------


def test_set_expands_twice_and_unset_removes():
    with simulation(
        {
            "100": [
                ("set", "inner=${destination_number}"),
                ("set", "outer=$${hostname}-\\${inner}"),
                ("set", "copy=${outer}"),
                ("multiset", "a=1 b=2 c"),
                ("unset", "a"),
                ("push", "list=x"),
                ("push", "list=y"),
                ("export", "exported=yes"),
                ("set", "empty="),
                ("park", ""),
            ]
        }
    ) as sim:
        call = sim.dial("0201234567", "100")
        call.expect_parked()
        assert call.variable("inner") == "100"
        # "\${inner}" survives the expansion at execute time and is expanded
        # by set itself (base_set expands the value again).
        assert call.variable("outer") == "fs1-100"
        assert call.variable("copy") == "fs1-100"
        assert call.variable("a") is None and call.variable("b") == "2"
        assert call.variable("c") is None
        assert call.variable("list") == "ARRAY::x|:y"
        assert call.variable("exported") == "yes"
        assert "exported" in call.variable("export_vars")
        assert call.variable("empty") is None
        assert ("set", "copy=fs1-100") in executed(call)
        call.hangup()


def test_inline_actions_run_while_hunting():
    with simulation(
        {"101": [("set", "early=${caller_id_number}"), ("park", "")]}, inline={"set"}
    ) as sim:
        call = sim.dial("0201234567", "101")
        call.expect_parked()
        assert call.variable("early") == "0201234567"
        # The inline set ran before CS_EXECUTE and is not in the extension.
        states = [r.get("Channel-State") for r in call.events()[:8]]
        first_execute = next(
            i for i, r in enumerate(call.events()) if r.name == "CHANNEL_EXECUTE"
        )
        assert call.events()[first_execute].get("Channel-State") == "CS_ROUTING"
        assert "CS_ROUTING" in states
        assert [a for a, _ in executed(call)] == ["set", "park"]
        call.hangup()


def test_inline_of_an_application_that_cannot_be_inline_is_an_error():
    with simulation({"102": [("park", "")]}, inline={"park"}) as sim:
        call = sim.dial("0201234567", "102")
        with pytest.raises(SimulationError, match="cannot be executed inline"):
            call.expect_hangup(within=60)
        sim.errors.clear()


# -- call control --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        ("", "NORMAL_CLEARING"),
        ("USER_BUSY", "USER_BUSY"),
        ("outgoing_call_barred", "OUTGOING_CALL_BARRED"),
        ("17", "USER_BUSY"),
        ("NOT_A_CAUSE", "NORMAL_CLEARING"),
    ],
)
def test_hangup_causes(data, cause):
    with simulation({"110": [("hangup", data)]}) as sim:
        call = sim.dial("0201234567", "110")
        call.expect_hangup(cause=cause, within=60)


def test_str2cause():
    assert str2cause("805") == "PICKED_OFF"
    assert str2cause(" no_answer ") == "NO_ANSWER"


def test_respond_refuses_the_call():
    with simulation({"111": [("respond", "486 Busy Here"), ("park", "")]}) as sim:
        call = sim.dial("0201234567", "111")
        call.expect_hangup(cause="USER_BUSY", within=60)
        assert not call.events("CHANNEL_ANSWER")
        assert [a for a, _ in executed(call)] == ["respond"]


def test_ring_ready_tells_the_caller_it_rings_once():
    actions = [
        ("ring_ready", ""),
        ("ring_ready", ""),
        ("sleep", "1000"),
        ("hangup", ""),
    ]
    with simulation({"113": actions}) as sim:
        call = sim.dial("0201234567", "113")
        call.expect_hangup(within=60)
        (progress,) = call.events("CHANNEL_PROGRESS")
        assert progress.get("Answer-State") == "ringing"
        assert not call.events("CHANNEL_ANSWER")
        assert not call.events("CHANNEL_PROGRESS_MEDIA")
        states = [r.get("Channel-Call-State") for r in call.events("CHANNEL_CALLSTATE")]
        assert "RINGING" in states


def test_the_end_of_the_list_hangs_up_normal_clearing():
    with simulation({"112": [("answer", ""), ("sleep", "1500")]}) as sim:
        call = sim.dial("0201234567", "112")
        hangup = call.expect_hangup(cause="NORMAL_CLEARING", within=60)
        answered = call.events("CHANNEL_ANSWER")[0]
        assert hangup.at - answered.at >= 1.5


def test_an_unknown_application_hangs_up_and_is_reported():
    with simulation(
        {"113": [("answer", ""), ("conference", "room"), ("park", "")]}
    ) as sim:
        call = sim.dial("0201234567", "113")
        with pytest.raises(SimulationError, match="'conference'"):
            call.expect_hangup(within=60)
        assert isinstance(sim.errors[0], UnknownApplication)
        assert call.channel.hangup_cause == "DESTINATION_OUT_OF_ORDER"
        assert [a for a, _ in executed(call)] == ["answer"]
        sim.errors.clear()


def test_transfer_routes_again_in_the_new_context():
    documents = {
        "dialplan.public.xml": dialplan({"120": [("transfer", "555 XML other")]}),
        "dialplan.other.xml": dialplan({"555": [("answer", ""), ("park", "")]}).replace(
            'context name="public"', 'context name="other"'
        ),
    }
    with Simulation(StaticFetcher(documents=documents), speed=100) as sim:
        call = sim.dial("0201234567", "120")
        call.expect_parked()
        profile = call.channel.profile
        assert (profile.destination_number, profile.context) == ("555", "other")
        assert profile.rdnis == "120"
        assert [t.context for t in call.traces()] == ["public", "other"]
        names = [r.name for r in call.events()]
        complete = names.index("CHANNEL_EXECUTE_COMPLETE")
        assert names[complete + 1] == "CHANNEL_STATE"
        assert call.events()[complete + 1].get("Channel-State") == "CS_ROUTING"
        call.hangup()


def test_inline_dialplan_transfer():
    with simulation({"121": [("transfer", "set:x=1,park inline")]}) as sim:
        call = sim.dial("0201234567", "121")
        call.expect_parked()
        assert call.variable("x") == "1"
        call.hangup()


def test_media_applications_pre_answer_an_inbound_call():
    with simulation(
        {"130": [("playback", "tone_stream://%(500,0,440)"), ("hangup", "")]}
    ) as sim:
        call = sim.dial("0201234567", "130")
        call.expect_hangup(within=60)
        names = [r.name for r in call.events()]
        assert names.index("CHANNEL_PROGRESS_MEDIA") < names.index("CHANNEL_EXECUTE")
        assert "CHANNEL_ANSWER" not in names


def test_sched_hangup_ends_the_call_later():
    with simulation(
        {"131": [("answer", ""), ("sched_hangup", "+3 ALLOTTED_TIMEOUT"), ("park", "")]}
    ) as sim:
        call = sim.dial("0201234567", "131")
        call.expect_parked()
        record = call.expect_hangup(cause="ALLOTTED_TIMEOUT", within=60)
        assert record.at - call.events("CHANNEL_PARK")[0].at >= 3


# -- playback and digits -------------------------------------------------------


def test_playback_stops_on_a_terminator_and_reports_it():
    with simulation(
        {
            "140": [
                ("answer", ""),
                ("set", "playback_terminators=#"),
                ("playback", "long.wav"),
                ("park", ""),
            ]
        },
        sounds={"long.wav": 30.0},
        speed=20,
    ) as sim:
        call = sim.dial("0201234567", "140")
        call.expect_event("PLAYBACK_START")
        call.press("5#")
        stop = call.expect_event("PLAYBACK_STOP")
        assert stop.get("Playback-Status") == "break"
        call.expect_parked()
        assert call.variable("playback_terminator_used") == "#"
        assert (
            completed(call, "playback")[0].get("Application-Response") == "FILE PLAYED"
        )
        assert call.channel.dtmf_queue.empty()
        call.hangup()


PAGD = "1 3 2 2000 # prompt.wav invalid.wav got ^[0-9]+$ 1000"


def test_play_and_get_digits_retries_after_a_timeout():
    with simulation(
        {"150": [("answer", ""), ("play_and_get_digits", PAGD), ("park", "")]},
        sounds={"prompt.wav": 1.0, "invalid.wav": 0.5},
        speed=20,
    ) as sim:
        call = sim.dial("0201234567", "150")
        starts = call.expect_event("PLAYBACK_START")
        # No key: 2 s timeout, the invalid prompt, then the prompt again.
        call.expect_event("PLAYBACK_START", Playback_File_Path="invalid.wav", within=60)
        call.expect_event(
            "PLAYBACK_START",
            Playback_File_Path="prompt.wav",
            within=60,
            after=call.events().index(starts) + 1,
        )
        call.press("42")
        call.expect_parked(within=60)
        assert call.variable("got") == "42"
        assert call.variable("read_result") == "timeout"  # digit timeout, as FS
        call.hangup()


def test_play_and_get_digits_max_digits_without_terminator():
    with simulation(
        {"151": [("answer", ""), ("play_and_get_digits", PAGD), ("park", "")]},
        sounds={"prompt.wav": 1.0},
        speed=20,
    ) as sim:
        call = sim.dial("0201234567", "151")
        call.expect_event("PLAYBACK_STOP")
        call.press("123")
        call.expect_parked()
        assert call.variable("got") == "123"
        assert call.variable("read_result") == "success"
        assert call.variable("read_terminator_used") is None
        call.hangup()


def test_play_and_get_digits_regex_failure_sets_invalid_and_gives_up():
    data = "1 2 1 2000 # prompt.wav invalid.wav got ^1[0-9]$"
    with simulation(
        {"152": [("answer", ""), ("play_and_get_digits", data), ("park", "")]},
        sounds={"prompt.wav": 0.5, "invalid.wav": 0.5},
        speed=20,
    ) as sim:
        call = sim.dial("0201234567", "152")
        call.expect_event("PLAYBACK_STOP")
        call.press("99")
        call.expect_parked()
        assert call.variable("got") is None
        assert call.variable("got_invalid") == "99"
        paths = [r.get("Playback-File-Path") for r in call.events("PLAYBACK_START")]
        assert paths == ["prompt.wav", "invalid.wav"]
        call.hangup()


def test_a_key_during_the_prompt_stops_it_and_counts():
    with simulation(
        {"153": [("answer", ""), ("play_and_get_digits", PAGD), ("park", "")]},
        sounds={"prompt.wav": 20.0},
        speed=20,
    ) as sim:
        call = sim.dial("0201234567", "153")
        call.expect_event("PLAYBACK_START")
        call.press("7#")
        call.expect_parked()
        assert call.events("PLAYBACK_STOP")[0].get("Playback-Status") == "break"
        assert call.variable("got") == "7"
        assert call.variable("read_terminator_used") == "#"
        call.hangup()


def test_read_application():
    with simulation(
        {"154": [("answer", ""), ("read", "2 4 prompt.wav pin 3000 *"), ("park", "")]},
        sounds={"prompt.wav": 0.5},
        speed=20,
    ) as sim:
        call = sim.dial("0201234567", "154")
        call.expect_event("PLAYBACK_STOP")
        call.press("12*")
        call.expect_parked()
        assert call.variable("pin") == "12"
        assert call.variable("read_terminator_used") == "*"
        call.hangup()


# -- mod_hash, intercept -------------------------------------------------------


def test_hash_application_and_api():
    with simulation(
        {
            "160": [
                ("hash", "insert/realm/key/v/with/slashes"),
                ("set", "got=${hash(select/realm/key)}"),
                ("park", ""),
            ]
        }
    ) as sim:
        call = sim.dial("0201234567", "160")
        call.expect_parked()
        assert call.variable("got") == "v/with/slashes"
        api = sim.switch.api
        assert api("hash", "insert_ifempty/realm/key/x") == "-ERR key already exists\n"
        assert api("hash", "delete_ifmatch/realm/key/x") == "-ERR Doesn't match\n"
        assert api("hash", "delete/realm/key") == "+OK\n"
        assert api("hash", "select/realm/key") == ""
        assert api("hash", "bogus").startswith("-ERR Usage")
        call.hangup()


def test_intercept_takes_a_ringing_call():
    extensions = {
        "170": [
            ("hash", "insert/pickup/2301/${uuid}"),
            ("bridge", "user/2301@127.0.0.1"),
        ],
        "171": [
            ("set", "intercept_unanswered_only=true"),
            ("intercept", "${hash(select/pickup/2301)}"),
            ("hangup", "CALL_REJECTED"),
        ],
    }
    with simulation(extensions) as sim:
        ringing = sim.phone("ringing", "2301", answers=False)
        colleague = sim.caller("colleague", "0209999999")
        call = sim.dial("0201234567", "170")
        call.expect_event("CHANNEL_PROGRESS", within=60)
        picker = colleague.dial("171")
        picker.expect_answered(within=60)
        assert call.answered
        bridged = picker.expect_event("CHANNEL_BRIDGE", within=60)
        assert {bridged.get("Unique-ID"), bridged.get("Other-Leg-Unique-ID")} == {
            picker.uuid,
            call.uuid,
        }
        b_legs = [leg for uuid, leg in sim.legs.items() if ringing.owns(leg)]
        assert len(b_legs) == 1 and b_legs[0].hangup_cause == "PICKED_OFF"
        call.hangup()
        picker.expect_hangup(within=60)


# -- voicemail -----------------------------------------------------------------


def test_voicemail_of_a_box_without_voicemail_leaves_nothing():
    with simulation(
        {
            "180": [
                ("answer", ""),
                ("set", "skip_greeting=true"),
                ("voicemail", "default 127.0.0.1 2309"),
                ("park", ""),
            ]
        }
    ) as sim:
        call = sim.dial("0201234567", "180")
        call.expect_parked(within=60)
        assert not call.events("RECORD_START")
        assert sim.apps.voicemail.messages == []
        call.hangup()


def test_a_message_too_short_is_not_kept():
    with simulation(
        {
            "181": [
                ("answer", ""),
                ("set", "skip_greeting=true"),
                ("set", "skip_instructions=true"),
                ("voicemail", "default 127.0.0.1 2301"),
            ]
        }
    ) as sim:
        call = sim.dial("0201234567", "181")
        call.expect_event("RECORD_START", within=60)
        call.wait(1)
        call.hangup()
        call.expect_event("RECORD_STOP", within=60)
        sim.wait_idle(within=60)
        assert sim.apps.voicemail.messages == []
        assert not sim.events("MESSAGE_WAITING")


def test_a_greeting_plays_and_a_key_skips_the_instructions(tmp_path):
    import wave

    greeting = tmp_path / "hello.wav"
    with wave.open(str(greeting), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000 * 6)
    with simulation(
        {"182": [("answer", ""), ("voicemail", "default 127.0.0.1 2302")]},
        voicemail_storage=tmp_path / "storage",
    ) as sim:
        reply = sim.switch.api(
            "vm_fsdb_pref_greeting_set", f"default 127.0.0.1 2302 1 {greeting}"
        )
        assert reply == "-OK\n"
        call = sim.dial("0201234567", "182")
        start = call.expect_event("PLAYBACK_START", within=60)
        assert start.get("Playback-File-Path").endswith("/2302/greeting_1.wav")
        call.press("#")
        call.talks(duration=5)
        call.expect_event("RECORD_START", within=60)
        paths = [r.get("Playback-File-Path") for r in call.events("PLAYBACK_START")]
        assert not any("vm-record_message" in p for p in paths)
        sim.expect_event(
            "CUSTOM vm::maintenance", VM_Action="leave-message", within=200
        )
        call.hangup()


# -- eavesdrop, record_session -------------------------------------------------


def test_eavesdrop_listens_until_the_call_ends():
    with simulation({"190": [("answer", ""), ("park", "")]}) as sim:
        supervisor = sim.phone("supervisor", "2302", answers_after=1)
        call = sim.dial("0201234567", "190")
        call.expect_parked()
        reply = sim.switch.api(
            "originate", f"user/2302@127.0.0.1 &eavesdrop({call.uuid})"
        )
        assert reply.startswith("+OK")
        start = call.expect_event("MEDIA_BUG_START", within=60)
        assert start.get("Media-Bug-Function") == "eavesdrop"
        assert start.get("Media-Bug-Target") == call.uuid
        listener = next(leg for leg in sim.legs.values() if supervisor.owns(leg))
        call.hangup()
        call.expect_event("MEDIA_BUG_STOP", within=60)
        assert listener.wait_hangup(5)
        assert listener.hangup_cause == "NORMAL_CLEARING"


def test_record_session_stops_at_hangup():
    with simulation(
        {"191": [("answer", ""), ("record_session", "/tmp/call.wav"), ("park", "")]}
    ) as sim:
        call = sim.dial("0201234567", "191")
        call.expect_event("RECORD_START")
        call.expect_parked()
        call.wait(4)
        call.hangup()
        stop = call.expect_event("RECORD_STOP", within=60)
        assert stop.get("Record-File-Path") == "/tmp/call.wav"
        assert int(stop.get("variable_record_seconds")) >= 4


def test_the_owner_logs_in_and_hears_the_new_message():
    extensions = {
        "183": [
            ("answer", ""),
            ("set", "skip_greeting=true"),
            ("set", "skip_instructions=true"),
            ("set", "skip_record_urgent_check=true"),
            ("voicemail", "default 127.0.0.1 2301"),
        ],
        "184": [("answer", ""), ("voicemail", "check default 127.0.0.1 2301")],
    }
    with simulation(extensions, sounds={"ignored": 1.0}, speed=20) as sim:
        caller = sim.dial("0201234567", "183")
        caller.talks(duration=5)
        sim.expect_event("MESSAGE_WAITING", MWI_Messages_Waiting="yes", within=200)
        caller.hangup()
        owner = sim.caller("owner", "0201111111")
        call = owner.dial("184")
        call.expect_event("PLAYBACK_START", within=60)
        call.press("1234#")
        auth = call.expect_event(
            "CUSTOM vm::maintenance", VM_Action="authentication", within=60
        )
        assert auth.get("VM-Auth-Result") == "success"
        summary = call.expect_event(
            "CUSTOM vm::maintenance", VM_Action="folder-summary", within=60
        )
        assert summary.get("VM-Total-New-Messages") == "1"
        message = sim.apps.voicemail.messages[0]
        call.expect_event("PLAYBACK_START", Playback_File_Path=message.path, within=60)
        sim.expect_event(
            "MESSAGE_WAITING",
            MWI_Messages_Waiting="no",
            Update_Reason="READ",
            within=200,
        )
        assert message.read_epoch > 0
        call.press("#")
        call.expect_hangup(cause="NORMAL_CLEARING", within=200)


def test_a_wrong_password_three_times_gives_up():
    with simulation(
        {"185": [("answer", ""), ("voicemail", "check default 127.0.0.1 2301")]},
        speed=20,
    ) as sim:
        call = sim.dial("0201234567", "185")
        for _ in range(3):
            call.expect_event("PLAYBACK_START", within=30)
            call.press("9999#")
            call.expect_event(
                "PLAYBACK_START",
                Playback_File_Path=f"{SOUNDS}/voicemail/8000/vm-fail_auth.wav",
                within=60,
                after=len(call.events()),
            )
        call.expect_hangup(within=200)
        results = [
            r.get("VM-Auth-Result") for r in call.events("CUSTOM vm::maintenance")
        ]
        assert results == ["fail", "fail", "fail"]
