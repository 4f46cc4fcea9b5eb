"""The scenario API: flows written as a test reads them."""

from __future__ import annotations

import pytest
from gevent import socket

from simulator.scenario import ExpectationFailed, Simulation, SimulationError
from simulator.xmlcurl import StaticFetcher

DOMAIN = "127.0.0.1"

DIALPLAN = """<document type="freeswitch/xml"><section name="dialplan">
<context name="public">
  <extension name="anna">
    <condition field="destination_number" expression="^0317492301$">
      <action application="set" data="continue_on_fail=true"/>
      <action application="set" data="hangup_after_bridge=true"/>
      <action application="bridge" data="{leg_timeout=5}user/2301@127.0.0.1"/>
      <action application="bridge" data="sofia/gateway/trunk/+31612345678"/>
      <action application="answer"/>
      <action application="voicemail" data="default 127.0.0.1 2301"/>
      <action application="hangup"/>
    </condition>
  </extension>
  <extension name="menu">
    <condition field="destination_number" expression="^0317492300$">
      <action application="answer"/>
      <action application="play_and_get_digits"
              data="1 1 3 3000 # menu.wav invalid.wav choice [12]"/>
      <action application="transfer" data="choice-${choice} XML public"/>
    </condition>
  </extension>
  <extension name="choice-1">
    <condition field="destination_number" expression="^choice-1$">
      <action application="park"/>
    </condition>
  </extension>
  <extension name="broken">
    <condition field="destination_number" expression="^0317492399$">
      <action application="conference" data="room@default"/>
    </condition>
  </extension>
</context>
</section></document>"""


def user(uid: str) -> str:
    return f"""<user id="{uid}"><params>
      <param name="password" value="secret-{uid}"/>
      <param name="vm-password" value="1234"/></params>
      <variables><variable name="user_context" value="default"/>
      <variable name="effective_caller_id_name" value="User {uid}"/>
      <variable name="effective_caller_id_number" value="{uid}"/></variables></user>"""


DIAL_STRING = (
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@"
    "${dialed_domain}}${sofia_contact(*/${dialed_user}@${dialed_domain})}"
)
DIRECTORY = (
    '<document type="freeswitch/xml"><section name="directory">'
    f'<domain name="{DOMAIN}"><params>'
    f'<param name="dial-string" value="{DIAL_STRING}"/>'
    f"</params>{user('2301')}{user('2302')}</domain></section></document>"
)


@pytest.fixture
def sim():
    fetcher = StaticFetcher(
        documents={"dialplan.public.xml": DIALPLAN, "directory.xml": DIRECTORY}
    )
    with Simulation(xml_fetcher=fetcher, speed=100) as running:
        yield running


def test_a_phone_answers_and_the_caller_hangs_up(sim):
    anna = sim.phone("anna", "2301", answers_after=2)
    call = sim.dial("0201234567", "0317492301")
    leg = call.expect_answered_by(anna, within=60)
    assert anna.owns(leg)
    call.wait(3)
    call.hangup()
    call.expect_hangup(cause="NORMAL_CLEARING", within=60)
    sim.wait_idle(within=60)
    assert call.traces()[0].matched_extensions() == ["anna"]


def test_no_answer_falls_back_to_the_mobile(sim):
    anna = sim.phone("anna", "2301", answers=False)
    mobile = sim.mobile("anna mobile", "+31612345678", answers_after=3)
    call = sim.dial("0201234567", "0317492301")
    call.expect_answered_by(mobile, within=60)
    assert call.variable("originate_disposition") == "SUCCESS"
    with pytest.raises(ExpectationFailed, match="answered by anna"):
        call.expect_answered_by(anna, within=0.1)


def test_busy_and_no_mobile_goes_to_voicemail(sim):
    sim.phone("anna", "2301", busy=True)
    sim.mobile("anna mobile", "+31612345678", busy=True)
    seen = []
    sim.apps.voicemail.on_message(seen.append)
    call = sim.dial("0201234567", "0317492301")
    call.talks(delay=0.5, duration=6)
    call.expect_event("RECORD_START", within=60)
    sim.expect_event("CUSTOM vm::maintenance", VM_Action="leave-message", within=200)
    call.hangup()
    call.expect_hangup(within=60)
    assert len(seen) == 1 and seen[0].user == "2301"
    assert 6 <= seen[0].message_len <= 9


def test_menu_choice_transfers_and_parks(sim):
    call = sim.dial("0201234567", "0317492300")
    call.expect_event("PLAYBACK_START", within=60)
    call.press("1")
    call.expect_parked(within=60)
    assert call.channel.profile.destination_number == "choice-1"
    assert [t.context for t in call.traces()] == ["public", "public"]


def test_an_unknown_application_fails_loudly(sim):
    call = sim.dial("0201234567", "0317492399")
    with pytest.raises(SimulationError, match="conference"):
        call.expect_hangup(within=60)
    sim.errors.clear()


def test_a_failed_expectation_shows_the_events(sim):
    call = sim.dial("0201234567", "0317492300")
    with pytest.raises(ExpectationFailed) as info:
        call.expect_event("CHANNEL_BRIDGE", within=0.5)
    text = str(info.value)
    assert "expected CHANNEL_BRIDGE within 0.5 s" in text
    assert "CHANNEL_EXECUTE" in text and "play_and_get_digits(" in text
    call.hangup()


def test_no_route_is_no_route_destination(sim):
    call = sim.dial("0201234567", "0999")
    call.expect_hangup(cause="NO_ROUTE_DESTINATION", within=60)


def test_the_event_socket_serves_the_switch():
    fetcher = StaticFetcher(documents={"dialplan.public.xml": DIALPLAN})
    with Simulation(xml_fetcher=fetcher, speed=100, esl_port=0) as sim:
        host, port = sim.esl.address
        with socket.create_connection((host, port), timeout=5) as conn:
            greeting = conn.recv(1024)
            assert greeting == b"Content-Type: auth/request\n\n"
            conn.sendall(b"auth ClueCon\n\n")
            assert b"+OK accepted" in conn.recv(1024)
            conn.sendall(b"api vm_boxcount 2301@127.0.0.1\n\n")
            reply = b""
            while not reply.endswith(b"\n\n0"):
                reply += conn.recv(1024)
            assert reply.startswith(b"Content-Type: api/response\nContent-Length: 1")
