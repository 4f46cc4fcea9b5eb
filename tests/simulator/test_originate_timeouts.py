"""Originate time limits as switch_ivr_originate has them.

- ``leg_timeout`` is a leg's own limit: the leg is hung up ALLOTTED_TIMEOUT
  and a ``|`` failover goes on to the next group;
- the group's limit (``originate_timeout`` of the dial string, else the
  caller's ``call_timeout``, else 60 s, counted afresh for each ``|`` group)
  hangs up what still rings with NO_ANSWER and ends the failover unless
  ``originate_continue_on_timeout`` is true;
- one ``user/`` leg alone is rung by the user endpoint's own originate,
  whose limit is the leg_timeout: NO_ANSWER (capture 04).
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import pytest

from simulator.scenario import Simulation
from simulator.xmlcurl import StaticFetcher

DESK = "+31201111111"
MOBILE = "+31612222222"
GW = "sofia/gateway/trunk/"

USERS = "".join(
    f'<user id="{uid}"><params><param name="password" value="pw{uid}"/></params>'
    '<variables><variable name="user_context" value="default"/></variables></user>'
    for uid in ("2301", "2302")
)
DIRECTORY = (
    '<document type="freeswitch/xml"><section name="directory">'
    '<domain name="127.0.0.1"><params><param name="dial-string" value="'
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@"
    '${dialed_domain}}${sofia_contact(*/${dialed_user}@${dialed_domain})}"/>'
    f"</params><users>{USERS}</users></domain></section></document>"
)


def simulation(*actions: tuple[str, str]) -> Simulation:
    rows = "".join(
        f"<action application={quoteattr(app)} data={quoteattr(data)}/>"
        for app, data in [("set", "continue_on_fail=true"), *actions]
    )
    dialplan = (
        '<document type="freeswitch/xml"><section name="dialplan">'
        '<context name="public"><extension name="x"><condition '
        f'field="destination_number" expression="^1$">{rows}'
        '<action application="hangup"/></condition></extension></context>'
        "</section></document>"
    )
    documents = {"dialplan.public.xml": dialplan, "directory.xml": DIRECTORY}
    return Simulation(StaticFetcher(documents=documents), speed=50)


def leg(sim, party):
    return next(c for c in sim.legs.values() if party.owns(c))


def times(sim, channel, name):
    return [r.at for r in sim.events(name) if r.get("Unique-ID") == channel.uuid]


def run(sim):
    call = sim.dial("0201234567", "1")
    call.expect_hangup(within=120)
    sim.wait_idle(within=30)
    return call


def test_a_leg_timeout_hangs_the_leg_up_allotted_timeout():
    with simulation(("bridge", f"{{leg_timeout=3}}{GW}{DESK}")) as sim:
        desk = sim.mobile("desk", DESK, answers=False)
        call = run(sim)
        channel = leg(sim, desk)
        assert channel.hangup_cause == "ALLOTTED_TIMEOUT"
        hangup = times(sim, channel, "CHANNEL_HANGUP")[0]
        assert hangup - times(sim, channel, "CHANNEL_OUTGOING")[0] == 3
        assert call.variable("originate_disposition") == "ALLOTTED_TIMEOUT"
        assert call.variable("DIALSTATUS") == "ALLOTTED_TIMEOUT"


@pytest.mark.parametrize(
    "actions",
    [
        [("bridge", f"{{originate_timeout=4}}{GW}{DESK}")],
        [("set", "call_timeout=4"), ("bridge", f"{GW}{DESK}")],
        # The dial string's originate_timeout comes before call_timeout.
        [("set", "call_timeout=9"), ("bridge", f"{{originate_timeout=4}}{GW}{DESK}")],
    ],
)
def test_the_group_limit_hangs_up_with_no_answer(actions):
    with simulation(*actions) as sim:
        desk = sim.mobile("desk", DESK, answers=False)
        call = run(sim)
        channel = leg(sim, desk)
        assert channel.hangup_cause == "NO_ANSWER"
        hangup = times(sim, channel, "CHANNEL_HANGUP")[0]
        assert hangup - times(sim, channel, "CHANNEL_OUTGOING")[0] == 4
        assert call.variable("DIALSTATUS") == "NOANSWER"


def test_failover_goes_on_after_legs_ran_out_of_their_leg_timeout():
    dial = f"[leg_timeout=3]{GW}{DESK}|[leg_timeout=3]{GW}{MOBILE}"
    with simulation(("bridge", dial)) as sim:
        desk = sim.mobile("desk", DESK, answers=False)
        mobile = sim.mobile("mobile", MOBILE, answers_after=1)
        call = sim.dial("0201234567", "1")
        call.expect_answered_by(mobile, within=30)
        first, second = leg(sim, desk), leg(sim, mobile)
        assert first.hangup_cause == "ALLOTTED_TIMEOUT"
        created = times(sim, second, "CHANNEL_OUTGOING")[0]
        assert created - times(sim, first, "CHANNEL_OUTGOING")[0] == 3
        call.hangup()


def test_failover_of_user_legs_goes_on_without_continue_on_timeout():
    dial = "[leg_timeout=3]user/2301@127.0.0.1|[leg_timeout=3]user/2302@127.0.0.1"
    with simulation(("bridge", dial)) as sim:
        anna = sim.phone("anna", "2301", answers=False)
        bram = sim.phone("bram", "2302", answers_after=1)
        call = sim.dial("0201234567", "1")
        call.expect_answered_by(bram, within=30)
        assert leg(sim, anna).hangup_cause == "ALLOTTED_TIMEOUT"
        call.hangup()


def test_a_group_that_timed_out_ends_the_failover():
    dial = f"{{originate_timeout=3}}{GW}{DESK}|{GW}{MOBILE}"
    with simulation(("bridge", dial)) as sim:
        desk = sim.mobile("desk", DESK, answers=False)
        mobile = sim.mobile("mobile", MOBILE, answers_after=1)
        call = run(sim)
        assert leg(sim, desk).hangup_cause == "NO_ANSWER"
        assert not any(mobile.owns(c) for c in sim.legs.values())
        assert call.variable("originate_disposition") == "NO_ANSWER"


def test_continue_on_timeout_rings_the_next_group_with_its_own_limit():
    # Taken from the calling channel when the dial string does not say.
    actions = [
        ("set", "originate_continue_on_timeout=true"),
        ("bridge", f"{{originate_timeout=3}}{GW}{DESK}|{GW}{MOBILE}"),
    ]
    with simulation(*actions) as sim:
        desk = sim.mobile("desk", DESK, answers=False)
        mobile = sim.mobile("mobile", MOBILE, answers=False)
        run(sim)
        first, second = leg(sim, desk), leg(sim, mobile)
        assert (first.hangup_cause, second.hangup_cause) == ("NO_ANSWER", "NO_ANSWER")
        start = times(sim, second, "CHANNEL_OUTGOING")[0]
        assert start - times(sim, first, "CHANNEL_OUTGOING")[0] == 3
        assert times(sim, second, "CHANNEL_HANGUP")[0] - start == 3


def test_one_user_leg_alone_times_out_with_no_answer():
    with simulation(("bridge", "{leg_timeout=5}user/2301@127.0.0.1")) as sim:
        anna = sim.phone("anna", "2301", answers=False)
        call = run(sim)
        channel = leg(sim, anna)
        assert channel.hangup_cause == "NO_ANSWER"
        hangup = times(sim, channel, "CHANNEL_HANGUP")[0]
        assert hangup - times(sim, channel, "CHANNEL_OUTGOING")[0] == 5
        assert call.variable("DIALSTATUS") == "NOANSWER"


def test_one_user_leg_alone_rings_for_the_callers_call_timeout():
    actions = [("set", "call_timeout=7"), ("bridge", "user/2301@127.0.0.1")]
    with simulation(*actions) as sim:
        anna = sim.phone("anna", "2301", answers=False)
        run(sim)
        channel = leg(sim, anna)
        hangup = times(sim, channel, "CHANNEL_HANGUP")[0]
        assert hangup - times(sim, channel, "CHANNEL_OUTGOING")[0] == 7
        assert channel.hangup_cause == "NO_ANSWER"


def test_each_group_of_pickup_legs_runs_out_of_its_leg_timeout():
    # FreeSWITCH's own report of this (issue 3068): each group ends on its
    # legs' leg_timeout, originate_timeout never comes, and the originate
    # fails with the last group's ALLOTTED_TIMEOUT.
    dial = (
        "{originate_timeout=11}[leg_timeout=9]pickup/123|"
        "[leg_timeout=9]pickup/456|[leg_timeout=9]pickup/789"
    )
    with simulation() as sim:
        started = sim.clock.monotonic()
        reply = sim.switch.api("originate", f"{dial} &echo")
        assert reply == "-ERR ALLOTTED_TIMEOUT\n"
        assert sim.clock.monotonic() - started == 27
        legs = [c for c in sim.legs.values() if c.name.startswith("pickup/")]
        assert [c.hangup_cause for c in legs] == ["ALLOTTED_TIMEOUT"] * 3
