"""The pickup/<key> endpoint: a leg that waits until ``pickup <key>`` takes
the call (mod_dptools' pickup endpoint and application)."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from simulator.scenario import Simulation
from simulator.xmlcurl import StaticFetcher

MOBILE = "+31612222222"
CALLER = "0201234567"
PICKER = "0209876543"

EXTENSIONS = {
    "1": [("bridge", "pickup/sales")],
    "2": [("pickup", "sales@127.0.0.1"), ("set", "after_pickup=yes")],
    "3": [
        ("set", "continue_on_fail=true"),
        ("bridge", f"sofia/gateway/trunk/{MOBILE},pickup/sales"),
        ("hangup", "NORMAL_CLEARING"),
    ],
    "4": [("bridge", "{execute_on_pickup='set picked=yes'}pickup/sales")],
}


def simulation() -> Simulation:
    parts = []
    for number, actions in EXTENSIONS.items():
        rows = "".join(
            f"<action application={quoteattr(app)} data={quoteattr(data)}/>"
            for app, data in actions
        )
        parts.append(
            f'<extension name="x{number}"><condition field="destination_number" '
            f'expression="^{number}$">{rows}</condition></extension>'
        )
    dialplan = (
        '<document type="freeswitch/xml"><section name="dialplan">'
        f'<context name="public">{"".join(parts)}</context></section></document>'
    )
    return Simulation(
        StaticFetcher(documents={"dialplan.public.xml": dialplan}), speed=50
    )


def leg_named(sim, name):
    return next(c for c in sim.legs.values() if c.name == name)


def names(sim, uuid):
    return [r.name for r in sim.log.records if r.get("Unique-ID") == uuid]


def pickup_presence(sim):
    return [
        (r.get("force-status"), r.get("login"))
        for r in sim.events("PRESENCE_IN")
        if r.get("proto") == "pickup"
    ]


def test_a_picked_up_call_is_bridged_to_the_picker():
    with simulation() as sim:
        call = sim.dial(CALLER, "1", display="Caller")
        sim.wait(2)
        waiting = leg_named(sim, "pickup/sales")
        assert pickup_presence(sim) == [("Active (1 call)", "sales@127.0.0.1")]
        picker = sim.dial(PICKER, "2")
        partner = call.expect_answered_by(f"caller {PICKER}", within=10)
        assert partner is picker.channel
        # The waiting leg was answered by the pickup, then made way.
        assert names(sim, waiting.uuid)[:4] == [
            "CHANNEL_OUTGOING",
            "CHANNEL_STATE",
            "CHANNEL_STATE",
            "CHANNEL_ANSWER",
        ]
        assert "CHANNEL_CREATE" not in names(sim, waiting.uuid)
        assert waiting.hangup_cause == "PICKED_OFF"
        assert waiting.get_variable("process_cdr") == "false"
        assert pickup_presence(sim)[-1] == ("Idle", "sales@127.0.0.1")
        # The picker shows the caller, and whom it had called as callee.
        update = picker.events("CALL_UPDATE")[0]
        assert update.get("Direction") == "RECV"
        assert picker.channel.profile.caller_id_number == CALLER
        assert picker.channel.profile.callee_id_number == PICKER
        assert picker.variable("picked_up_uuid") == waiting.uuid
        states = [r.get("Channel-State") for r in picker.events("CHANNEL_STATE")]
        assert "CS_HIBERNATE" in states
        assert picker.variable("after_pickup") is None
        assert call.variable("originate_disposition") == "SUCCESS"
        call.hangup()
        picker.expect_hangup(within=10)


def test_pickup_with_nothing_waiting_runs_on():
    with simulation() as sim:
        picker = sim.dial(PICKER, "2")
        picker.expect_variable("after_pickup", "yes", within=10)


def test_a_pickup_leg_alone_gives_up_when_the_others_fail():
    with simulation() as sim:
        sim.mobile("mobile", MOBILE, busy=True)
        call = sim.dial(CALLER, "3")
        call.expect_hangup(cause="NORMAL_CLEARING", within=30)
        sim.wait_idle(within=10)
        waiting = leg_named(sim, "pickup/sales")
        assert waiting.hangup_cause == "NO_PICKUP"
        assert call.variable("originate_disposition") == "USER_BUSY"
        assert pickup_presence(sim)[-1] == ("Idle", "sales@127.0.0.1")


def test_a_caller_who_gives_up_leaves_the_group():
    with simulation() as sim:
        call = sim.dial(CALLER, "1")
        sim.wait(3)
        call.hangup()
        call.expect_hangup(within=10)
        sim.wait_idle(within=10)
        assert sim.switch.pickups.count("sales") == 0
        assert leg_named(sim, "pickup/sales").hangup_cause == "ORIGINATOR_CANCEL"
        assert pickup_presence(sim)[-1] == ("Idle", "sales@127.0.0.1")


def test_execute_on_pickup_runs_on_the_picker():
    with simulation() as sim:
        call = sim.dial(CALLER, "4")
        sim.wait(1)
        picker = sim.dial(PICKER, "2")
        call.expect_answered_by(f"caller {PICKER}", within=10)
        assert picker.variable("picked") == "yes"
        call.hangup()
