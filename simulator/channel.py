"""A simulated FreeSWITCH channel (one call leg) and the events it fires.

A ``Channel`` is one leg: an inbound leg from a trunk or phone, an outbound
leg made by ``originate``/``bridge``, or a loopback leg. Its methods change
its state the way FreeSWITCH's core does and fire exactly the events
FreeSWITCH fires for that change, in FreeSWITCH's order and with its header
sets (see ``simulator.headers``).

Every channel has its own greenlet (FreeSWITCH's session thread). It runs
the channel's *driver*: for an inbound call the routing loop (the switch's
``router`` on CS_ROUTING, again after each transfer), for an originated leg
whatever the originator hands it (a bridge, an application, routing). When
the driver returns and the channel is still up it is hung up with
NORMAL_CLEARING, as FreeSWITCH does at the end of a dialplan; then the
greenlet walks CS_HANGUP, CS_REPORTING (CHANNEL_HANGUP_COMPLETE with the
billing variables) and CS_DESTROY.

States: ``state`` is FreeSWITCH's running state (``Channel-State``),
``state_number`` the state it is heading for (``Channel-State-Number``, which
runs ahead, e.g. 10 on CHANNEL_HANGUP while the running state is still
CS_EXECUTE). ``callstate`` is ``DOWN RINGING EARLY ACTIVE HELD UNHELD
HANGUP``; ``answer_state`` is ``ringing early answered hangup``.

Public interface used by the dialplan side (session/apps) and the switch:

- attributes: ``uuid``, ``name``, ``direction``, ``state``, ``callstate``,
  ``answer_state``, ``profile`` (``CallerProfile``), ``variables`` (ordered;
  setting a name again moves it to the end, as FreeSWITCH does),
  ``partner`` (the bridged channel or None), ``dtmf_queue`` (gevent Queue of
  digits), ``switch``, ``endpoint``, ``answered``, ``hungup``.
- ``set_state(state)``: for the router: ``set_state(CS_EXECUTE)`` once the
  extension is found (CHANNEL_CALLSTATE RINGING->ACTIVE first if answered).
- ``ring_ready()``, ``pre_answer()``, ``answer()``.
- ``set_variable(name, value)`` (None unsets), ``get_variable(name)``,
  ``unset_variable(name)``, ``export_variable(name, value)``.
- ``execute(app, data)``: context manager: CHANNEL_EXECUTE on entry,
  CHANNEL_EXECUTE_COMPLETE on exit; ``Application-Response`` is the
  ``current_application_response`` variable (``_none_`` when unset), set it
  with ``set_response(text)``.
- ``park()``: CHANNEL_PARK, waits until the channel is taken (uuid_bridge,
  uuid_transfer, hangup), running queued commands meanwhile; CHANNEL_UNPARK.
- ``playback(path, *, terminators="")``: PLAYBACK_START/STOP, waits the
  length of the file; returns ``FILE PLAYED``, ``PLAYBACK ERROR`` or
  ``FILE NOT FOUND``; stopped early by uuid_break, hangup, transfer or one
  of the DTMF ``terminators`` (then the digit stays in ``dtmf_queue``).
- ``sleep(seconds) -> bool``: False when interrupted.
- ``read_digit(timeout) -> str | None``.
- ``transfer(destination, dialplan="XML", context=None)``.
- ``hangup(cause="NORMAL_CLEARING")``; ``wait_hangup(timeout=None) -> bool``.
- ``interrupted``: the running application must return now (hangup,
  transfer, uuid_bridge).
- ``queue_command(app, arg, ...)``: what ``uuid_broadcast`` and ``sendmsg``
  queue: runs when the channel next waits (park, bridge, sleep).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
import gevent.queue

from simulator import headers as hdr
from simulator.events import Event, HeaderValue, core_headers

if TYPE_CHECKING:
    from simulator.endpoints import SipLeg
    from simulator.switch import Switch

log = logging.getLogger(__name__)

CS_NEW = "CS_NEW"
CS_INIT = "CS_INIT"
CS_ROUTING = "CS_ROUTING"
CS_SOFT_EXECUTE = "CS_SOFT_EXECUTE"
CS_EXECUTE = "CS_EXECUTE"
CS_EXCHANGE_MEDIA = "CS_EXCHANGE_MEDIA"
CS_PARK = "CS_PARK"
CS_CONSUME_MEDIA = "CS_CONSUME_MEDIA"
CS_HIBERNATE = "CS_HIBERNATE"
CS_RESET = "CS_RESET"
CS_HANGUP = "CS_HANGUP"
CS_REPORTING = "CS_REPORTING"
CS_DESTROY = "CS_DESTROY"
CS_NONE = "CS_NONE"

# switch_channel_state_t in FreeSWITCH's order: the index is the number.
STATE_NUMBERS = {
    name: number
    for number, name in enumerate(
        (
            CS_NEW,
            CS_INIT,
            CS_ROUTING,
            CS_SOFT_EXECUTE,
            CS_EXECUTE,
            CS_EXCHANGE_MEDIA,
            CS_PARK,
            CS_CONSUME_MEDIA,
            CS_HIBERNATE,
            CS_RESET,
            CS_HANGUP,
            CS_REPORTING,
            CS_DESTROY,
            CS_NONE,
        )
    )
}

# switch_channel_callstate_t numbers.
CALLSTATE_NUMBERS = {
    "DOWN": 0,
    "DIALING": 1,
    "RINGING": 2,
    "EARLY": 3,
    "ACTIVE": 4,
    "HELD": 5,
    "RING_WAIT": 6,
    "HANGUP": 7,
    "UNHELD": 8,
}

# switch_call_cause_t of FreeSWITCH 1.10.12: Q.850 numbers up to 127, then
# the switch's own causes. Since 1.10.8 those are 700 and up (CRASH ...
# MANAGER_REQUEST) and 800 and up (BLIND_TRANSFER ... REJECT_ALL); releases
# before that numbered them 500/600, colliding with SIP statuses.
CAUSE_CODES = {
    "NONE": 0, "UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2,
    "NO_ROUTE_DESTINATION": 3, "CHANNEL_UNACCEPTABLE": 6,
    "CALL_AWARDED_DELIVERED": 7, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21, "NUMBER_CHANGED": 22,
    "REDIRECTION_TO_NEW_DESTINATION": 23, "EXCHANGE_ROUTING_ERROR": 25,
    "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28,
    "FACILITY_REJECTED": 29, "RESPONSE_TO_STATUS_ENQUIRY": 30,
    "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41,
    "SWITCH_CONGESTION": 42, "ACCESS_INFO_DISCARDED": 43,
    "REQUESTED_CHAN_UNAVAIL": 44, "PRE_EMPTED": 45,
    "FACILITY_NOT_SUBSCRIBED": 50, "OUTGOING_CALL_BARRED": 52,
    "INCOMING_CALL_BARRED": 54, "BEARERCAPABILITY_NOTAUTH": 57,
    "BEARERCAPABILITY_NOTAVAIL": 58, "SERVICE_UNAVAILABLE": 63,
    "BEARERCAPABILITY_NOTIMPL": 65, "CHAN_NOT_IMPLEMENTED": 66,
    "FACILITY_NOT_IMPLEMENTED": 69, "SERVICE_NOT_IMPLEMENTED": 79,
    "INVALID_CALL_REFERENCE": 81, "INCOMPATIBLE_DESTINATION": 88,
    "INVALID_MSG_UNSPECIFIED": 95, "MANDATORY_IE_MISSING": 96,
    "MESSAGE_TYPE_NONEXIST": 97, "WRONG_MESSAGE": 98, "IE_NONEXIST": 99,
    "INVALID_IE_CONTENTS": 100, "WRONG_CALL_STATE": 101,
    "RECOVERY_ON_TIMER_EXPIRE": 102, "MANDATORY_IE_LENGTH_ERROR": 103,
    "PROTOCOL_ERROR": 111, "INTERWORKING": 127, "SUCCESS": 142,
    "ORIGINATOR_CANCEL": 487, "CRASH": 700, "SYSTEM_SHUTDOWN": 701,
    "LOSE_RACE": 702, "MANAGER_REQUEST": 703, "BLIND_TRANSFER": 800,
    "ATTENDED_TRANSFER": 801, "ALLOTTED_TIMEOUT": 802, "USER_CHALLENGE": 803,
    "MEDIA_TIMEOUT": 804, "PICKED_OFF": 805, "USER_NOT_REGISTERED": 806,
    "PROGRESS_TIMEOUT": 807, "INVALID_GATEWAY": 808, "GATEWAY_DOWN": 809,
    "INVALID_URL": 810, "INVALID_PROFILE": 811, "NO_PICKUP": 812,
    "SRTP_READ_ERROR": 813, "BOWOUT": 814, "BUSY_EVERYWHERE": 815,
    "DECLINE": 816, "DOES_NOT_EXIST_ANYWHERE": 817, "NOT_ACCEPTABLE": 818,
    "UNWANTED": 819, "NO_IDENTITY": 820, "BAD_IDENTITY_INFO": 821,
    "UNSUPPORTED_CERTIFICATE": 822, "INVALID_IDENTITY": 823,
    "STALE_DATE": 824, "REJECT_ALL": 825,
}  # fmt: skip


_CAUSE_BY_NUMBER = {number: name for name, number in CAUSE_CODES.items()}


def str2cause(text: str) -> str:
    """switch_channel_str2cause: a cause name or number.

    An unknown name (or nothing) is NORMAL_CLEARING; a number without a
    name is what FreeSWITCH calls UNKNOWN.
    """
    text = text.strip()
    if text[:1].isdigit():
        digits = re.match(r"\d+", text)
        number = int(digits.group()) if digits else 0
        return _CAUSE_BY_NUMBER.get(number, "UNKNOWN")
    upper = text.upper()
    return upper if upper in CAUSE_CODES else "NORMAL_CLEARING"


def cause_q850(cause: str) -> int:
    """switch_channel_cause_q850: the Q.850 number, NORMAL_CLEARING for the
    switch's own causes (above INTERWORKING, 127), as ``hangup_cause_q850``
    shows them."""
    number = CAUSE_CODES.get(cause, 0)
    return number if number <= CAUSE_CODES["INTERWORKING"] else 16


# The codec every simulated leg negotiates (name, rate, bits per second).
PCMU = ("PCMU", "8000", "64000")


class ChannelError(Exception):
    """An operation the channel cannot do in its current state."""


@dataclass
class CallerProfile:
    """switch_caller_profile_t: who calls whom, as the Caller-* headers show."""

    username: str = ""
    dialplan: str = "XML"
    caller_id_name: str = ""
    caller_id_number: str = ""
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    network_addr: str = ""
    ani: str = ""
    aniii: str = ""
    rdnis: str = ""
    destination_number: str = ""
    uuid: str = ""
    source: str = "mod_sofia"
    transfer_source: str = ""
    context: str = "default"
    chan_name: str = ""
    direction: str = "inbound"
    logical_direction: str = "inbound"
    profile_index: int = 1
    times: dict[str, int] = field(default_factory=dict)

    def clone(self, *, keep_times: bool = True, index: bool = True) -> CallerProfile:
        """A copy, as switch_caller_profile_clone makes for the other leg."""
        return replace(
            self,
            times=dict(self.times) if keep_times else {},
            profile_index=self.profile_index if index else 0,
        )


@dataclass
class Command:
    """An application queued on a channel (uuid_broadcast, sendmsg)."""

    app: str
    arg: str
    headers: list[tuple[str, str]]
    sequence: int | None = None
    loops: int = 1
    app_uuid: str | None = None
    hangup_after: bool = False
    # "hold-bleg": the partner hears hold music while the application runs.
    hold_partner: bool = False


Driver = Callable[[], None]


class Channel:
    """One call leg of the simulated switch."""

    def __init__(
        self,
        switch: Switch,
        *,
        name: str,
        direction: str,
        profile: CallerProfile,
        uuid: str | None = None,
        sip: SipLeg | None = None,
        endpoint: Any = None,
    ) -> None:
        self.switch = switch
        self.clock = switch.clock
        self.name = name
        self.direction = direction
        self.uuid = uuid or switch.new_uuid()
        self.profile = profile
        profile.uuid = self.uuid
        profile.chan_name = name
        self.initial_profile = profile
        self.sip = sip
        self.endpoint = endpoint
        self.state = CS_NEW
        self.state_number = 0
        self.callstate = "DOWN"
        self.hit_dialplan = direction == "inbound"
        self.variables: dict[str, HeaderValue] = {}
        self.hangup_cause: str | None = None
        self.codec: tuple[str, str, str] | None = None
        self.read_codec: tuple[str, str, str] | None = None
        self.other_type: str | None = None
        self.other_profile: CallerProfile | None = None
        self.partner: Channel | None = None
        self.ring_ready_sent = False
        self.early = False
        self.answered = False
        self.hungup = False
        self.held = False
        self.dtmf_queue: gevent.queue.Queue[str] = gevent.queue.Queue()
        self.dtmf_log: list[str] = []
        # Session DTMF hooks (bind_meta_app, att_xfer's keys): called with
        # (channel, digit, direction) where direction is "recv" for a digit
        # of this leg's phone and "send" for one its bridged partner sends
        # it; True swallows the digit.
        self.dtmf_hooks: list[Callable[[Channel, str, str], bool]] = []
        # CF_INNER_BRIDGE: in att_xfer's consultation (meta keys ignored).
        self.inner_bridge = False
        self.app_log: list[tuple[str, str]] = []
        self.presence = True
        self.show_profile = True
        self.presence_count = 0
        self.bridge_hangup_cause: str | None = None
        self.uuid_bridged = False
        self.hold_record: list[list[int]] = []
        self.listed_app = ("", "")
        self.directory_variables: dict[str, str] = {}
        self.recordings: dict[str, float] = {}
        self._commands: deque[Command] = deque()
        self._dtmf_pending: deque[tuple[str, int]] = deque()
        self._wake = gevent.event.Event()
        self._hangup_event = gevent.event.Event()
        self._destroyed = gevent.event.Event()
        # Session read locks held by module threads (see read_lock).
        self._read_locks = 0
        self._unlocked = gevent.event.Event()
        self._unlocked.set()
        self._driver: Driver | None = None
        self._driver_ready = gevent.event.Event()
        self._pending_routing = False
        self._pending_bridge: tuple[Channel, str] | None = None
        self._pending_driver: Driver | None = None
        self._break = False
        self._unparked = False
        self._bridge_active = False
        # The bridge the channel is in: both legs share the token, so the
        # teardown of an old bridge leaves a leg moved by uuid_bridge alone.
        self._bridge_token: object | None = None
        # CF_BROADCAST: a queued command (uuid_broadcast, hold music) runs.
        self.broadcasting = False
        self._greenlet: gevent.Greenlet | None = None
        self.profile.times.setdefault("created", 0)

    def __repr__(self) -> str:
        return f"<Channel {self.uuid} {self.name} {self.state}>"

    # ------------------------------------------------------------------ events

    def fire(
        self,
        name: str,
        *,
        lead: hdr.Headers = (),  # type: ignore[assignment]
        tail: hdr.Headers = (),  # type: ignore[assignment]
        site: str | None = None,
        subclass: str | None = None,
        sequence: int | None = None,
    ) -> Event:
        """Build and fire a channel event with FreeSWITCH's header blocks."""
        event = hdr.channel_event(
            self, name, lead=lead, tail=tail, site=site, subclass=subclass
        )
        self.switch.fire(event, sequence=sequence)
        return event

    def _enter(self, state: str, number: int | None = None) -> None:
        """Run a new state: CHANNEL_STATE with the running state."""
        self.state = state
        self.state_number = STATE_NUMBERS[state] if number is None else number
        self.fire("CHANNEL_STATE")

    def set_callstate(self, callstate: str) -> None:
        """CHANNEL_CALLSTATE, only when the call state really changes."""
        if callstate == self.callstate:
            return
        original = self.callstate
        self.callstate = callstate
        self.fire(
            "CHANNEL_CALLSTATE",
            lead=[
                ("Original-Channel-Call-State", original),
                ("Channel-Call-State-Number", str(CALLSTATE_NUMBERS[callstate])),
            ],
        )

    def presence_event(
        self,
        status: str,
        info_state: str,
        where: tuple[str, str, str] = (
            "src/switch_core_state_machine.c",
            "check_presence",
            "521",
        ),
    ) -> None:
        """PRESENCE_IN from switch_channel_presence (legs with a presence_id)."""
        presence_id = self.variables.get("presence_id")
        if not presence_id or not self.presence:
            return
        count = self.presence_count
        self.presence_count += 1
        self.fire(
            "PRESENCE_IN",
            tail=[
                ("proto", "any"),
                ("login", "src/switch_channel.c"),
                ("from", str(presence_id)),
                ("rpid", "unknown"),
                ("status", status),
                ("event_type", "presence"),
                ("alt_event_type", "dialog"),
                ("presence-call-info-state", info_state),
                ("presence-call-direction", self.direction),
                ("event_count", str(count)),
                ("Presence-Calling-File", where[0]),
                ("Presence-Calling-Function", where[1]),
                ("Presence-Calling-Line", where[2]),
            ],
        )

    @property
    def answer_state(self) -> str:
        if self.hungup:
            return "hangup"
        if self.answered:
            return "answered"
        if self.early:
            return "early"
        return "ringing"

    def now_us(self) -> int:
        return self.clock.now_us()

    # --------------------------------------------------------------- variables

    def set_variable(self, name: str, value: HeaderValue | None) -> None:
        """switch_channel_set_variable: replace and move to the end; None unsets."""
        self.variables.pop(name, None)
        if value is None or value == "":
            return
        self.variables[name] = value

    def get_variable(self, name: str, default: str | None = None) -> str | None:
        """The value as uuid_getvar shows it (a list is joined like FS does)."""
        value = self.variables.get(name)
        if value is None:
            return default
        if isinstance(value, list):
            return "ARRAY::" + "|:".join(value)
        return value

    def unset_variable(self, name: str) -> None:
        self.variables.pop(name, None)

    def push_variable(self, name: str, value: str) -> None:
        """switch_channel_add_variable_var_check with SWITCH_STACK_PUSH."""
        current = self.variables.pop(name, None)
        if current is None:
            self.variables[name] = value
        elif isinstance(current, list):
            self.variables[name] = [*current, value]
        else:
            self.variables[name] = [current, value]

    def export_variable(self, name: str, value: str) -> None:
        """Set a variable here and on every leg this channel originates."""
        self.set_variable(name, value)
        exported = self.variables.get("export_vars")
        names = [n for n in str(exported or "").split(",") if n]
        if name not in names:
            names.append(name)
        self.set_variable("export_vars", ",".join(names))

    def exported_variables(self) -> dict[str, str]:
        names = str(self.variables.get("export_vars") or "").split(",")
        out: dict[str, str] = {}
        for name in names:
            value = self.get_variable(name)
            if name and value is not None:
                out[name] = value
        return out

    def true(self, name: str) -> bool:
        """switch_true on a variable."""
        value = str(self.variables.get(name) or "").lower()
        return value in ("true", "yes", "on", "1", "enabled", "active", "allow")

    # ------------------------------------------------------------ life cycle

    def start(self, driver: Driver | None = None) -> None:
        """Start the session greenlet; ``driver`` may also come later."""
        if driver is not None:
            self.set_driver(driver)
        self._greenlet = gevent.spawn(self._session)

    def set_driver(self, driver: Driver) -> None:
        """Hand the channel what to do once it is up (route, app, bridge)."""
        self._driver = driver
        self._driver_ready.set()
        self.poke()

    def hand_over(self, driver: Driver) -> None:
        """Leave the running application; the session runs ``driver`` next
        (a picked-up call joins its caller's bridge this way)."""
        self._pending_driver = driver
        self.poke()

    def _session(self) -> None:
        try:
            self._driver_ready.wait()
            if self._driver is not None and not self.hungup:
                self._driver()
            if not self.hungup:
                self.hangup("NORMAL_CLEARING")
        except Exception:
            log.exception("channel %s: session failed", self.uuid)
            if not self.hungup:
                self.hangup("NORMAL_TEMPORARY_FAILURE")
        finally:
            self._finish()

    def _finish(self) -> None:
        """CS_HANGUP, CS_REPORTING (HANGUP_COMPLETE), CS_DESTROY."""
        partner = self.partner
        if partner is not None and partner.partner is self:
            # Gone before its side of the bridge ran: release the other leg.
            self._abandon_bridge(partner)
        self._enter(CS_HANGUP, STATE_NUMBERS[CS_HANGUP])
        self.set_callstate("HANGUP")
        # Let a bridged partner's thread finish its unbridge meanwhile, as
        # FreeSWITCH's separate session threads do.
        gevent.sleep(0)
        self.state_number = STATE_NUMBERS[CS_REPORTING]
        self.presence_event("CS_HANGUP", "idle")
        self._enter(CS_REPORTING)
        self._set_hangup_variables()
        cause = self.hangup_cause or "NORMAL_CLEARING"
        self.fire("CHANNEL_HANGUP_COMPLETE", lead=[("Hangup-Cause", cause)])
        self.state_number = STATE_NUMBERS[CS_DESTROY]
        # The session is destroyed only once every read lock is released.
        self._unlocked.wait()
        self.fire("CHANNEL_DESTROY")
        self._enter(CS_DESTROY)
        self.switch.forget_channel(self)
        self._destroyed.set()
        log.debug("channel %s destroyed (%s)", self.uuid, cause)

    def _set_hangup_variables(self) -> None:
        cause = self.hangup_cause or "NORMAL_CLEARING"
        self.set_variable("hangup_cause", cause)
        self.set_variable("hangup_cause_q850", str(cause_q850(cause)))
        self._set_timestamps()
        if self.sip is not None:
            self.sip.on_reporting(self)
        if self.bridge_hangup_cause:
            self.set_variable("bridge_hangup_cause", self.bridge_hangup_cause)
        if self.profile.times.get("bridged"):
            # After a bridge the session's call_uuid is the leg's own again.
            self.set_variable("call_uuid", self.uuid)

    def _set_timestamps(self) -> None:
        """switch_channel_set_timestamps: the billing variables."""
        times = self.profile.times
        digits = "".join(self.dtmf_log)
        self.set_variable("digits_dialed", digits or "none")
        self.set_variable("start_stamp", _stamp(times.get("created", 0)))
        self.set_variable(
            "profile_start_stamp", _stamp(times.get("profile_created", 0))
        )
        for key, name in (
            ("answered", "answer_stamp"),
            ("bridged", "bridge_stamp"),
            ("last_hold", "hold_stamp"),
            ("resurrected", "resurrect_stamp"),
            ("progress", "progress_stamp"),
            ("progress_media", "progress_media_stamp"),
        ):
            if times.get(key):
                self.set_variable(name, _stamp(times[key]))
        if self.hold_record:
            spans = ",".join(f"{{{on},{off}}}" for on, off in self.hold_record)
            self.set_variable("hold_events", "{" + spans + "}")
        self.set_variable("end_stamp", _stamp(times.get("hungup", 0)))
        for key, name in (
            ("created", "start"),
            ("profile_created", "profile_start"),
            ("answered", "answer"),
            ("bridged", "bridge"),
            ("last_hold", "last_hold"),
        ):
            usec = times.get(key, 0)
            self.set_variable(f"{name}_epoch", str(usec // 1_000_000))
            self.set_variable(f"{name}_uepoch", str(usec))
        hold = times.get("hold_accum", 0)
        self.set_variable("hold_accum_seconds", str(hold // 1_000_000))
        self.set_variable("hold_accum_usec", str(hold))
        self.set_variable("hold_accum_ms", str(hold // 1000))
        for key, name in (
            ("resurrected", "resurrect"),
            ("progress", "progress"),
            ("progress_media", "progress_media"),
            ("hungup", "end"),
        ):
            usec = times.get(key, 0)
            self.set_variable(f"{name}_epoch", str(usec // 1_000_000))
            self.set_variable(f"{name}_uepoch", str(usec))
        if self.app_log:
            self.set_variable("last_app", self.app_log[-1][0])
            self.set_variable("last_arg", self.app_log[-1][1])
        profile = self.profile
        if profile.caller_id_name:
            caller_id = f'"{profile.caller_id_name}" <{profile.caller_id_number}>'
        else:
            caller_id = profile.caller_id_number
        self.set_variable("caller_id", caller_id)
        for name, value in _billing(times).items():
            self.set_variable(name, value)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> bool:
        """switch_channel_hangup: CHANNEL_HANGUP now, the rest in the session.

        Returns False when the channel was already hanging up.
        """
        if self.hungup:
            return False
        self.hungup = True
        self.hangup_cause = cause
        self.state_number = STATE_NUMBERS[CS_HANGUP]
        self.profile.times["hungup"] = self.now_us()
        if self.sip is not None:
            self.sip.on_hangup(self, cause)
        partner = self.partner
        if partner is not None and not partner.hungup and self._bridge_active:
            # The bridge tells the other leg why this one went away.
            role = "originator" if self.other_type == "originatee" else "originatee"
            self.set_variable("last_bridge_role", role)
            partner.set_variable("last_bridge_hangup_cause", cause)
            proto = self.get_variable("proto_specific_hangup_cause")
            if proto:
                partner.set_variable("last_bridge_proto_specific_hangup_cause", proto)
        log.debug("channel %s hangup %s", self.uuid, cause)
        self.fire("CHANNEL_HANGUP")
        if self.sip is not None:
            self.sip.after_hangup(self)
        self._hangup_event.set()
        self._driver_ready.set()
        self.poke()
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._session)
        return True

    def wait_hangup(self, timeout: float | None = None) -> bool:
        """Wait (virtual seconds) until CHANNEL_HANGUP; True if it came."""
        return self.clock.wait(self._hangup_event, timeout)

    def sleep_until_hangup(self, seconds: float) -> bool:
        """For scripted parties: wait; False when the leg hung up meanwhile."""
        return not self.wait_hangup(seconds)

    def read_lock(self) -> None:
        """switch_core_session_read_lock: keep the session from being destroyed.

        A module thread that holds a leg (mod_callcenter's agent thread)
        keeps CHANNEL_DESTROY back until it lets go, as FreeSWITCH's session
        rwlock does; the hangup states run meanwhile.
        """
        self._read_locks += 1
        self._unlocked.clear()

    def read_unlock(self) -> None:
        """Release a ``read_lock``; the last one lets the session be destroyed."""
        self._read_locks = max(0, self._read_locks - 1)
        if not self._read_locks:
            self._unlocked.set()

    def wait_destroyed(self, timeout: float | None = None) -> bool:
        return self.clock.wait(self._destroyed, timeout)

    # ---------------------------------------------------------- state changes

    def set_state(self, state: str) -> None:
        """Move the running state as the core would, with its events."""
        if state == CS_EXECUTE:
            self.state = CS_EXECUTE
            self.state_number = STATE_NUMBERS[CS_EXECUTE]
            if self.answered and self.callstate != "ACTIVE":
                self.set_callstate("ACTIVE")
            self.fire("CHANNEL_STATE")
        elif state == CS_ROUTING:
            self.enter_routing()
        else:
            self._enter(state)

    def enter_routing(self) -> None:
        """CS_ROUTING: the call state goes back to RINGING first."""
        self._pending_routing = False
        self.state = CS_ROUTING
        self.state_number = STATE_NUMBERS[CS_ROUTING]
        if self.direction == "inbound" or self.hit_dialplan:
            self.set_callstate("RINGING")
        self.fire("CHANNEL_STATE")

    def ring_ready(self) -> None:
        """switch_channel_mark_ring_ready: CHANNEL_PROGRESS once."""
        if self.ring_ready_sent or self.hungup:
            return
        self.ring_ready_sent = True
        self.profile.times["progress"] = self.now_us()
        if self.sip is not None:
            self.sip.on_ring(self)
        self.fire("CHANNEL_PROGRESS")
        self.execute_on("execute_on_ring")
        self.api_on("api_on_ring")
        self.set_callstate("RINGING")
        self.poke()

    def _media_up(self) -> None:
        """The two CODEC events of sofia setting up the RTP session."""
        if self.codec is not None:
            return
        codec = PCMU
        if self.sip is not None and self.sip.codec != "PCMU":
            codec = (self.sip.codec, "8000", "64000")
        self.codec = codec
        name, rate, bit_rate = codec
        self.fire(
            "CODEC",
            site="CODEC_READ",
            tail=[
                ("channel-read-codec-name", name),
                ("channel-read-codec-rate", rate),
                ("channel-read-codec-bit-rate", bit_rate),
            ],
        )
        self.fire(
            "CODEC",
            site="CODEC_WRITE",
            tail=[
                ("Channel-Write-Codec-Name", name),
                ("Channel-Write-Codec-Rate", rate),
                ("Channel-Write-codec-bit-rate", bit_rate),
            ],
        )

    def set_read_codec(self, codec: tuple[str, str, str] | None) -> None:
        """An application reads in another codec (``None``: the call's again).

        ``codec`` is (name, rate, bits per second), e.g. ("L16", "8000",
        "128000") while recording. Fires CODEC like
        switch_core_session_set_read_codec.
        """
        if self.codec is None:
            return
        self.read_codec = codec
        name, rate, bit_rate = codec or self.codec
        self.set_variable("read_codec", name)
        self.set_variable("read_rate", rate)
        self.fire(
            "CODEC",
            site="CODEC_SET_READ",
            tail=[
                ("channel-read-codec-name", name),
                ("channel-read-codec-rate", rate),
                ("channel-read-codec-bit-rate", bit_rate),
            ],
        )

    def pre_answer(self, media_sdp: str | None = None) -> None:
        """switch_channel_mark_pre_answered: CODECs, PROGRESS_MEDIA, EARLY."""
        if self.early or self.answered or self.hungup:
            return
        if self.sip is not None:
            self.sip.on_media(self, media_sdp)
        self._media_up()
        self.early = True
        self.profile.times["progress_media"] = self.now_us()
        self.fire("CHANNEL_PROGRESS_MEDIA")
        self._pre_answer_hooks()
        self.set_callstate("EARLY")
        self.poke()

    def answer(self) -> None:
        """Answer an inbound leg (FreeSWITCH sends 200 OK)."""
        if self.answered or self.hungup:
            return
        self.pre_answer()
        if self.sip is not None:
            self.sip.on_answer_sent(self)
        self._mark_answered()

    def pre_answer_remote(self) -> None:
        """An outbound leg got 183 Session Progress with SDP.

        The switch marks the leg pre-answered exactly as when it sends 183
        itself; only the SDP comes from the far end.
        """
        self.pre_answer()

    def remote_answered(self) -> None:
        """An outbound leg got 200 OK from the far end."""
        if self.answered or self.hungup:
            return
        if self.sip is not None:
            self.sip.on_media(self)
        self._media_up()
        if self.sip is not None:
            self.sip.on_answer_received(self)
        self._mark_answered()

    def mark_answered(self) -> None:
        """switch_channel_mark_answered on a leg without media (pickup/)."""
        if not (self.answered or self.hungup):
            self._mark_answered()

    def _mark_answered(self) -> None:
        self.answered = True
        self.profile.times["answered"] = self.now_us()
        self.fire("CHANNEL_ANSWER")
        if self.sip is not None and self.sip.inbound:
            self.set_variable("endpoint_disposition", "ANSWER")
            self.sip.expect_ack(self)
        # switch_channel_perform_mark_answered: the hooks run right after
        # CHANNEL_ANSWER, in the thread that marked the answer.
        self.execute_on("execute_on_answer")
        if not self.early:
            self.execute_on("execute_on_media")
            self.api_on("api_on_media")
        self.api_on("api_on_answer")
        self.presence_event(
            "answered",
            "active",
            ("src/switch_channel.c", "switch_channel_perform_mark_answered", "3904"),
        )
        self.set_callstate("ACTIVE")
        self.poke()

    def _pre_answer_hooks(self) -> None:
        """switch_channel_perform_mark_pre_answered's hooks."""
        self.execute_on("execute_on_pre_answer")
        self.execute_on("execute_on_media")
        self.api_on("api_on_pre_answer")
        self.api_on("api_on_media")

    # ------------------------------------------------------------------ hooks

    def _hook_values(self, prefix: str) -> list[str]:
        """Values of the variables named ``prefix...`` (any case; the global
        variables first, as switch_channel_execute_on merges them)."""
        found: list[str] = []
        own = self.variables
        merged = [(k, v) for k, v in self.switch.global_vars.items() if k not in own]
        for name, value in merged + list(own.items()):
            if name.lower().startswith(prefix):
                found += value if isinstance(value, list) else [value]
        return [value for value in found if value]

    def execute_on(self, prefix: str) -> int:
        """switch_channel_execute_on: run the application every ``prefix*``
        variable names (``app args``, ``app:args``; ``app::args`` is queued
        like a broadcast). Returns how many there were."""
        values = self._hook_values(prefix)
        for value in values:
            app, arg, queued = _split_hook(value)
            log.debug("channel %s %s: %s(%s)", self.uuid, prefix, app, arg)
            if queued:
                self.queue_command(
                    Command(
                        app=app,
                        arg=arg,
                        headers=[
                            ("call-command", "execute"),
                            ("execute-app-name", app),
                            ("execute-app-arg", arg),
                            ("event-lock", "true"),
                        ],
                        sequence=self.switch.next_sequence(),
                    )
                )
            else:
                self.switch.run_app(self, app, arg)
        return len(values)

    def api_on(self, prefix: str) -> int:
        """switch_channel_api_on: run the api command of every ``prefix*``
        variable (``command args``, the args expanded on this channel)."""
        from simulator.apps import expand

        values = self._hook_values(prefix)
        for value in values:
            command, _, arg = value.partition(" ")
            output = self.switch.api(command, expand(self, arg) if arg else "")
            log.debug("channel %s %s: %s %s: %s", self.uuid, prefix, command, arg,
                      output.strip())  # fmt: skip
        return len(values)

    # ----------------------------------------------------------- interrupts

    def poke(self) -> None:
        """Wake whatever the channel's greenlet is waiting in."""
        self._wake.set()

    @property
    def interrupted(self) -> bool:
        """The running application has to return (hangup, transfer, bridge)."""
        return (
            self.hungup
            or self._pending_routing
            or self._pending_bridge is not None
            or self._pending_driver is not None
        )

    def request_break(self) -> None:
        """uuid_break: stop the current playback."""
        self._break = True
        self.poke()

    def _wait(self, seconds: float | None, stop: Callable[[], bool]) -> bool:
        """Wait until ``stop()`` or ``seconds`` pass; run queued commands.

        Returns True when ``stop()`` ended the wait.
        """
        deadline = None if seconds is None else self.clock.monotonic() + seconds
        while True:
            self._wake.clear()
            if self._dtmf_pending and not self.hungup:
                self._dequeue_dtmf()
            if stop():
                return True
            if self._commands and not self.interrupted:
                self.run_commands()
                continue
            if deadline is None:
                self._wake.wait()
                continue
            if self.clock.monotonic() >= deadline:
                return False
            self.clock.wait_until(self._wake, deadline)

    def sleep(self, seconds: float) -> bool:
        """Wait on the clock; False when the channel was interrupted."""
        return not self._wait(seconds, lambda: self.interrupted)

    # ------------------------------------------------------------ applications

    @contextmanager
    def execute(
        self,
        app: str,
        data: str = "",
        *,
        app_uuid: str | None = None,
    ) -> Iterator[Channel]:
        """switch_core_session_exec: CHANNEL_EXECUTE ... EXECUTE_COMPLETE."""
        app_uuid = app_uuid or self.switch.new_uuid()
        self.app_log.append((app, data))
        self.listed_app = (app, data)
        self.set_variable("current_application", app)
        self.set_variable("current_application_data", data or None)
        self.set_variable("current_application_response", None)
        tail: hdr.Headers = [("Application", app)]
        if data:
            tail.append(("Application-Data", data))
        tail.append(("Application-UUID", app_uuid))
        self.fire("CHANNEL_EXECUTE", tail=tail)
        self._break = False
        try:
            yield self
        finally:
            response = self.get_variable("current_application_response") or "_none_"
            tail = [("Application", app)]
            if data:
                tail.append(("Application-Data", data))
            tail += [("Application-Response", response), ("Application-UUID", app_uuid)]
            self.fire("CHANNEL_EXECUTE_COMPLETE", tail=tail)

    def set_response(self, text: str) -> None:
        """What the running application reports as Application-Response."""
        self.set_variable("current_application_response", text)

    def run_app(self, app: str, data: str = "") -> None:
        """Run one application with its execute events (via the switch)."""
        self.switch.run_app(self, app, data)

    def park(self) -> None:
        """switch_ivr_park: CHANNEL_PARK, wait to be taken, CHANNEL_UNPARK."""
        if self.interrupted:
            return
        self.fire("CHANNEL_PARK")
        self._unparked = False
        self._wait(None, lambda: self.interrupted or self._unparked)
        self._unparked = False
        self.fire("CHANNEL_UNPARK")

    def unpark(self) -> None:
        self._unparked = True
        self.poke()

    def playback(self, path: str, *, terminators: str = "") -> str:
        """switch_ivr_play_file: PLAYBACK_START, wait, PLAYBACK_STOP."""
        if self.hungup:
            return "PLAYBACK ERROR"
        length = self.switch.duration_of(path)
        if length is None:
            self.set_response("FILE NOT FOUND")
            return "FILE NOT FOUND"
        file_type = path.split("://", 1)[0] if "://" in path else "file"
        tail: hdr.Headers = [
            ("Playback-File-Type", file_type),
            ("Playback-File-Path", path),
        ]
        self.fire("PLAYBACK_START", tail=tail)
        started = self.clock.monotonic()
        self._break = False

        def stop() -> bool:
            if self.interrupted or self._break:
                return True
            return bool(terminators) and self._peek_digit(terminators)

        stopped = self._wait(None if length == float("inf") else length, stop)
        played = self.clock.monotonic() - started
        if length != float("inf"):
            played = min(played, length)
        # A break (uuid_break, a terminator) is "break"; a channel taken
        # away (hangup, transfer, uuid_bridge) ends the file as "done".
        status = "break" if stopped and not self.interrupted else "done"
        self._break = False
        samples = int(played * 8000)
        self.set_variable("playback_last_offset_pos", str(samples))
        self.set_variable("playback_seconds", str(int(played)))
        self.set_variable("playback_ms", str(int(played * 1000)))
        self.set_variable("playback_samples", str(samples))
        self.fire("PLAYBACK_STOP", tail=[*tail, ("Playback-Status", status)])
        self.set_response("FILE PLAYED")
        return "FILE PLAYED"

    def _peek_digit(self, terminators: str) -> bool:
        if self.dtmf_queue.empty():
            return False
        return any(digit in terminators for digit in list(self.dtmf_queue.queue))

    def read_digit(self, timeout: float | None) -> str | None:
        """The next DTMF digit within ``timeout`` virtual seconds, or None."""
        got = self._wait(
            timeout, lambda: self.interrupted or not self.dtmf_queue.empty()
        )
        if got and not self.dtmf_queue.empty():
            return self.dtmf_queue.get_nowait()
        return None

    def receive_dtmf(self, digit: str, duration_ms: int = 2000) -> None:
        """A DTMF digit from the far end (RFC 2833), queued on the channel.

        FreeSWITCH fires the DTMF event when the session dequeues the digit
        (switch_channel_dequeue_dtmf), i.e. when whatever the channel is
        doing (park, playback, a bridge, a digit read) next looks at it.
        """
        if digit not in "0123456789*#ABCDabcd" or len(digit) != 1:
            raise ChannelError(f"not a DTMF digit: {digit!r}")
        self._dtmf_pending.append((digit.upper(), duration_ms))
        self.poke()

    def _dequeue_dtmf(self) -> None:
        while self._dtmf_pending:
            digit, duration_ms = self._dtmf_pending.popleft()
            self.dtmf_log.append(digit)
            self.fire(
                "DTMF",
                tail=[
                    ("DTMF-Digit", digit),
                    ("DTMF-Duration", str(duration_ms)),
                    ("DTMF-Source", "RTP"),
                ],
            )
            if not self._hooked_dtmf(digit):
                self.dtmf_queue.put(digit)

    def _hooked_dtmf(self, digit: str) -> bool:
        """The recv hooks of this leg, then the send hooks of its partner."""
        for hook in list(self.dtmf_hooks):
            if hook(self, digit, "recv"):
                return True
        partner = self.partner
        if partner is None or partner.partner is not self:
            return False
        return any(hook(partner, digit, "send") for hook in list(partner.dtmf_hooks))

    # ------------------------------------------------------------- recording

    def record_start(self, path: str) -> None:
        """A recording media bug starts (record, uuid_record start)."""
        self.recordings[path] = self.clock.monotonic()
        self.set_variable("record_start_epoch", str(int(self.clock.now())))
        self.fire("RECORD_START", tail=[("Record-File-Path", path)])

    def record_stop(self, path: str) -> bool:
        """The recording of ``path`` ends: RECORD_STOP with its length."""
        started = self.recordings.pop(path, None)
        if started is None:
            return False
        seconds = self.clock.monotonic() - started
        self.set_variable("record_seconds", str(int(seconds)))
        self.set_variable("record_ms", str(int(seconds * 1000)))
        self.set_variable("record_samples", str(int(seconds * 8000)))
        self.fire(
            "RECORD_STOP",
            tail=[("Record-File-Path", path)],
        )
        return True

    # -------------------------------------------------------------- commands

    def queue_command(self, command: Command) -> None:
        """A private command (uuid_broadcast, sendmsg execute) for later."""
        self._commands.append(command)
        self.poke()

    def run_commands(self) -> None:
        """Run queued commands now (called while the channel waits)."""
        while self._commands and not self.interrupted:
            command = self._commands.popleft()
            self._run_command(command)

    def _run_command(self, command: Command) -> None:
        self.broadcasting = True
        try:
            self._run_queued(command)
        finally:
            self.broadcasting = False

    def stop_broadcast(self) -> None:
        """switch_channel_stop_broadcast: break what a broadcast plays.

        Nothing happens when no broadcast runs, so a bridge or a playback
        of the channel's own is left alone.
        """
        if self.broadcasting:
            self.request_break()

    def _run_queued(self, command: Command) -> None:
        if command.app:
            if command.loops != 1:
                self.set_variable("current_loop", "1")
                self.set_variable("total_loops", str(command.loops))
            elif any(k == "event-lock" for k, _ in command.headers):
                self.set_variable("current_loop", "1")
                self.set_variable("total_loops", "1")
            partner = self.partner if command.hold_partner else None
            if partner is not None:
                # switch_channel_get_hold_music_partner first, then our own.
                holder = partner if partner.get_variable("hold_music") else self
                self.switch.play_hold_music(holder, partner)
            self.switch.run_app(self, command.app, command.arg, command.app_uuid)
            if partner is not None:
                partner.stop_broadcast()
            self.set_variable("current_loop", None)
            self.set_variable("total_loops", None)
        self._fire_private_command(command)
        if command.hangup_after and not self.hungup:
            self.hangup("NORMAL_CLEARING")

    def _fire_private_command(self, command: Command) -> None:
        """PRIVATE_COMMAND: the original COMMAND headers come first."""
        switch = self.switch
        sequence = command.sequence or switch.next_sequence()
        lead: hdr.Headers = list(
            core_headers(
                "COMMAND",
                switch.identity,
                sequence,
                self.now_us(),
                hdr.SITES["COMMAND"],
            )
        )
        lead += command.headers
        event = hdr.channel_event(self, "PRIVATE_COMMAND", lead=lead)
        switch.fire(event)

    # ------------------------------------------------------------- transfer

    def step_profile(self) -> CallerProfile:
        """switch_channel_step_caller_profile: a new profile, index + 1.

        Returns the previous profile.
        """
        old = self.profile
        profile = old.clone()
        profile.profile_index = old.profile_index + 1
        profile.times = dict(old.times)
        profile.times["profile_created"] = self.now_us()
        self.profile = profile
        return old

    def transfer(
        self, destination: str, dialplan: str = "XML", context: str | None = None
    ) -> None:
        """switch_ivr_session_transfer: a new caller profile, then CS_ROUTING."""
        if self.hungup:
            return
        old = self.profile
        context = context or old.context
        now = self.now_us()
        profile = old.clone()
        profile.profile_index = old.profile_index + 1
        profile.destination_number = destination
        profile.dialplan = dialplan or "XML"
        profile.context = context
        profile.rdnis = old.destination_number
        profile.transfer_source = (
            f"{now // 1_000_000}:{self.switch.new_uuid()}:bl_xfer:"
            f"{destination}/{context}/{profile.dialplan}"
        )
        profile.times = dict(old.times)
        profile.times["profile_created"] = now
        # The transferred profile starts unbridged.
        profile.times["bridged"] = 0
        old.times["transferred"] = now
        self.profile = profile
        self.set_variable("transfer_source", profile.transfer_source)
        self.push_variable("transfer_history", profile.transfer_source)
        forwards = self.get_variable("max_forwards")
        if forwards and forwards.isdigit():
            self.set_variable("max_forwards", str(max(int(forwards) - 1, 0)))
        self.other_type = None
        self.other_profile = None
        self.hit_dialplan = True
        self._pending_routing = True
        self.state_number = STATE_NUMBERS[CS_ROUTING]
        self.poke()
        if self.partner is not None:
            self.partner.poke()
        log.debug(
            "channel %s transfer to %s %s %s", self.uuid, destination, dialplan, context
        )

    # -------------------------------------------------------------- routing

    def route_loop(self) -> None:
        """The session driver of a channel that runs a dialplan."""
        while not self.hungup:
            if self._pending_routing or self.state in (CS_INIT, CS_NEW):
                self.enter_routing()
                self.switch.route(self)
                continue
            if self._pending_bridge is not None:
                self._run_uuid_bridge()
                continue
            if self._pending_driver is not None:
                driver, self._pending_driver = self._pending_driver, None
                driver()
                continue
            if self._commands:
                self.run_commands()
                continue
            return

    # --------------------------------------------------------------- bridges

    def request_uuid_bridge(self, other: Channel, role: str) -> None:
        """uuid_bridge: leave the current application and bridge to ``other``.

        ``role`` is ``originator`` for the first uuid of the command (its
        CHANNEL_BRIDGE is the one fired) and ``originatee`` for the second.
        """
        self._pending_bridge = (other, role)
        self.poke()

    def _run_uuid_bridge(self) -> None:
        assert self._pending_bridge is not None
        other, role = self._pending_bridge
        self._enter(CS_HIBERNATE)
        self._enter(CS_RESET)
        self._pending_bridge = None
        self.uuid_bridged = True
        self.set_variable("uuid_bridge", None)
        self._enter(CS_SOFT_EXECUTE)
        site = "UUID_BRIDGE_EXECUTE_A"
        if role == "originatee":
            site = "UUID_BRIDGE_EXECUTE_B"
            self.set_variable("call_uuid", self.uuid)
        self.fire(
            "CHANNEL_EXECUTE",
            site=site,
            tail=[("Application", "uuid_bridge"), ("Application-Data", other.uuid)],
        )
        if role == "originatee":
            self.set_variable("call_uuid", other.uuid)
        if role == "originatee":
            self._enter(CS_CONSUME_MEDIA)
            # Out of any bridge it was in: that bridge's end is not ours.
            self._bridge_token = None
            self.partner = other
            other.poke()
            self._wait(None, lambda: self.hungup or other._bridge_active)
            if self.hungup:
                self._abandon_bridge(other)
                return
            self._enter(CS_EXCHANGE_MEDIA)
            call_update(self, other)
            self.bridge_wait()
            if other.hungup:
                self.bridge_hangup_cause = other.hangup_cause or "NORMAL_CLEARING"
            return
        # The second leg has joined once it names us as its partner and has
        # left any bridge it was in (a partner left over from an old bridge
        # of the two, as after att_xfer, does not count).
        self._wait(
            None,
            lambda: (
                self.hungup
                or other.hungup
                or (other.partner is self and other._bridge_token is None)
            ),
        )
        if self.hungup or other.hungup:
            return
        bridge_channels(self, other)
        # sofia sends CALL_UPDATE from the session's own loop, a moment after
        # the bridge: threads waiting for the bridge (mod_callcenter's) go first.
        gevent.sleep(0)
        if self._bridge_active:
            # (The other leg may have hung up meanwhile.)
            call_update(self, other)
            self.bridge_wait()
        leave_bridge(self, other)
        self.set_variable(
            "bridge_hangup_cause", other.hangup_cause or "NORMAL_CLEARING"
        )
        # The bridge's signal bond stays on a leg that hung up.
        for leg in (self, other):
            if not leg.hungup:
                leg.set_variable("signal_bond", None)
        unbridge_channels(self, other)

    def _abandon_bridge(self, other: Channel) -> None:
        """Hung up before joining the bridge: the other side stops waiting."""
        if other._bridge_active:
            other._bridge_active = False
            other.request_break()

    def _shares_bridge(self, other: Channel) -> bool:
        """Still in the same bridge (not moved on by uuid_bridge)."""
        return (
            other._bridge_active
            and self._bridge_token is not None
            and other._bridge_token is self._bridge_token
        )

    def bridge_wait(self) -> None:
        """Stay bridged until either side leaves (hangup, transfer ...)."""
        self._bridge_active = True
        self._wait(None, lambda: self.interrupted or not self._bridge_active)
        ended_here = self._bridge_active
        self._bridge_active = False
        partner = self.partner
        if partner is not None and self._shares_bridge(partner):
            partner._bridge_active = False
            # Whatever the other leg plays (hold music) ends with the bridge.
            partner.request_break()
        if not ended_here:
            # The other side left first: this leg is out of the bridge.
            self.set_variable("bridge_to", None)
            # A leg that hung up keeps the bridge's signal bond.
            if self.uuid_bridged and not self.hungup:
                self.set_variable("signal_bond", None)

    # ------------------------------------------------------------------ hold

    def mark_hold(self, on: bool) -> None:
        """switch_channel_mark_hold: callstate HELD/UNHELD + CHANNEL_(UN)HOLD."""
        if on == self.held:
            return
        self.held = on
        now = self.now_us()
        times = self.profile.times
        if on:
            times["last_hold"] = now
            self.hold_record.append([now, 0])
            # The core db's application column of the held leg is emptied
            # and only refilled by the next application.
            self.listed_app = ("", "")
            # The phone said a=sendonly; FreeSWITCH answered a=recvonly.
            self.set_variable("remote_audio_media_flow", "sendonly")
            self.set_variable("audio_media_flow", "recvonly")
            self.set_callstate("HELD")
            self.fire("CHANNEL_HOLD")
        else:
            if times.get("last_hold"):
                times["hold_accum"] = (
                    times.get("hold_accum", 0) + now - times["last_hold"]
                )
            if self.hold_record:
                self.hold_record[-1][1] = now
            self.set_variable("remote_audio_media_flow", "sendrecv")
            self.set_variable("audio_media_flow", "sendrecv")
            self.set_callstate("UNHELD")
            self.fire("CHANNEL_UNHOLD", site="CHANNEL_UNHOLD")


def _split_hook(value: str) -> tuple[str, str, bool]:
    """switch_channel_execute_on_value: (app, args, queued).

    The application name ends at a space or a single ``:``; ``app::args``
    is run asynchronously (queued on the session).
    """
    for index, char in enumerate(value):
        if char == " " or (char == ":" and value[index + 1 : index + 2] != ":"):
            return value[:index], value[index + 1 :], False
        if char == ":":
            app, _, arg = value.partition("::")
            return app, arg, True
    return value, "", False


def bridge_channels(a: Channel, b: Channel) -> None:
    """The CHANNEL_BRIDGE of switch_ivr_multi_threaded_bridge (A side)."""
    now = a.now_us()
    a.partner = b
    b.partner = a
    a.profile.times["bridged"] = now
    b.profile.times["bridged"] = now
    if a.other_type != "originatee" or a.other_profile is None:
        # uuid_bridge has set the originatee profile already.
        a.other_type = "originatee"
        a.other_profile = b.profile.clone(index=False)
        a.other_profile.logical_direction = "inbound"
    a.set_variable("signal_bond", b.uuid)
    token = object()
    a._bridge_token = token
    b._bridge_token = token
    a.fire(
        "CHANNEL_BRIDGE",
        lead=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)],
    )
    for leg, other in ((a, b), (b, a)):
        leg.set_variable("bridge_to", other.uuid)
        leg.set_variable("last_bridge_to", other.uuid)
        leg.set_variable("bridge_channel", other.name)
        leg.set_variable("bridge_uuid", other.uuid)
        leg.set_variable("signal_bond", other.uuid)
    a._bridge_active = True
    b.poke()


def leave_bridge(a: Channel, b: Channel) -> None:
    """The A side's bridge loop ended: a hangup is passed on to B.

    B's own thread then runs its hangup states while A unbridges.
    """
    if a.hungup and not b.hungup:
        b.set_variable("bridge_to", None)
        b.hangup("NORMAL_CLEARING")
    gevent.sleep(0)


def unbridge_channels(a: Channel, b: Channel) -> None:
    """CHANNEL_UNBRIDGE on the A side once the bridge is over.

    A B leg that uuid_bridge has meanwhile put in another bridge keeps that
    bridge: the old one's teardown is about this pair only.
    """
    token = a._bridge_token
    still_ours = token is not None and b._bridge_token is token
    a.set_variable("bridge_to", None)
    if still_ours:
        b.set_variable("bridge_to", None)
    a.fire(
        "CHANNEL_UNBRIDGE",
        lead=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)],
    )
    a.partner = None
    a._bridge_active = False
    a._bridge_token = None
    if not still_ours:
        return
    b.partner = None
    b._bridge_token = None
    # Out of the bridge, the B leg's call is its own again.
    b.set_variable("call_uuid", b.uuid)
    b._bridge_active = False
    b.poke()


def call_update(channel: Channel, other: Channel) -> None:
    """CALL_UPDATE of sofia telling the phone who it now talks to."""
    name = other.profile.caller_id_name
    number = other.profile.caller_id_number
    if channel.direction == "inbound":
        name = other.profile.callee_id_name or name
        number = other.profile.callee_id_number or number
    if channel.sip is not None:
        channel.sip.on_call_update(channel)
    channel.set_variable("last_sent_callee_id_name", name)
    channel.set_variable("last_sent_callee_id_number", number)
    channel.fire(
        "CALL_UPDATE",
        lead=[
            ("Direction", "SEND"),
            ("Sent-Callee-ID-Name", name),
            ("Sent-Callee-ID-Number", number),
            ("Bridged-To", other.uuid),
        ],
    )


def _stamp(usec: int) -> str:
    """FreeSWITCH's ``%Y-%m-%d %T`` in local time (the switch runs in UTC)."""
    moment = dt.datetime.fromtimestamp(usec / 1_000_000, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _billing(times: dict[str, int]) -> dict[str, str]:
    """duration, billsec ... as switch_channel_set_timestamps computes them."""
    created = times.get("created", 0)
    hungup = times.get("hungup", 0)
    answered = times.get("answered", 0)
    bridged = times.get("bridged", 0)
    progress = times.get("progress", 0)
    media = times.get("progress_media", 0)

    def sec(usec: int) -> int:
        return usec // 1_000_000

    def msec(usec: int) -> int:
        return usec // 1000

    out: dict[str, int] = {
        "duration": sec(hungup) - sec(created),
        "billsec": 0,
        "progresssec": 0,
        "answersec": 0,
        "waitsec": 0,
        "progress_mediasec": 0,
        "flow_billsec": 0,
        "mduration": msec(hungup) - msec(created),
        "billmsec": 0,
        "progressmsec": 0,
        "answermsec": 0,
        "waitmsec": 0,
        "progress_mediamsec": 0,
        "flow_billmsec": 0,
        "uduration": hungup - created,
        "billusec": 0,
        "progressusec": 0,
        "answerusec": 0,
        "waitusec": 0,
        "progress_mediausec": 0,
        "flow_billusec": 0,
    }
    if bridged > created:
        out["waitsec"] = sec(bridged) - sec(created)
        out["waitmsec"] = msec(bridged) - msec(created)
        out["waitusec"] = bridged - created
    if answered:
        out["billsec"] = sec(hungup) - sec(answered)
        out["billmsec"] = msec(hungup) - msec(answered)
        out["billusec"] = hungup - answered
        out["flow_billsec"] = sec(hungup) - sec(created)
        out["flow_billmsec"] = msec(hungup) - msec(created)
        out["flow_billusec"] = hungup - created
        out["answersec"] = sec(answered) - sec(created)
        out["answermsec"] = msec(answered) - msec(created)
        out["answerusec"] = answered - created
    if progress:
        out["progresssec"] = sec(progress) - sec(created)
        out["progressmsec"] = msec(progress) - msec(created)
        out["progressusec"] = progress - created
    if media:
        out["progress_mediasec"] = sec(media) - sec(created)
        out["progress_mediamsec"] = msec(media) - msec(created)
        out["progress_mediausec"] = media - created
    return {name: str(value) for name, value in out.items()}
