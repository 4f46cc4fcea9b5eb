"""bind_meta_app, execute_extension and att_xfer on simulated calls."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from simulator.scenario import Simulation
from simulator.xmlcurl import StaticFetcher

DOMAIN = "127.0.0.1"

DIRECTORY = (
    '<document type="freeswitch/xml"><section name="directory">'
    f'<domain name="{DOMAIN}"><params><param name="dial-string" value="'
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@"
    '${dialed_domain}}${sofia_contact(*/${dialed_user}@${dialed_domain})}"/>'
    "</params>"
    + "".join(
        f'<user id="{uid}"><params><param name="password" value="pw"/></params></user>'
        for uid in ("2301", "2302")
    )
    + "</domain></section></document>"
)

BRIDGE_TO_ANNA = [
    ("bind_meta_app", "1 b s execute_extension::blind XML public"),
    ("bind_meta_app", "2 b s execute_extension::attended XML public"),
    ("set", "hangup_after_bridge=true"),
    ("bridge", f"user/2301@{DOMAIN}"),
]
EXTENSIONS = {
    "200": BRIDGE_TO_ANNA,
    "blind": [
        ("read", "4 4 silence xfer_to 5000 #"),
        ("transfer", "-bleg ${xfer_to} XML public"),
    ],
    "attended": [
        ("read", "4 4 silence xfer_to 5000 #"),
        ("att_xfer", f"user/${{xfer_to}}@{DOMAIN}"),
    ],
    "2302": [("bridge", f"user/2302@{DOMAIN}")],
    "300": [
        ("bind_meta_app", "5 a s set::pressed=five"),
        ("bind_meta_app", "6 a s1 set::once=${once}x"),
        ("answer", ""),
        ("read", "1 1 silence passed 5000 #"),
        ("park", ""),
    ],
}


def dialplan(extensions: dict[str, list[tuple[str, str]]]) -> str:
    parts = []
    for number, actions in extensions.items():
        rows = "".join(
            f"<action application={quoteattr(app)} data={quoteattr(data)}/>"
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


def simulation(extra: dict[str, list[tuple[str, str]]] | None = None) -> Simulation:
    documents = {
        "dialplan.public.xml": dialplan({**EXTENSIONS, **(extra or {})}),
        "directory.xml": DIRECTORY,
    }
    return Simulation(StaticFetcher(documents=documents), speed=100)


def talking_to_anna(sim: Simulation):
    """A caller bridged to anna; (caller's call, anna's call)."""
    anna = sim.phone("anna", "2301", answers_after=1)
    sim.phone("bram", "2302", answers_after=2)
    call = sim.dial("0201234567", "200")
    leg = call.expect_answered_by(anna)
    return call, sim.track(leg, anna)


def music_on(call) -> bool:
    return any(
        str(r.get("Playback-File-Path") or "").startswith("local_stream://")
        for r in call.events("PLAYBACK_START")
    )


def test_meta_key_runs_a_blind_transfer_of_the_partner():
    with simulation() as sim:
        call, anna = talking_to_anna(sim)
        anna.press("*12302")
        bram = call.expect_answered_by("bram")
        assert music_on(call)
        assert anna.hungup or anna.channel.wait_hangup(30)
        assert call.channel.partner is bram
        # The caller's keys were the caller's; anna's meta keys went nowhere.
        assert ("execute_extension", "blind XML public") in [
            (r.get("Application"), r.get("Application-Data"))
            for r in anna.events("CHANNEL_EXECUTE")
        ]
        call.hangup()
        sim.wait_idle()


def test_att_xfer_completes_with_the_hangup_key():
    with simulation() as sim:
        call, anna = talking_to_anna(sim)
        anna.press("*22302")
        bram = anna.expect_answered_by("bram")
        assert music_on(call)
        assert call.channel.partner is anna.channel
        anna.press("*")
        assert call.expect_answered_by("bram") is bram
        assert anna.channel.wait_hangup(30)
        assert bram.get_variable("att_xfer_result") == "success"
        call.hangup()
        sim.wait_idle()


def test_att_xfer_cancel_key_reconnects_the_partner():
    with simulation() as sim:
        call, anna = talking_to_anna(sim)
        anna.press("*22302")
        bram = anna.expect_answered_by("bram")
        after = len(anna.events())
        anna.press("#")
        assert bram.wait_hangup(30)
        # uuid_bridge <anna> <caller>: the first leg fires CHANNEL_BRIDGE.
        anna.expect_event("CHANNEL_BRIDGE", after=after, within=30)
        assert call.channel.partner is anna.channel
        assert not anna.hungup and not call.hungup
        call.hangup()
        sim.wait_idle()


def test_att_xfer_target_hanging_up_returns_to_the_partner():
    with simulation() as sim:
        call, anna = talking_to_anna(sim)
        anna.press("*22302")
        bram = anna.expect_answered_by("bram")
        after = len(anna.events())
        sim.switch.remote_hangup(bram.uuid)
        anna.expect_event("CHANNEL_BRIDGE", after=after, within=30)
        assert call.channel.partner is anna.channel
        anna.hangup()
        call.expect_hangup(within=30)
        sim.wait_idle()


def test_att_xfer_transferrer_hanging_up_hands_the_call_over():
    with simulation() as sim:
        call, anna = talking_to_anna(sim)
        anna.press("*22302")
        bram = anna.expect_answered_by("bram")
        anna.hangup()
        assert call.expect_answered_by("bram") is bram
        call.hangup()
        sim.wait_idle()


def test_att_xfer_to_nobody_goes_back_to_the_partner():
    with simulation() as sim:
        call, anna = talking_to_anna(sim)
        after = len(anna.events())
        anna.press("*22399")
        anna.expect_event("CHANNEL_BRIDGE", after=after, within=30)
        assert call.channel.partner is anna.channel
        call.hangup()
        sim.wait_idle()


def test_meta_keys_of_the_own_phone_and_the_once_flag():
    with simulation() as sim:
        call = sim.dial("0201234567", "300")
        call.expect_answered()
        # An unbound key after the meta key is swallowed; ** passes one *.
        call.press("*5*6*6**")
        call.expect_parked(within=30)
        assert call.variable("pressed") == "five"
        assert call.variable("once") == "x"
        assert call.variable("passed") == "*"
        call.hangup()
        sim.wait_idle()


def test_transfer_vars_copies_to_the_partner():
    copy = [
        ("set", "rights_x=local,national"),
        ("set", "limit_a=1"),
        ("set", "limit_b=2"),
        ("transfer_vars", "rights_x"),
        ("transfer_vars", "~limit_"),
    ]
    with simulation({"copy": copy}) as sim:
        call, anna = talking_to_anna(sim)
        sim.switch.api("uuid_broadcast", f"{anna.uuid} execute_extension::copy")
        call.expect_variable("limit_b", "2")
        assert call.variable("rights_x") == "local,national"
        assert call.variable("limit_a") == "1"
        call.hangup()
        sim.wait_idle()
