"""Dial strings and originate: the causes and legs FreeSWITCH produces."""

from __future__ import annotations

import pytest
from capture_compare import EventRecorder

from simulator.clock import Clock
from simulator.endpoints import Behaviour
from simulator.originate import DialStringError, originate, parse_dial_string
from simulator.switch import Switch

# FreeSWITCH's stock dial-string for users.
DIAL_STRING = (
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@"
    "${dialed_domain}}${sofia_contact(*/${dialed_user}@${dialed_domain})}"
)
DIRECTORY = f"""<document type="freeswitch/xml"><section name="directory">
<domain name="127.0.0.1">
  <params><param name="dial-string" value="{DIAL_STRING}"/></params>
  <user id="2001"><variables>
    <variable name="user_context" value="default"/>
  </variables></user>
  <user id="2002"/>
</domain></section></document>"""


def fetcher(section: str, form: list[tuple[str, str]]) -> str | None:
    return DIRECTORY if section == "directory" else None


@pytest.fixture
def switch():
    switch = Switch(clock=Clock(speed=100), xml_fetcher=fetcher)
    switch.add_gateway("trunk")
    yield switch
    switch.stop()


@pytest.fixture
def recorder(switch):
    recorder = EventRecorder(switch.clock)
    switch.add_listener(recorder)
    return recorder


def test_parse_global_leg_and_failover_variables():
    parsed = parse_dial_string(
        "{a=1,b='x,y'}[leg_timeout=5]user/2001,sofia/gateway/trunk/06|error/USER_BUSY"
    )
    assert parsed.variables == {"a": "1", "b": "x,y"}
    assert [[leg.target for leg in group] for group in parsed.groups] == [
        ["user/2001", "sofia/gateway/trunk/06"],
        ["error/USER_BUSY"],
    ]
    assert parsed.groups[0][0].variables == {"leg_timeout": "5"}


def test_parse_caret_separator_and_enterprise_groups():
    parsed = parse_dial_string("{^^:x=1:y=2}loopback/1:_:loopback/2")
    assert parsed.variables == {"x": "1", "y": "2"}
    assert [g[0].target for g in parsed.groups] == ["loopback/1", "loopback/2"]


@pytest.mark.parametrize("text", ["", "{a=1", "[x]user/1", "user/1,"])
def test_bad_dial_strings_are_refused(text):
    with pytest.raises(DialStringError):
        parse_dial_string(text)


def test_error_endpoint_fails_without_a_channel(switch, recorder):
    result = originate(switch, "error/USER_BUSY")
    assert (result.ok, result.cause) == (False, "USER_BUSY")
    assert not [e for e in recorder.events if e.name == "CHANNEL_CREATE"]


def test_unregistered_and_unknown_users(switch):
    assert originate(switch, "user/2002@127.0.0.1").cause == "USER_NOT_REGISTERED"
    assert originate(switch, "user/2999@127.0.0.1").cause == "SUBSCRIBER_ABSENT"
    assert switch.api("originate", "user/2002 &park()") == "-ERR USER_NOT_REGISTERED\n"


@pytest.mark.parametrize(
    ("behaviour", "cause"),
    [
        (Behaviour.busy(), "USER_BUSY"),
        (Behaviour.rejecting(603), "CALL_REJECTED"),
        (Behaviour.rejecting(480), "NO_USER_RESPONSE"),
        # A sofia leg that runs out of its own leg_timeout.
        (Behaviour.no_answer(), "ALLOTTED_TIMEOUT"),
    ],
)
def test_gateway_parties_fail_with_freeswitch_s_causes(switch, behaviour, cause):
    switch.endpoints.gateway("trunk").by_number["0612345678"] = behaviour
    result = originate(switch, "{leg_timeout=3}sofia/gateway/trunk/0612345678")
    assert (result.ok, result.cause) == (False, cause)


def test_the_first_leg_to_answer_wins_and_the_other_loses_the_race(switch, recorder):
    trunk = switch.endpoints.gateway("trunk")
    trunk.by_number["0611111111"] = Behaviour(answer_after=1)
    trunk.by_number["0622222222"] = Behaviour(answer_after=None)
    result = originate(
        switch, "sofia/gateway/trunk/0611111111,sofia/gateway/trunk/0622222222"
    )
    assert result.ok and result.channel.name == "sofia/gateway/trunk/0611111111"
    loser = recorder.wait(
        lambda e: (
            e.name == "CHANNEL_HANGUP"
            and e.get("Channel-Name") == "sofia/gateway/trunk/0622222222"
        )
    )
    assert loser.get("Hangup-Cause") == "LOSE_RACE"
    result.channel.hangup()


def test_failover_tries_the_next_group(switch):
    trunk = switch.endpoints.gateway("trunk")
    trunk.by_number["0611111111"] = Behaviour.busy()
    trunk.by_number["0622222222"] = Behaviour(answer_after=0.5)
    result = originate(
        switch, "sofia/gateway/trunk/0611111111|sofia/gateway/trunk/0622222222"
    )
    assert result.ok and result.channel.name.endswith("0622222222")
    result.channel.hangup()


def test_a_sofia_leg_takes_the_calling_leg_s_sip_headers(switch):
    trunk = switch.endpoints.gateway("trunk")
    trunk.default = Behaviour(answer_after=0.2)
    caller = originate(switch, "sofia/gateway/trunk/0611111111").channel
    caller.set_variable("sip_h_Diversion", "<sip:+31317492301@pbx.local>")
    caller.set_variable("sip_h_X-Note", "caller")
    caller.set_variable("sip_rh_X-Reply", "not a request header")

    result = originate(
        switch, "{sip_h_X-Note=dial}sofia/gateway/trunk/0622222222", a_leg=caller
    )

    leg = result.channel
    assert leg.get_variable("sip_h_Diversion") == "<sip:+31317492301@pbx.local>"
    # The dial string's own header is applied after mod_sofia's copy.
    assert leg.get_variable("sip_h_X-Note") == "dial"
    assert leg.get_variable("sip_rh_X-Reply") is None
    leg.hangup()
    caller.hangup()


def test_registered_user_answers_through_its_dial_string(switch, recorder):
    switch.add_phone("2001", behaviour=Behaviour(answer_after=0.5))
    assert switch.register("2001")
    result = originate(switch, "user/2001@127.0.0.1")
    assert result.ok
    leg = result.channel
    assert leg.get_variable("presence_id") == "2001@127.0.0.1"
    assert leg.name.startswith("sofia/internal/2001@127.0.0.1:")
    contact = [e for e in recorder.events if e.name == "API"][-1]
    assert contact.get("API-Command") == "sofia_contact"
    leg.hangup()


def test_api_originate_runs_the_application_on_the_answered_leg(switch, recorder):
    switch.endpoints.gateway("trunk").default = Behaviour(answer_after=0.2)
    reply = switch.api("originate", "sofia/gateway/trunk/0201234567 &park()")
    assert reply.startswith("+OK ") and reply.endswith("\n")
    uuid = reply[4:-1]
    recorder.wait_event("CHANNEL_PARK", uuid)
    assert switch.api("uuid_kill", uuid) == "+OK\n"
    recorder.wait_event("CHANNEL_DESTROY", uuid)


def test_loopback_routes_the_b_side_in_its_context(switch, recorder):
    routed = []

    def router(channel):
        routed.append((channel.name, channel.profile.context))
        channel.set_state("CS_EXECUTE")
        channel.answer()
        channel.park()

    switch.router = router
    result = originate(switch, "loopback/4000/internal-test")
    assert result.ok and result.channel.name == "loopback/4000-a"
    assert routed == [("loopback/4000-b", "internal-test")]
    result.channel.hangup()
    recorder.wait(
        lambda e: e.name == "CHANNEL_DESTROY" and "4000-b" in e.get("Channel-Name")
    )


def test_a_scripted_party_presses_keys_and_hangs_up(switch, recorder):
    from simulator.endpoints import hang_up_after, press

    trunk = switch.endpoints.gateway("trunk")
    trunk.by_number["0612345678"] = Behaviour(
        answer_after=0.5, on_answer=press("42", after=1, then=hang_up_after(1))
    )
    result = originate(switch, "sofia/gateway/trunk/0612345678")
    leg = result.channel
    leg.set_driver(leg.park)
    done = recorder.wait_event("CHANNEL_HANGUP_COMPLETE", leg.uuid)
    assert done.get("variable_digits_dialed") == "42"
    assert done.get("variable_sip_hangup_disposition") == "recv_bye"
