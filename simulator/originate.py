"""Dial strings and the legs they make, as FreeSWITCH's originate does.

Grammar (switch_ivr_originate): ``{a=b,c=d}`` variables for every leg
(``{^^:a=b:c=d}`` picks another separator), ``[x=y]`` variables for the one
leg that follows, ``,`` rings legs at once, ``|`` tries the groups one after
the other (failover), ``:_:`` enterprise originate (tried like ``|`` here:
see docs/simulator.md).

Time limits: ``leg_timeout`` is a leg's own (hung up ALLOTTED_TIMEOUT; the
failover goes on). Each ``|`` group may ring for ``originate_timeout`` of the
dial string, else the caller's ``call_timeout``, else the timeout given, else
60 s; when that runs out what still rings is hung up NO_ANSWER and the
failover stops, unless ``originate_continue_on_timeout`` is true (also taken
from the calling channel). A dial string of one ``user/`` leg alone is rung
by the user endpoint's own originate, whose limit is ``originate_timeout``,
``call_timeout`` or the ``leg_timeout`` (NO_ANSWER, as capture 04 shows).
Values may be quoted with ``'...'``; ``\\,`` escapes a comma.

Endpoints:

- ``user/<id>[@domain]``: a directory lookup over xml_curl with
  ``action=user_call``, then the user's ``dial-string`` (variables expanded,
  ``${sofia_contact(...)}`` run as an api command). Not registered ->
  ``USER_NOT_REGISTERED`` without a B leg; unknown user ->
  ``SUBSCRIBER_ABSENT``.
- ``sofia/gateway/<gw>/<number>``: a party behind a trunk; the gateway's
  ``Behaviour`` for that number decides what happens.
- ``sofia/<profile>/<user>@<host>[:port]`` and ``sofia/<profile>/sip:...``:
  a phone by its contact (a registered phone with that address), otherwise
  nobody answers (RECOVERY_ON_TIMER_EXPIRE after 32 s, or leg_timeout).
- ``loopback/<ext>[/<context>[/<dialplan>]]``: two loopback legs; the -b leg
  is routed in the context and the -a leg is the B leg of the originate.
- ``error/<cause>``: fails at once with that cause.
- ``pickup/<key>``: a leg that rings nobody and waits in the pickup group
  ``<key>`` (``simulator.pickup``) until a channel runs ``pickup <key>``;
  that channel (the picker) then takes the leg's place and is bridged.
  Pickup legs without a ``leg_timeout`` give up (NO_PICKUP) once every
  other leg of their group has failed.

Variables honoured: ``leg_timeout``, ``leg_delay_start``, ``originate_timeout``,
``call_timeout``, ``forked_dial``, ``ignore_early_media``, ``origination_caller_id_name/number``,
``origination_uuid``, ``effective_caller_id_name/number``,
``originate_continue_on_timeout``, ``sip_h_*`` (recorded on the leg; a
sofia leg also takes the calling leg's ``sip_h_*`` first, as mod_sofia does),
``hangup_after_bridge``, ``continue_on_fail``, ``park_after_bridge``,
``transfer_after_bridge``.

Public interface:

- ``parse_dial_string(text) -> DialString`` (``DialStringError``).
- ``originate(switch, dial_string, *, a_leg=None, timeout=None,
  variables=None) -> OriginateResult``: the answered B channel, or the
  cause and the per-leg causes. The B channel is left waiting: hand it a
  driver (``channel.set_driver``) or bridge it.
- ``bridge_app(a_leg, dial_string) -> bool``: the body of the ``bridge``
  application (call it inside ``a_leg.execute("bridge", data)``):
  originate, answer the A leg, CHANNEL_BRIDGE, wait, and the A-leg
  variables (DIALSTATUS, originate_disposition, bridge_hangup_cause,
  last_bridge_* ...). Returns True when the A leg should run on to the next
  dialplan action (bridge ended with the A leg up and no
  hangup_after_bridge, or failed with continue_on_fail).
- ``bridge_in_execute(a_leg, data)``: the same wrapped in
  CHANNEL_EXECUTE(_COMPLETE), hanging up the A leg when it must not go on.
- ``expand(text, lookup, switch)``: ``${var}`` / ``${api(args)}`` expansion.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent

from simulator.channel import (
    CS_CONSUME_MEDIA,
    CS_EXCHANGE_MEDIA,
    CS_EXECUTE,
    CS_HIBERNATE,
    CS_INIT,
    CS_NONE,
    CS_ROUTING,
    STATE_NUMBERS,
    CallerProfile,
    Channel,
    bridge_channels,
    call_update,
    leave_bridge,
    str2cause,
    unbridge_channels,
)
from simulator.endpoints import SIP_CAUSES, Behaviour, Phone, SipLeg
from simulator.pickup import PickupEntry

if TYPE_CHECKING:
    from simulator.switch import Switch

log = logging.getLogger(__name__)

# How long FreeSWITCH waits for an answer when nothing says otherwise.
DEFAULT_ORIGINATE_TIMEOUT = 60.0

# SIP timer B: an INVITE nobody answers fails after 32 s.
TIMER_B = 32.0


class DialStringError(ValueError):
    """A dial string FreeSWITCH would refuse to parse."""


@dataclass
class DialLeg:
    """One endpoint of a dial string with its own variables."""

    target: str
    variables: dict[str, str] = field(default_factory=dict)


@dataclass
class DialString:
    """Parsed dial string: global variables and failover groups of legs."""

    variables: dict[str, str]
    groups: list[list[DialLeg]]


@dataclass
class OriginateResult:
    """What an originate ended with."""

    channel: Channel | None
    cause: str
    causes: list[tuple[str, str]] = field(default_factory=list)
    refused: Channel | None = None
    # The group's originate timeout ran out (not only its legs' own).
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.channel is not None


# ----------------------------------------------------------------- parsing


def _split_top(text: str, separator: str) -> list[str]:
    """Split on a separator outside {} [] and quotes; keep escapes."""
    parts: list[str] = []
    depth = 0
    quote = False
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index : index + 2])
            index += 2
            continue
        if char == "'":
            quote = not quote
        elif not quote and char in "{[<":
            depth += 1
        elif not quote and char in "}]>":
            depth -= 1
        if not quote and depth == 0 and text.startswith(separator, index):
            parts.append("".join(current))
            current = []
            index += len(separator)
            continue
        current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _parse_vars(body: str) -> dict[str, str]:
    """``a=b,c=d`` (or ``^^:a=b:c=d``) into a dict, quotes removed."""
    separator = ","
    if body.startswith("^^") and len(body) > 2:
        separator = body[2]
        body = body[3:]
    out: dict[str, str] = {}
    for item in _split_top(body, separator):
        if not item.strip():
            continue
        name, equals, value = item.partition("=")
        if not equals:
            raise DialStringError(f"variable without a value: {item!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        out[name.strip()] = value.replace("\\,", ",")
    return out


def _take_block(text: str, open_: str, close: str) -> tuple[str | None, str]:
    """A leading ``{...}``/``[...]`` block and the rest of the text."""
    text = text.lstrip()
    if not text.startswith(open_):
        return None, text
    depth = 0
    quote = False
    for index, char in enumerate(text):
        if char == "'":
            quote = not quote
        elif not quote and char == open_:
            depth += 1
        elif not quote and char == close:
            depth -= 1
            if depth == 0:
                return text[1:index], text[index + 1 :]
    raise DialStringError(f"unterminated {open_} in dial string")


def parse_dial_string(text: str) -> DialString:
    """Parse a dial string as switch_ivr_originate does."""
    text = text.strip()
    if not text:
        raise DialStringError("empty dial string")
    global_vars: dict[str, str] = {}
    while True:
        block, rest = _take_block(text, "{", "}")
        if block is None:
            break
        global_vars.update(_parse_vars(block))
        text = rest
    groups: list[list[DialLeg]] = []
    for enterprise in _split_top(text, ":_:"):
        for group_text in _split_top(enterprise, "|"):
            legs = []
            for leg_text in _split_top(group_text, ","):
                leg_vars: dict[str, str] = {}
                rest = leg_text.strip()
                while True:
                    block, rest = _take_block(rest, "[", "]")
                    if block is None:
                        break
                    leg_vars.update(_parse_vars(block))
                block, rest = _take_block(rest, "{", "}")
                if block is not None:
                    leg_vars.update(_parse_vars(block))
                target = rest.strip()
                if not target:
                    raise DialStringError(f"empty endpoint in {leg_text!r}")
                legs.append(DialLeg(target, leg_vars))
            groups.append(legs)
    return DialString(global_vars, groups)


# --------------------------------------------------------------- expansion

_VAR = re.compile(r"\$\{([^{}]+)\}")


def expand(text: str, lookup: Callable[[str], str | None], switch: Switch) -> str:
    """Expand ``${var}`` and ``${api(args)}`` (innermost first)."""
    for _ in range(20):
        match = _VAR.search(text)
        if match is None:
            break
        inner = match.group(1)
        call = re.fullmatch(r"([\w.-]+)\((.*)\)", inner, re.S)
        if call:
            value = switch.api(call.group(1), call.group(2))
        else:
            value = lookup(inner) or ""
        text = text[: match.start()] + value + text[match.end() :]
    return text


# ----------------------------------------------------------------- targets


@dataclass
class LegPlan:
    """A resolved endpoint: how to make its channel and who answers it."""

    name: str
    profile: str
    remote_user: str
    remote_host: str
    remote_port: int
    destination: str
    behaviour: Behaviour | None
    variables: dict[str, str]
    endpoint: object = None
    dialed: tuple[str, str] | None = None
    directory_variables: dict[str, str] = field(default_factory=dict)
    loopback: tuple[str, str, str] | None = None
    pickup: PickupWait | None = None


class LegFailed(Exception):
    """An endpoint that fails before any channel is made."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def error_cause(text: str) -> str:
    """The ``error/<cause>`` endpoint of mod_dptools: str2cause, NONE made
    DESTINATION_OUT_OF_ORDER (an unknown name is NORMAL_CLEARING)."""
    cause = str2cause(text)
    return "DESTINATION_OUT_OF_ORDER" if cause == "NONE" else cause


def resolve(
    switch: Switch, target: str, variables: dict[str, str], a_leg: Channel | None
) -> LegPlan:
    """Turn one dial-string target into a plan (or raise LegFailed)."""
    if target.startswith("error/"):
        raise LegFailed(error_cause(target[len("error/") :]))
    if target.startswith("user/"):
        return _resolve_user(switch, target[len("user/") :], variables, a_leg)
    if target.startswith("sofia/gateway/"):
        return _resolve_gateway(switch, target, variables)
    if target.startswith("sofia/"):
        return _resolve_sofia(switch, target, variables)
    if target.startswith("loopback/"):
        return _resolve_loopback(switch, target, variables)
    if target.startswith("pickup/"):
        return _resolve_pickup(target, variables)
    raise LegFailed("CHAN_NOT_IMPLEMENTED")


def _resolve_user(
    switch: Switch, spec: str, variables: dict[str, str], a_leg: Channel | None
) -> LegPlan:
    user_id, _, domain = spec.partition("@")
    domain = domain or switch.domain
    params = [("as_channel", "true"), ("action", "user_call")]
    params += [(k, v) for k, v in variables.items()]
    found = switch.lookup_user(
        user_id, domain, "", params=params, site="REQUEST_PARAMS_USER_CALL"
    )
    if a_leg is not None:
        a_leg.set_variable("dialed_user", user_id)
        a_leg.set_variable("dialed_domain", domain)
    if found is None:
        raise LegFailed("SUBSCRIBER_ABSENT")
    dial_string = found.dial_string
    if not dial_string:
        raise LegFailed("DESTINATION_OUT_OF_ORDER")
    lookup_vars = {"dialed_user": user_id, "dialed_domain": domain}
    lookup_vars.update(found.variables)

    def lookup(name: str) -> str | None:
        if name in lookup_vars:
            return lookup_vars[name]
        if a_leg is not None:
            value = a_leg.get_variable(name)
            if value is not None:
                return value
        return switch.global_vars.get(name)

    expanded = expand(dial_string, lookup, switch)
    parsed = parse_dial_string(expanded)
    if not parsed.groups or not parsed.groups[0]:
        raise LegFailed("DESTINATION_OUT_OF_ORDER")
    inner = parsed.groups[0][0]
    leg_vars = dict(variables)
    leg_vars["dialed_user"] = user_id
    leg_vars["dialed_domain"] = domain
    leg_vars.update(parsed.variables)
    leg_vars.update(inner.variables)
    if inner.target.startswith("error/"):
        raise LegFailed(error_cause(inner.target[len("error/") :]))
    plan = resolve(switch, inner.target, leg_vars, a_leg)
    plan.dialed = (user_id, domain)
    plan.directory_variables = dict(found.variables)
    return plan


def _resolve_gateway(switch: Switch, target: str, variables: dict[str, str]) -> LegPlan:
    rest = target[len("sofia/gateway/") :]
    name, _, number = rest.partition("/")
    gateway = switch.endpoints.gateway(name)
    if gateway is None or not number:
        raise LegFailed("DESTINATION_OUT_OF_ORDER")
    number = number.split("@", 1)[0]
    return LegPlan(
        name=f"sofia/gateway/{name}/{number}",
        profile="external",
        remote_user=number,
        remote_host=gateway.host,
        remote_port=gateway.port,
        destination=number,
        behaviour=gateway.behaviour_for(number),
        variables=dict(variables),
        endpoint=gateway,
    )


def _resolve_sofia(switch: Switch, target: str, variables: dict[str, str]) -> LegPlan:
    parts = target.split("/", 2)
    if len(parts) < 3 or parts[1] not in switch.profiles:
        raise LegFailed("DESTINATION_OUT_OF_ORDER")
    profile = parts[1]
    uri = parts[2]
    if uri.startswith("sip:"):
        uri = uri[4:]
    uri = uri.split(";", 1)[0]
    user, _, hostport = uri.partition("@")
    host, _, port_text = hostport.partition(":")
    port = int(port_text) if port_text.isdigit() else 5060
    phone = _phone_at(switch, host, port, user)
    behaviour = phone.current_behaviour() if phone is not None else None
    return LegPlan(
        name=f"sofia/{profile}/{user}@{host}:{port}"
        if port_text
        else f"sofia/{profile}/{user}@{host}",
        profile=profile,
        remote_user=user,
        remote_host=host or switch.profiles[profile].ip,
        remote_port=port,
        destination=user,
        behaviour=behaviour,
        variables=dict(variables),
        endpoint=phone,
    )


def _phone_at(switch: Switch, host: str, port: int, user: str) -> Phone | None:
    for registration in switch.endpoints.registrations.values():
        phone = registration.phone
        if phone.host == host and phone.port == port:
            return phone
    for phone in switch.endpoints.phones.values():
        if phone.user_id == user and phone.host == host and phone.port == port:
            return None  # known but not registered: nobody listens there
    return None


def _resolve_loopback(
    switch: Switch, target: str, variables: dict[str, str]
) -> LegPlan:
    parts = target.split("/")
    if len(parts) < 2 or not parts[1]:
        raise LegFailed("DESTINATION_OUT_OF_ORDER")
    extension = parts[1]
    context = parts[2] if len(parts) > 2 and parts[2] else "default"
    dialplan = parts[3] if len(parts) > 3 and parts[3] else "XML"
    return LegPlan(
        name=f"loopback/{extension}-a",
        profile="",
        remote_user=extension,
        remote_host="",
        remote_port=0,
        destination=extension,
        behaviour=None,
        variables=dict(variables),
        loopback=(extension, context, dialplan),
    )


def _resolve_pickup(target: str, variables: dict[str, str]) -> LegPlan:
    key = target[len("pickup/") :]
    if not key:
        raise LegFailed("DESTINATION_OUT_OF_ORDER")
    # What the picker is given: the leg's variables, presence_id taken out.
    handed = {k: v for k, v in variables.items() if k != "presence_id"}
    return LegPlan(
        name=f"pickup/{key}",
        profile="",
        remote_user=key,
        remote_host="",
        remote_port=0,
        destination=key,
        behaviour=None,
        variables=dict(variables),
        pickup=PickupWait(key, handed),
    )


@dataclass
class PickupWait:
    """A ``pickup/<key>`` leg waiting in its group (mod_dptools' pickup
    endpoint) and, once a ``pickup <key>`` took it, the picking channel."""

    key: str
    variables: dict[str, str]
    channel: Channel | None = None
    picker: Channel | None = None
    swapped: bool = False

    def take(self, picker: Channel) -> None:
        """pickup_function, in the picker's own session."""
        leg = self.channel
        if leg is None or leg.hungup:
            return
        for name, value in self.variables.items():
            picker.set_variable(name, value)
        # The picker now shows the caller; whom it was calling as itself.
        profile = picker.profile
        profile.callee_id_name = profile.caller_id_name
        profile.callee_id_number = profile.caller_id_number
        profile.caller_id_name = leg.profile.caller_id_name
        profile.caller_id_number = leg.profile.caller_id_number
        lead = [("Direction", "RECV")]
        if picker.partner is not None:
            lead.append(("Bridged-To", picker.partner.uuid))
        picker.fire("CALL_UPDATE", lead=lead, site="CALL_UPDATE_PICKUP")
        picker._driver = None
        picker._driver_ready.clear()
        picker.hand_over(lambda: _picker_waits(picker))
        self.picker = picker
        log.debug("channel %s picks up %s (%s)", picker.uuid, leg.uuid, self.key)
        # Answering the waiting leg is what the originate notices.
        leg.mark_answered()


def _picker_waits(picker: Channel) -> None:
    """The picker in CS_HIBERNATE until the originate gives it the call."""
    picker._enter(CS_HIBERNATE)
    picker._wait(None, lambda: picker.hungup or picker._driver_ready.is_set())
    driver, picker._driver = picker._driver, None
    if driver is not None and not picker.hungup:
        driver()


def _pickup_far_end(switch: Switch, attempt: _Attempt) -> None:
    """Nobody rings: the leg waits to be picked up; it leaves the group when
    it goes (and a picker left behind by a failed originate is let go)."""
    wait = attempt.plan.pickup
    assert wait is not None
    channel = attempt.channel
    try:
        channel.wait_hangup()
    finally:
        switch.pickups.remove(wait.key, channel.uuid)
        picker = wait.picker
        if picker is not None and not wait.swapped and not picker.hungup:
            picker.hangup("PICKED_OFF")


def _swap_in_picker(attempt: _Attempt, a_leg: Channel | None) -> Channel:
    """The picked-up leg makes way for the picker (check_channel_status)."""
    wait = attempt.plan.pickup
    assert wait is not None and wait.picker is not None
    picker = wait.picker
    wait.swapped = True
    attempt.channel.hangup("PICKED_OFF")
    if a_leg is not None:
        picker.other_type = "originator"
        picker.other_profile = a_leg.profile.clone(keep_times=False, index=False)
    picker.answer()
    picker.set_variable("picked_up_uuid", attempt.channel.uuid)
    picker.execute_on("execute_on_pickup")
    picker.api_on("api_on_pickup")
    return picker


# --------------------------------------------------------------- originate


class _Attempt:
    """One B leg being rung."""

    def __init__(self, channel: Channel, plan: LegPlan, timeout: float | None) -> None:
        self.channel = channel
        self.plan = plan
        # leg_timeout: seconds after the group started (None: no limit).
        self.timeout = timeout
        self.far_end: gevent.Greenlet | None = None
        self.loop_b: Channel | None = None
        # leg_delay_start: seconds before the far end is called at all.
        self.delay = 0.0

    @property
    def pending(self) -> bool:
        return self.delay > 0 and self.far_end is None


# Variables of the calling channel an originate takes over when the dial
# string does not set them (switch_ivr_originate copies these).
_FROM_CALLER = (
    "originate_continue_on_timeout",
    "forked_dial",
    "ignore_early_media",
    "bridge_early_media",
    "progress_timeout",
)


def _seconds(value: str | None) -> int:
    """atoi of a timeout variable."""
    match = re.match(r"\s*([+-]?\d+)", value or "")
    return int(match.group(1)) if match else 0


def group_timeout(
    variables: dict[str, str], a_leg: Channel | None, timeout: float | None
) -> float:
    """How long one ``|`` group may ring (switch_ivr_originate's timelimit):
    ``originate_timeout`` of the dial string, else the caller's
    ``call_timeout``, else the given timeout, else 60 s."""
    seconds = _seconds(variables.get("originate_timeout"))
    if seconds > 0:
        return float(seconds)
    limit = int(timeout or 0)
    if a_leg is not None and a_leg.get_variable("call_timeout") is not None:
        limit = _seconds(a_leg.get_variable("call_timeout"))
    return float(limit) if limit > 0 else DEFAULT_ORIGINATE_TIMEOUT


def originate(
    switch: Switch,
    dial_string: str,
    *,
    a_leg: Channel | None = None,
    timeout: float | None = None,
    variables: dict[str, str] | None = None,
) -> OriginateResult:
    """Ring the dial string's legs; the first to answer wins."""
    parsed = parse_dial_string(dial_string)
    base: dict[str, str] = {}
    if a_leg is not None:
        base.update(a_leg.exported_variables())
    base.update(variables or {})
    base.update(parsed.variables)
    if a_leg is not None:
        for name in _FROM_CALLER:
            value = a_leg.get_variable(name)
            if value is not None and name not in base:
                base[name] = value
        a_leg.set_variable("originate_disposition", "failure")
        a_leg.set_variable("DIALSTATUS", "INVALIDARGS")
    overall = group_timeout(base, a_leg, timeout)
    # One user/ leg alone is rung by the user endpoint's own, blocking
    # originate; a fork (several legs or groups) rings its sofia legs here.
    forked = len(parsed.groups) > 1 or len(parsed.groups[0]) > 1
    forked = forked or _true(base.get("forked_dial"))
    causes: list[tuple[str, str]] = []
    last_cause = "NO_ANSWER"
    refused: Channel | None = None
    for group in parsed.groups:
        result = _ring_group(switch, group, base, a_leg, overall, causes, forked)
        if result.ok:
            return OriginateResult(result.channel, "SUCCESS", causes)
        last_cause = result.cause
        refused = result.refused
        if a_leg is not None and a_leg.interrupted:
            return OriginateResult(None, "ORIGINATOR_CANCEL", causes)
        if result.timed_out and not _true(base.get("originate_continue_on_timeout")):
            # The group's originate timeout ends the failover list, unless
            # told otherwise. Legs that ran out of their own leg_timeout
            # (ALLOTTED_TIMEOUT) do not: the next group is rung.
            break
    return OriginateResult(None, last_cause, causes, refused)


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "yes", "on", "1")


def _ring_group(
    switch: Switch,
    group: list[DialLeg],
    base: dict[str, str],
    a_leg: Channel | None,
    overall: float,
    causes: list[tuple[str, str]],
    forked: bool = True,
) -> OriginateResult:
    attempts: list[_Attempt] = []
    failures: list[str] = []
    for leg in group:
        leg_vars = dict(base)
        leg_vars.update(leg.variables)
        try:
            plan = resolve(switch, leg.target, leg_vars, a_leg)
        except LegFailed as failed:
            log.debug("originate %s failed at once: %s", leg.target, failed.cause)
            failures.append(failed.cause)
            continue
        if not forked and leg.target.startswith("user/"):
            overall = _user_timeout(plan.variables, a_leg)
        channel = _make_leg(switch, plan, a_leg)
        attempt = _Attempt(channel, plan, _leg_timeout(plan.variables))
        attempts.append(attempt)
        delay = _delay_of(plan.variables)
        if delay:
            # The leg exists at once, but its state machine waits (the INVITE
            # goes out later); FreeSWITCH adds the delay to a leg timeout.
            attempt.delay = delay
            if attempt.timeout is not None:
                attempt.timeout += delay
        else:
            _start_far_end(switch, attempt)
    if not attempts:
        return OriginateResult(
            None, failures[0] if failures else "DESTINATION_OUT_OF_ORDER"
        )
    winner, timed_out = _wait_for_answer(switch, attempts, a_leg, overall)
    for attempt in attempts:
        channel = attempt.channel
        if attempt is winner:
            continue
        if not channel.hungup:
            cause = (
                "ORIGINATOR_CANCEL"
                if a_leg is not None and a_leg.interrupted
                else ("LOSE_RACE" if winner is not None else "NO_ANSWER")
            )
            channel.hangup(cause)
        causes.append((channel.uuid, channel.hangup_cause or "NO_ANSWER"))
        if attempt.far_end is not None:
            attempt.far_end.kill(block=False)
    if winner is not None:
        channel = winner.channel
        if winner.plan.pickup is not None:
            channel = _swap_in_picker(winner, a_leg)
        causes.append((channel.uuid, "NONE"))
        return OriginateResult(channel, "SUCCESS")
    # A group that ran out of time failed with NO_ANSWER, whatever its legs.
    cause = "NO_ANSWER" if timed_out else _group_cause(attempts, failures)
    refused = next(
        (
            a.channel
            for a in attempts
            if a.channel.get_variable("sip_hangup_disposition") == "recv_refuse"
        ),
        None,
    )
    return OriginateResult(None, cause, refused=refused, timed_out=timed_out)


def _user_timeout(variables: dict[str, str], a_leg: Channel | None) -> float:
    """The time limit user_outgoing_channel gives its own originate:
    ``originate_timeout``, else the caller's ``call_timeout``, else the
    leg's ``leg_timeout``, else 60 s."""
    for value in (
        variables.get("originate_timeout"),
        a_leg.get_variable("call_timeout") if a_leg is not None else None,
        variables.get("call_timeout") if a_leg is None else None,
        variables.get("leg_timeout"),
    ):
        if _seconds(value) > 0:
            return float(_seconds(value))
    return DEFAULT_ORIGINATE_TIMEOUT


def _group_cause(attempts: list[_Attempt], failures: list[str]) -> str:
    # switch_ivr_originate reports the first leg's cause, whatever it is (a
    # leg another originate's winner hung up LOSE_RACE fails with that).
    for attempt in attempts:
        if attempt.channel.hangup_cause is not None:
            return attempt.channel.hangup_cause
    return failures[0] if failures else "NO_ANSWER"


def _make_leg(switch: Switch, plan: LegPlan, a_leg: Channel | None) -> Channel:
    """CHANNEL_OUTGOING, CS_INIT, CHANNEL_CREATE, CHANNEL_ORIGINATE, ..."""
    variables = plan.variables
    now = switch.clock.now_us()
    if a_leg is not None:
        # switch_core_session_outgoing_channel: the A leg's effective caller
        # ID (effective_caller_id_*) unless origination_caller_id_* overrides it.
        source = a_leg.profile
        cid_name = (
            variables.get("origination_caller_id_name")
            or a_leg.get_variable("effective_caller_id_name")
            or source.caller_id_name
        )
        cid_number = (
            variables.get("origination_caller_id_number")
            or a_leg.get_variable("effective_caller_id_number")
            or source.caller_id_number
        )
        profile = CallerProfile(
            username=source.username,
            dialplan=source.dialplan,
            caller_id_name=cid_name,
            caller_id_number=cid_number,
            orig_caller_id_name=cid_name,
            orig_caller_id_number=cid_number,
            network_addr=source.network_addr,
            ani=source.ani or cid_number,
            destination_number=plan.destination,
            source=source.source,
            context=source.context,
        )
    else:
        cid_name = variables.get("origination_caller_id_name", "")
        cid_number = variables.get("origination_caller_id_number", "")
        profile = CallerProfile(
            dialplan="",
            caller_id_name=cid_name,
            caller_id_number=cid_number,
            orig_caller_id_name=cid_name,
            orig_caller_id_number=cid_number,
            ani=cid_number,
            destination_number=plan.destination,
            source="src/switch_ivr_originate.c",
            context="default",
        )
    profile.callee_id_name = "Outbound Call"
    profile.callee_id_number = plan.destination
    profile.direction = "outbound"
    profile.logical_direction = "outbound"
    profile.times = {"profile_created": now, "created": now}
    sip = None
    if plan.profile:
        sip = SipLeg(
            switch.profiles[plan.profile],
            remote_user=plan.remote_user,
            remote_host=plan.remote_host,
            remote_port=plan.remote_port,
            call_id=f"{switch.new_uuid()}",
        )
    uuid = variables.get("origination_uuid") or None
    channel = Channel(
        switch,
        name=plan.name,
        direction="outbound",
        profile=profile,
        uuid=uuid,
        sip=sip,
        endpoint=plan.endpoint,
    )
    switch.add_channel(channel)
    channel.directory_variables = dict(plan.directory_variables)
    if a_leg is not None:
        channel.other_type = "originator"
        channel.other_profile = a_leg.profile.clone(keep_times=False, index=False)
    wait = plan.pickup
    if wait is not None:
        # pickup_outgoing_channel: the leg joins its group before the core
        # announces it, has no presence and starts in CS_ROUTING.
        wait.channel = channel
        channel.presence = False
        switch.pickups.add(wait.key, PickupEntry(channel.uuid, wait.take))
    channel.state = CS_NONE
    channel.state_number = STATE_NUMBERS[CS_INIT if wait is None else CS_ROUTING]
    channel.fire("CHANNEL_OUTGOING")
    if sip is not None:
        sip.outbound_create(channel, a_leg, plan.dialed)
        if a_leg is not None:
            _copy_sip_headers(a_leg, channel)
    else:
        channel.set_variable("direction", "outbound")
        channel.set_variable("is_outbound", "true")
        channel.set_variable("uuid", channel.uuid)
        channel.set_variable("session_id", str(switch.next_session_id()))
    for name, value in variables.items():
        if name in ("dialed_user", "dialed_domain") or name.startswith("sip_h_"):
            continue
        channel.set_variable(name, value)
    if plan.dialed is not None:
        channel.set_variable("dialed_user", plan.dialed[0])
        channel.set_variable("dialed_domain", plan.dialed[1])
        for name in ("sip_invite_domain", "presence_id"):
            if name in variables:
                channel.set_variable(name, variables[name])
    for name, value in variables.items():
        if name.startswith("sip_h_"):
            channel.set_variable(name, value)
    # switch_ivr_originate: early media is not passed on when ignored.
    ignore = variables.get("ignore_early_media") or ""
    early_ok = not (
        _true(ignore)
        or ignore in ("consume", "ring_ready")
        or _true(variables.get("bridge_early_media"))
    )
    channel.set_variable("originate_early_media", "true" if early_ok else "false")
    if a_leg is not None:
        channel.set_variable("originating_leg_uuid", a_leg.uuid)
        a_leg.set_variable("originate_signal_bond", channel.uuid)
        a_leg.push_variable(
            "originated_legs",
            f"{channel.uuid};{profile.callee_id_name};{profile.callee_id_number}",
        )
    if wait is not None:
        channel.set_variable("process_cdr", "false")
        channel.set_variable("presence_id", None)
        channel.set_variable("originate_endpoint", "pickup")
    else:
        channel.set_variable("originate_endpoint", "sofia" if sip else "loopback")
        # CS_INIT fires CHANNEL_CREATE (and CHANNEL_ORIGINATE); a pickup leg
        # never passes CS_INIT, so it has neither.
        channel.state = CS_INIT
        channel.state_number = STATE_NUMBERS[CS_INIT]
        channel.fire("CHANNEL_STATE")
        if sip is not None:
            sip.outbound_invite(channel, a_leg)
        channel.state_number = STATE_NUMBERS[CS_ROUTING]
        channel.fire("CHANNEL_CREATE")
        channel.fire("CHANNEL_ORIGINATE")
    channel.state = CS_ROUTING
    channel.fire("CHANNEL_STATE")
    channel.state_number = STATE_NUMBERS[CS_CONSUME_MEDIA]
    channel.presence_event("CS_ROUTING", "progressing")
    channel.state = CS_CONSUME_MEDIA
    channel.fire("CHANNEL_STATE")
    channel.start()
    log.debug("originate leg %s %s", channel.uuid, channel.name)
    return channel


def _start_far_end(switch: Switch, attempt: _Attempt) -> None:
    plan = attempt.plan
    if plan.pickup is not None:
        attempt.far_end = gevent.spawn(_pickup_far_end, switch, attempt)
        return
    if plan.loopback is not None:
        attempt.far_end = gevent.spawn(_loopback_far_end, switch, attempt)
        return
    attempt.far_end = gevent.spawn(_far_end, switch, attempt.channel, plan.behaviour)


def _far_end(switch: Switch, channel: Channel, behaviour: Behaviour | None) -> None:
    """The called party: ring, then answer, refuse or keep ringing."""
    clock = switch.clock
    if behaviour is None:
        clock.sleep(TIMER_B)
        if not channel.hungup:
            channel.hangup("RECOVERY_ON_TIMER_EXPIRE")
        return
    clock.sleep(0.02)
    if channel.hungup:
        return
    if behaviour.ring:
        channel.ring_ready()
    if behaviour.early_media:
        channel.pre_answer_remote()
    if behaviour.reject is not None:
        clock.sleep(behaviour.reject_after)
        if channel.hungup or channel.answered:
            return
        status = behaviour.reject
        if channel.sip is not None:
            channel.sip.remote_refuse(status)
        channel.hangup(SIP_CAUSES.get(status, "NORMAL_TEMPORARY_FAILURE"))
        return
    if behaviour.answer_after is None:
        return
    clock.sleep(behaviour.answer_after)
    if channel.hungup:
        return
    channel.remote_answered()
    if behaviour.on_answer is not None:
        gevent.spawn(_run_party, channel, behaviour.on_answer)


def _run_party(channel: Channel, script: Callable[[Channel], None]) -> None:
    try:
        script(channel)
    except Exception:
        log.exception("channel %s: scripted party failed", channel.uuid)


def _loopback_far_end(switch: Switch, attempt: _Attempt) -> None:
    """The -b leg of a loopback pair, routed in its context."""
    assert attempt.plan.loopback is not None
    extension, context, dialplan = attempt.plan.loopback
    a_side = attempt.channel
    now = switch.clock.now_us()
    source = a_side.profile
    profile = CallerProfile(
        username=source.username,
        dialplan=dialplan,
        caller_id_name=source.caller_id_name,
        caller_id_number=source.caller_id_number,
        orig_caller_id_name=source.caller_id_name,
        orig_caller_id_number=source.caller_id_number,
        ani=source.ani,
        destination_number=extension,
        source="mod_loopback",
        context=context,
        times={"profile_created": now, "created": now},
    )
    b_side = Channel(
        switch,
        name=f"loopback/{extension}-b",
        direction="inbound",
        profile=profile,
    )
    attempt.loop_b = b_side
    switch.add_channel(b_side)
    b_side.fire("CHANNEL_STATE")
    b_side.set_variable("direction", "inbound")
    b_side.set_variable("uuid", b_side.uuid)
    b_side.set_variable("session_id", str(switch.next_session_id()))
    b_side.set_variable("other_loopback_leg_uuid", a_side.uuid)
    a_side.set_variable("other_loopback_leg_uuid", b_side.uuid)
    for name, value in a_side.variables.items():
        if name not in b_side.variables and isinstance(value, str):
            b_side.set_variable(name, value)
    b_side.state = CS_INIT
    b_side.state_number = 1
    b_side.fire("CHANNEL_STATE")
    b_side.state_number = 2
    b_side.fire("CHANNEL_CREATE")
    b_side.loopback_peer = a_side  # type: ignore[attr-defined]
    a_side.loopback_peer = b_side  # type: ignore[attr-defined]
    b_side.start(b_side.route_loop)
    while not (a_side.hungup or b_side.hungup):
        if b_side.answered and not a_side.answered:
            a_side.remote_answered()
        elif b_side.early and not a_side.early and not a_side.answered:
            a_side.pre_answer_remote()
        elif b_side.ring_ready_sent and not a_side.ring_ready_sent:
            a_side.ring_ready()
        # Both legs are poked on every change the relay cares about.
        b_side._wake.clear()
        a_side._wake.clear()
        switch.clock.wait_any([b_side._wake, a_side._wake])
    if b_side.hungup and not a_side.hungup:
        a_side.hangup(b_side.hangup_cause or "NORMAL_CLEARING")
    elif a_side.hungup and not b_side.hungup:
        b_side.hangup(a_side.hangup_cause or "NORMAL_CLEARING")


def _wait_for_answer(
    switch: Switch,
    attempts: list[_Attempt],
    a_leg: Channel | None,
    overall: float,
) -> tuple[_Attempt | None, bool]:
    """Relay ringing to the A leg; the first answer wins; time legs out.

    Returns the winner (or None) and whether the group's own time limit
    ran out. FreeSWITCH checks both limits against whole epoch seconds
    (``elapsed > leg_timeout``, ``elapsed >= timelimit``), so at equal
    values the group's limit comes first; here both are exact.
    """
    clock = switch.clock
    started = clock.monotonic()
    while True:
        now = clock.monotonic() - started
        if a_leg is not None and a_leg.interrupted:
            # Hung up, or taken elsewhere (uuid_bridge, transfer, intercept).
            return None, False
        live = [a for a in attempts if not a.channel.hungup]
        for attempt in live:
            if attempt.channel.answered:
                return attempt, False
        if a_leg is not None and not a_leg.answered:
            ringing = [a for a in attempts if a.channel.ring_ready_sent]
            if ringing and not _ignore_early_media(a_leg):
                _callee_to_caller(a_leg, ringing[0].channel)
                a_leg.ring_ready()
        if now >= overall:
            for attempt in live:
                attempt.channel.hangup("NO_ANSWER")
            return None, True
        for attempt in live:
            if attempt.timeout is not None and now >= attempt.timeout:
                # check_per_channel_timeouts: the leg's own limit.
                attempt.channel.hangup("ALLOTTED_TIMEOUT")
        live = [a for a in attempts if not a.channel.hungup]
        if not live:
            return None, False
        if len(live) < len(attempts) and all(_waits_for_pickup(a) for a in live):
            # Only pickup legs without a leg_timeout are left: nobody else
            # will answer, so the originate gives up on them.
            for attempt in live:
                attempt.channel.hangup("NO_PICKUP")
            return None, False
        _start_delayed(switch, live, now)
        deadlines = [a.timeout for a in live if a.timeout is not None] + [overall]
        deadlines += [a.delay for a in live if a.pending]
        waiters = [a.channel._wake for a in live]
        if a_leg is not None:
            waiters.append(a_leg._wake)
        for waiter in waiters:
            waiter.clear()
        clock.wait_any_until(waiters, started + min(deadlines))


def _waits_for_pickup(attempt: _Attempt) -> bool:
    """A pickup leg with no time limit of its own."""
    return attempt.plan.pickup is not None and not _leg_timeout(attempt.plan.variables)


def _leg_timeout(variables: dict[str, str]) -> float | None:
    """``leg_timeout`` in whole seconds (atoi; 0 and junk mean none)."""
    match = re.match(r"\s*(\d+)", variables.get("leg_timeout") or "")
    seconds = int(match.group(1)) if match else 0
    return float(seconds) if seconds > 0 else None


def _delay_of(variables: dict[str, str]) -> float:
    """``leg_delay_start`` in whole seconds (atoi: junk and <= 0 mean none)."""
    match = re.match(r"\s*(\d+)", variables.get("leg_delay_start") or "")
    return float(match.group(1)) if match else 0.0


def _start_delayed(switch: Switch, live: list[_Attempt], now: float) -> None:
    """Call the far ends of delayed legs whose time has come.

    As in switch_ivr_originate: once no started leg is left, the delayed
    legs start at once, their timeouts shortened by the wait they skipped.
    """
    active = [a for a in live if not a.pending]
    for attempt in live:
        if not attempt.pending:
            continue
        if now >= attempt.delay:
            _start_far_end(switch, attempt)
        elif not active:
            if attempt.timeout is not None:
                attempt.timeout -= attempt.delay - now
            _start_far_end(switch, attempt)


def _callee_to_caller(a_leg: Channel, b_leg: Channel) -> None:
    """The caller's profile learns whom it is calling."""
    if not a_leg.profile.callee_id_number:
        a_leg.profile.callee_id_name = b_leg.profile.callee_id_name
        a_leg.profile.callee_id_number = b_leg.profile.callee_id_number


def _ignore_early_media(a_leg: Channel) -> bool:
    return a_leg.true("ignore_early_media")


# ------------------------------------------------------------------ bridge


def _copy_sip_headers(a_leg: Channel, channel: Channel) -> None:
    """mod_sofia's outgoing channel takes the caller's ``sip_h_*`` variables.

    sofia_outgoing_channel transfers them from the originating session
    before the core applies the dial string's own variables, so a header
    set in the dial string wins.
    """
    for name, value in list(a_leg.variables.items()):
        if name.startswith("sip_h_") and isinstance(value, str):
            channel.set_variable(name, value)


_DIALSTATUS = {
    "ORIGINATOR_CANCEL": "CANCEL",
    "USER_BUSY": "BUSY",
    "NO_ANSWER": "NOANSWER",
    "DESTINATION_OUT_OF_ORDER": "INVALIDARGS",
    "CALL_REJECTED": "DONTCALL",
}


def bridge_app(a_leg: Channel, dial_string: str) -> bool:
    """The bridge application's body; True: run on to the next action."""
    switch = a_leg.switch
    try:
        result = originate(switch, dial_string, a_leg=a_leg)
    except DialStringError as error:
        log.warning(
            "channel %s: bad dial string %r: %s", a_leg.uuid, dial_string, error
        )
        result = OriginateResult(None, "DESTINATION_OUT_OF_ORDER")
    if not result.ok:
        return _bridge_failed(a_leg, result)
    b_leg = result.channel
    assert b_leg is not None
    if a_leg.interrupted:
        b_leg.hangup("ORIGINATOR_CANCEL")
        return False
    _callee_to_caller(a_leg, b_leg)
    _answer_a_leg(a_leg, b_leg)
    # FreeSWITCH records the causes twice on success (originate, then bridge).
    for _ in range(2):
        for uuid, cause in result.causes:
            a_leg.push_variable("originate_causes", f"{uuid};{cause}")
    originated = a_leg.variables.get("originated_legs")
    if isinstance(originated, str):
        a_leg.push_variable("originated_legs", originated)
    a_leg.set_variable("originate_disposition", "SUCCESS")
    a_leg.set_variable("DIALSTATUS", "SUCCESS")
    return _run_bridge(a_leg, b_leg)


def _answer_a_leg(a_leg: Channel, b_leg: Channel) -> None:
    """B answered: the caller gets early media, then the answer."""
    media_sdp = b_leg.variables.get("switch_r_sdp")
    if not a_leg.answered:
        a_leg.pre_answer(media_sdp=media_sdp if isinstance(media_sdp, str) else None)
        a_leg.answer()


def _run_bridge(a_leg: Channel, b_leg: Channel) -> bool:
    b_leg.set_driver(lambda: b_leg_bridged(b_leg, a_leg))
    # The originator's profile as the B leg knows it is taken again now
    # that the A leg has its callee id.
    b_leg.other_profile = a_leg.profile.clone(keep_times=False, index=False)
    if b_leg.direction == "outbound":
        # (A picker, an inbound leg, was never an outgoing channel.)
        b_leg.fire("CHANNEL_OUTGOING")
    a_leg.set_variable("originate_signal_bond", None)
    bridge_channels(a_leg, b_leg)
    call_update(a_leg, b_leg)
    a_leg.bridge_wait()
    leave_bridge(a_leg, b_leg)
    cause = b_leg.hangup_cause or a_leg.hangup_cause or "NORMAL_CLEARING"
    a_leg.set_variable("bridge_hangup_cause", cause)
    unbridge_channels(a_leg, b_leg)
    if a_leg.interrupted:
        return False
    # switch_ivr_multi_threaded_bridge: park_after_bridge first, then
    # transfer_after_bridge, and only then hangup_after_bridge.
    if a_leg.true("park_after_bridge"):
        a_leg.park()
        return False
    transfer = a_leg.get_variable("transfer_after_bridge")
    if transfer:
        parts = transfer.replace(":", " ").split()
        a_leg.transfer(parts[0], *parts[1:3])
        return False
    if a_leg.true("hangup_after_bridge"):
        a_leg.hangup("NORMAL_CLEARING")
        return False
    return True


def b_leg_bridged(b_leg: Channel, a_leg: Channel) -> None:
    """The B leg's session while bridged (CS_EXCHANGE_MEDIA)."""
    b_leg._wait(None, lambda: b_leg.hungup or a_leg._bridge_active or a_leg.hungup)
    if b_leg.hungup:
        b_leg._abandon_bridge(a_leg)
        return
    b_leg._enter(CS_EXCHANGE_MEDIA)
    accepted(b_leg)
    if not a_leg.hungup:
        call_update(b_leg, a_leg)
        b_leg.bridge_wait()
    b_leg.bridge_hangup_cause = a_leg.hangup_cause or "NORMAL_CLEARING"
    if b_leg.hungup or b_leg.interrupted:
        b_leg.route_loop()
        return
    # The bridge is over and the leg has nothing left to run.
    b_leg.hangup("NORMAL_CLEARING")


def accepted(b_leg: Channel) -> None:
    """Variables the originate sets on the leg that answered."""
    b_leg.set_variable("endpoint_disposition", "ANSWER")
    for name, value in b_leg.directory_variables.items():
        b_leg.set_variable(name, value)
    if b_leg.directory_variables or b_leg.get_variable("dialed_user"):
        b_leg.set_variable("originate_endpoint", "user")


def _bridge_failed(a_leg: Channel, result: OriginateResult) -> bool:
    cause = result.cause
    refused = result.refused
    if refused is not None:
        # What the refusing leg answered is kept on the caller.
        for name in ("sip_invite_failure_status", "sip_invite_failure_phrase"):
            a_leg.set_variable(name, refused.get_variable(name))
        a_leg.set_variable(
            "sip_hangup_phrase", refused.get_variable("sip_invite_failure_phrase")
        )
    for uuid, leg_cause in result.causes:
        a_leg.push_variable("originate_causes", f"{uuid};{leg_cause}")
    if result.causes:
        a_leg.set_variable("last_bridge_hangup_cause", cause)
    if refused is not None:
        a_leg.set_variable(
            "last_bridge_proto_specific_hangup_cause",
            refused.get_variable("proto_specific_hangup_cause"),
        )
    a_leg.set_variable("originate_disposition", cause)
    a_leg.set_variable("DIALSTATUS", _DIALSTATUS.get(cause, cause))
    a_leg.set_variable("originate_failed_cause", cause)
    log.debug("channel %s: bridge failed: %s", a_leg.uuid, cause)
    if a_leg.interrupted:
        return False
    continue_on_fail = str(a_leg.get_variable("continue_on_fail") or "")
    if a_leg.true("continue_on_fail") or cause in continue_on_fail.split(","):
        return True
    a_leg.hangup(cause)
    return False


def bridge_in_execute(a_leg: Channel, data: str) -> bool:
    """``bridge`` as the switch's built-in application (no app runner)."""
    return bridge_app(a_leg, data)


def run_b_leg(b_leg: Channel, what: str, dialplan: str, context: str) -> None:
    """Give an originated B leg its job: ``&app(args)`` or an extension."""
    switch = b_leg.switch
    if what.startswith("&"):
        match = re.fullmatch(r"&([\w:.-]+)(?:\((.*)\))?", what.strip(), re.S)
        app, arg = (match.group(1), match.group(2) or "") if match else (what[1:], "")

        def driver() -> None:
            b_leg._enter(CS_EXECUTE)
            switch.run_app(b_leg, app, arg)
            b_leg.route_loop()

        b_leg.set_driver(driver)
        return
    profile = b_leg.profile.clone()
    profile.destination_number = what
    profile.dialplan = dialplan or "XML"
    profile.context = context or "default"
    b_leg.profile = profile
    b_leg.hit_dialplan = True
    b_leg._pending_routing = True
    b_leg.set_driver(b_leg.route_loop)
