"""Dialplan applications as FreeSWITCH runs them (mod_dptools, mod_voicemail).

`Applications` is the switch's ``app_runner``: it runs one application on a
channel the way switch_core_session_execute_application does:

1. an application nobody knows hangs the call up with
   DESTINATION_OUT_OF_ORDER, as FreeSWITCH does ("Invalid Application");
   the simulator also records an `UnknownApplication` error so that a test
   fails loudly instead of passing on a call that silently went nowhere;
2. on a hung-up channel only "zombie" applications (``set``, ``log`` ...)
   still run;
3. the data is variable-expanded (``${...}``) before anything else, so the
   CHANNEL_EXECUTE event already shows the expanded data;
4. an application that needs media (``playback``, ``read``, ``voicemail``
   ...) pre-answers an unanswered inbound channel first;
5. the application runs inside ``channel.execute(app, data)``, which fires
   CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE.

`run` returns False when the dialplan must not go on with the next action
(a bridge that failed without ``continue_on_fail``, an unknown application).

Voicemail keeps its boxes in a `VoicemailStore`: messages, MWI events
(MESSAGE_WAITING, ``vm::maintenance``), the ``vm_*`` api commands, and a
hook (`VoicemailStore.on_message`) for code that wants to see each new
message (voicemail-to-email in tests). Parties tell the applications when a
caller talks (`Speech`) so that a recording lasts as long as it would.
"""

from __future__ import annotations

import logging
import re
import struct
import uuid as uuidlib
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent

from simulator.callcenter import app_callcenter, app_callcenter_track
from simulator.channel import str2cause
from simulator.dialplan import ExpansionScope, expand_variables, is_true, regex_perform
from simulator.events import CallSite, Event, stamp
from simulator.headers import channel_event
from simulator.xfer import (
    app_att_xfer,
    app_bind_meta_app,
    app_execute_extension,
    app_transfer_vars,
)
from simulator.xmlcurl import (
    DirectoryUser,
    XmlCurlError,
    directory_form,
    find_user,
    message_count_event,
    parse_answer,
    voicemail_lookup_event,
)

if TYPE_CHECKING:
    from simulator.channel import Channel
    from simulator.session import Router
    from simulator.switch import Switch

log = logging.getLogger(__name__)

# Every DTMF key: what a read prompt is interrupted by.
ALL_DIGITS = "0123456789*#ABCD"

# sofia_glue_sip_cause_to_freeswitch for the statuses ``respond`` sends.
_SIP_TO_CAUSE = {
    401: "USER_CHALLENGE", 402: "CALL_REJECTED", 403: "CALL_REJECTED",
    404: "UNALLOCATED_NUMBER", 405: "SERVICE_UNAVAILABLE", 406: "SERVICE_UNAVAILABLE",
    407: "USER_CHALLENGE", 408: "RECOVERY_ON_TIMER_EXPIRE", 410: "NUMBER_CHANGED",
    413: "INTERWORKING", 414: "INTERWORKING", 416: "SERVICE_UNAVAILABLE",
    420: "SERVICE_UNAVAILABLE", 421: "SERVICE_UNAVAILABLE",
    423: "INTERWORKING", 480: "NO_USER_RESPONSE", 481: "INCOMPATIBLE_DESTINATION",
    482: "EXCHANGE_ROUTING_ERROR", 483: "EXCHANGE_ROUTING_ERROR",
    484: "INVALID_NUMBER_FORMAT", 485: "NO_ROUTE_DESTINATION", 486: "USER_BUSY",
    487: "ORIGINATOR_CANCEL", 488: "INCOMPATIBLE_DESTINATION",
    500: "NORMAL_TEMPORARY_FAILURE", 501: "SERVICE_UNAVAILABLE",
    502: "NETWORK_OUT_OF_ORDER", 503: "NORMAL_TEMPORARY_FAILURE",
    504: "RECOVERY_ON_TIMER_EXPIRE", 505: "INTERWORKING", 513: "INTERWORKING",
    600: "USER_BUSY", 603: "CALL_REJECTED", 604: "NO_ROUTE_DESTINATION",
    606: "INCOMPATIBLE_DESTINATION",
}  # fmt: skip


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


class ApplicationError(Exception):
    """An application the simulator could not run as FreeSWITCH would."""

    def __init__(self, uuid: str, app: str, message: str) -> None:
        super().__init__(f"channel {uuid}: {app}: {message}")
        self.uuid = uuid
        self.app = app


class UnknownApplication(ApplicationError):
    """The dialplan names an application the simulator does not have."""

    def __init__(self, uuid: str, app: str, data: str) -> None:
        super().__init__(uuid, app, f"unknown application {app!r} (data {data!r})")


class UnsupportedUse(ApplicationError):
    """A known application used in a way the simulator does not model."""


class ApplicationCrashed(ApplicationError):
    """The simulator's own code failed inside an application."""


class LookupFailed(ApplicationError):
    """An xml_curl lookup an application needed failed (not "not found")."""


# --------------------------------------------------------------------------
# expansion in a channel's scope
# --------------------------------------------------------------------------


class ChannelScope(ExpansionScope):
    """``${...}`` on a live channel: variables, caller profile, globals, api."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def variable(self, name: str, index: int) -> str | None:
        channel = self.channel
        value = channel.variables.get(name)
        if value is not None:
            if isinstance(value, list):
                if index < 0:
                    return value[0] if len(value) == 1 else "ARRAY::" + "|:".join(value)
                return value[index] if index < len(value) else None
            return value if index <= 0 else None
        field_value = profile_field(channel, name)
        if field_value is not None:
            return field_value
        return channel.switch.global_vars.get(name)

    def api(self, command: str, args: str) -> str | None:
        output = self.channel.switch.api(command, args)
        if output.startswith("-ERR") and "Command not found" in output:
            log.warning(
                "channel %s: ${%s(%s)}: no such api command",
                self.channel.uuid,
                command,
                args,
            )
            return None
        return output


def expand(channel: Channel, text: str) -> str:
    """switch_channel_expand_variables on a channel."""
    return expand_variables(text, ChannelScope(channel))


_TIME_FIELDS = {
    "profile_created_time": "profile_created",
    "created_time": "created",
    "answered_time": "answered",
    "progress_time": "progress",
    "progress_media_time": "progress_media",
    "hungup_time": "hungup",
    "transferred_time": "transferred",
}


def profile_field(channel: Channel, name: str) -> str | None:
    """switch_caller_get_field_by_name on the channel's caller profile."""
    profile = channel.profile
    key = name.lower()
    if key in ("caller_ton", "caller_numplan", "destination_number_ton"):
        return "0"
    if key in ("destination_number_numplan", "ani_ton", "ani_numplan"):
        return "0"
    if key in ("rdnis_ton", "rdnis_numplan"):
        return "0"
    if key == "screen_bit":
        return "true"
    if key in ("privacy_hide_name", "privacy_hide_number"):
        return "false"
    if key == "profile_index":
        return str(profile.profile_index)
    if key in _TIME_FIELDS:
        return str(profile.times.get(_TIME_FIELDS[key], 0))
    if key in _PROFILE_ATTRS:
        return str(getattr(profile, key))
    return None


_PROFILE_ATTRS = frozenset(
    "dialplan username caller_id_name caller_id_number orig_caller_id_name "
    "orig_caller_id_number callee_id_name callee_id_number ani aniii "
    "network_addr rdnis destination_number uuid source transfer_source "
    "context chan_name".split()
)


# --------------------------------------------------------------------------
# the registry and the runner
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class AppSpec:
    """An application and its mod_dptools flags."""

    name: str
    function: Callable[[AppCall], bool | None]
    nomedia: bool = False  # SAF_SUPPORT_NOMEDIA: no pre-answer needed
    routing: bool = False  # SAF_ROUTING_EXEC: may run inline while hunting
    zombie: bool = False  # SAF_ZOMBIE_EXEC: still runs on a hung-up channel


@dataclass
class AppCall:
    """One run of an application: the channel and the expanded data."""

    apps: Applications
    channel: Channel
    name: str
    data: str

    @property
    def switch(self) -> Switch:
        return self.channel.switch

    def args(self, limit: int | None = None) -> list[str]:
        """switch_separate_string on spaces (empty fields dropped)."""
        parts = self.data.split()
        if limit is not None and len(parts) > limit:
            parts = parts[: limit - 1] + [" ".join(parts[limit - 1 :])]
        return parts

    def fail(self, error: ApplicationError) -> None:
        self.apps.record(error)


@dataclass
class Speech:
    """When a party talks, seen from the start of a recording.

    ``delay``: seconds of silence first; ``duration``: seconds of talking
    (None: until the party hangs up or presses a key). ``media_before``:
    whether the party sends (silent) audio before it talks; a real phone
    does, a test tool that plays a recording only when it talks does not,
    and FreeSWITCH records nothing before the first packet.
    """

    delay: float = 0.0
    duration: float | None = None
    media_before: bool = True


class Applications:
    """The applications the simulated switch knows, and their runner."""

    def __init__(
        self,
        switch: Switch,
        *,
        voicemail: VoicemailStore | None = None,
        on_error: Callable[[ApplicationError], None] | None = None,
    ) -> None:
        self.switch = switch
        self.specs: dict[str, AppSpec] = {spec.name: spec for spec in DEFAULT_APPS}
        self.errors: list[ApplicationError] = []
        self.on_error = on_error
        self.voicemail = voicemail or VoicemailStore(switch)
        self.speech: dict[str, Speech] = {}
        self.pickups = switch.pickups
        self.hashes = HashStore()
        # The switch's router (execute_extension hunts with it); set by
        # Router.install.
        self.router: Router | None = None

    # -- registry --------------------------------------------------------

    def register(self, spec: AppSpec) -> None:
        self.specs[spec.name] = spec

    def knows(self, name: str) -> bool:
        return name in self.specs

    def install(self) -> None:
        """Become the switch's app runner and add the voicemail api commands."""
        self.switch.app_runner = self.run_for_switch
        self.voicemail.install_api()
        register = getattr(self.switch, "register_api", None)
        if register is not None:
            register("hash", lambda switch, args: self.hashes.apply(args, api=True))

    def record(self, error: ApplicationError) -> None:
        """Keep an error for the test to see, and log it."""
        log.error("%s", error)
        self.errors.append(error)
        if self.on_error is not None:
            self.on_error(error)

    # -- running ---------------------------------------------------------

    def run_for_switch(self, channel: Channel, app: str, data: str) -> None:
        """The ``switch.app_runner`` signature (uuid_broadcast, sendmsg ...)."""
        app_uuid = channel.variables.pop("app_uuid", None)
        self.run(channel, app, data, app_uuid if isinstance(app_uuid, str) else None)

    def run(
        self, channel: Channel, app: str, data: str = "", app_uuid: str | None = None
    ) -> bool:
        """Run one application; False when the dialplan must stop here."""
        spec = self.specs.get(app)
        if spec is None:
            self.record(UnknownApplication(channel.uuid, app, data))
            channel.hangup("DESTINATION_OUT_OF_ORDER")
            return False
        if channel.hungup and not spec.zombie:
            return False
        expanded = expand(channel, data) if data else data
        if not spec.nomedia and not self._media_ready(channel, app):
            return False
        call = AppCall(self, channel, app, expanded)
        result: bool | None = True
        with channel.execute(app, expanded, app_uuid=app_uuid):
            try:
                result = spec.function(call)
            except ApplicationError as error:
                self.record(error)
                result = False
            except Exception as error:
                log.exception("channel %s: %s(%s) failed", channel.uuid, app, expanded)
                self.record(ApplicationCrashed(channel.uuid, app, repr(error)))
                result = False
        return result is not False

    def run_inline(self, channel: Channel, app: str, data: str) -> None:
        """An ``inline="true"`` action while hunting (exec_app)."""
        spec = self.specs.get(app)
        if spec is None:
            self.record(UnknownApplication(channel.uuid, app, data))
            channel.hangup("DESTINATION_OUT_OF_ORDER")
            return
        if not spec.routing:
            log.error("channel %s: %s cannot be executed inline", channel.uuid, app)
            self.record(UnsupportedUse(channel.uuid, app, "cannot be executed inline"))
            return
        self.run(channel, app, data)

    @staticmethod
    def _media_ready(channel: Channel, app: str) -> bool:
        if channel.early or channel.answered:
            return True
        if channel.direction == "inbound":
            log.debug("channel %s: %s needs media, pre-answering", channel.uuid, app)
            channel.pre_answer()
            return not channel.hungup
        log.warning(
            "channel %s: %s needs media on an outbound leg without it",
            channel.uuid,
            app,
        )
        return False


# --------------------------------------------------------------------------
# call control
# --------------------------------------------------------------------------


def app_answer(call: AppCall) -> None:
    call.channel.answer()


def app_pre_answer(call: AppCall) -> None:
    call.channel.pre_answer()


def app_ring_ready(call: AppCall) -> None:
    call.channel.ring_ready()


def app_hangup(call: AppCall) -> None:
    cause = str2cause(call.data) if call.data.strip() else "NORMAL_CLEARING"
    call.channel.hangup(cause)


def app_respond(call: AppCall) -> None:
    """``respond <code> [reason]``: a SIP response to the caller's INVITE."""
    channel = call.channel
    head = call.data.split(" ", 1)[0]
    code = int(head) if head.isdigit() else 0
    code = code or 488
    if code in (180, 181, 182):
        channel.ring_ready()
    elif 183 <= code < 200:
        channel.pre_answer()
    elif code == 200:
        channel.answer()
    elif code >= 300 and not channel.answered:
        # sofia sends the final response; the INVITE transaction ends and
        # the channel goes down with the cause the status maps to.
        if channel.sip is not None:
            channel.sip.remote_reason = "respond"
        channel.set_variable("sip_term_status", str(code))
        channel.hangup(_SIP_TO_CAUSE.get(code, "NORMAL_UNSPECIFIED"))


def app_park(call: AppCall) -> None:
    call.channel.park()


def app_transfer(call: AppCall) -> None:
    """``transfer [-bleg|-both] <ext> [<dialplan> [<context>]]``."""
    args = call.args()
    if not args:
        log.error("channel %s: transfer: no extension", call.channel.uuid)
        return
    if args[0].lower() in ("-bleg", "-both"):
        target = args[1:]
        partner = call.channel.partner
        if partner is not None and target:
            _transfer(partner, target)
        elif partner is None:
            log.warning("channel %s: transfer: no B-leg present", call.channel.uuid)
        if args[0].lower() == "-both" and target:
            _transfer(call.channel, target)
        return
    _transfer(call.channel, args)


def _transfer(channel: Channel, args: list[str]) -> None:
    destination = args[0]
    dialplan = args[1] if len(args) > 1 else "XML"
    context = args[2] if len(args) > 2 else None
    channel.transfer(destination, dialplan, context)


def app_bridge(call: AppCall) -> bool:
    """``bridge <dial string>``: originate, bridge, wait (simulator.originate)."""
    return call.switch.bridge_app(call.channel, call.data)


def app_sleep(call: AppCall) -> None:
    if not call.data.strip():
        log.error("channel %s: sleep: no timeout specified", call.channel.uuid)
        return
    millis = _atoi(call.data)
    if millis > 0:
        call.channel.sleep(millis / 1000)


def app_echo(call: AppCall) -> None:
    """The caller hears itself until the call ends (or is taken elsewhere)."""
    channel = call.channel
    while not channel.interrupted:
        channel.sleep(3600)


def app_sched_hangup(call: AppCall) -> None:
    """``sched_hangup [+]<seconds> [<cause>]``."""
    args = call.args()
    if not args:
        return
    when = args[0]
    cause = str2cause(args[1]) if len(args) > 1 else "ALLOTTED_TIMEOUT"
    channel = call.channel
    clock = channel.switch.clock
    delay = _atoi(when[1:]) if when.startswith("+") else _atoi(when) - clock.now()
    gevent.spawn(_hangup_later, channel, max(0.0, float(delay)), cause)


def _hangup_later(channel: Channel, delay: float, cause: str) -> None:
    channel.switch.clock.sleep(delay)
    if not channel.hungup:
        log.info("channel %s: scheduled hangup %s", channel.uuid, cause)
        channel.hangup(cause)


def _atoi(text: str) -> int:
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


# --------------------------------------------------------------------------
# variables and logging
# --------------------------------------------------------------------------


def _split_assignment(data: str, separators: str = "=") -> tuple[str, str | None]:
    """``name=value`` -> (name, value or None when empty)."""
    for separator in separators:
        if separator in data:
            name, _, value = data.partition(separator)
            return name, value or None
    return data, None


def _base_set(call: AppCall, data: str, how: str = "set") -> None:
    channel = call.channel
    if not data:
        log.error("channel %s: %s: no variable name", channel.uuid, call.name)
        return
    name, value = _split_assignment(data, "=,")
    # base_set expands the value once more (the data was expanded already).
    if value is not None:
        value = expand(channel, value)
    if how == "push" and value is not None:
        channel.push_variable(name, value)
    elif how == "unshift" and value is not None:
        current = channel.variables.get(name)
        items = current if isinstance(current, list) else [current] if current else []
        channel.set_variable(name, [value, *items])
    else:
        channel.set_variable(name, value)


def app_set(call: AppCall) -> None:
    _base_set(call, call.data)


def app_push(call: AppCall) -> None:
    _base_set(call, call.data, "push")


def app_unshift(call: AppCall) -> None:
    _base_set(call, call.data, "unshift")


def _multi_items(data: str) -> list[str]:
    delimiter = " "
    if data.startswith("^^") and len(data) > 2:
        delimiter, data = data[2], data[3:]
    return [item for item in data.split(delimiter) if item]


def app_multiset(call: AppCall) -> None:
    for item in _multi_items(call.data):
        _base_set(call, item)


def app_unset(call: AppCall) -> None:
    if call.data:
        call.channel.set_variable(call.data, None)


def app_multiunset(call: AppCall) -> None:
    for item in _multi_items(call.data):
        call.channel.set_variable(item, None)


def app_export(call: AppCall) -> None:
    name, value = _split_assignment(call.data)
    if not name:
        return
    if name.startswith("nolocal:"):
        # Only for the legs this channel originates.
        name = name[len("nolocal:") :]
        call.channel.export_variable(name, value or "")
        call.channel.set_variable(name, None)
        return
    call.channel.export_variable(name, value or "")


def app_set_global(call: AppCall) -> None:
    name, value = _split_assignment(call.data)
    if value is None:
        call.switch.global_vars.pop(name, None)
    else:
        call.switch.global_vars[name] = value


def app_log(call: AppCall) -> None:
    level, _, text = call.data.partition(" ")
    if not text:
        level, text = "DEBUG", level
    numeric = {
        "CONSOLE": logging.INFO, "ALERT": logging.CRITICAL, "CRIT": logging.CRITICAL,
        "ERR": logging.ERROR, "WARNING": logging.WARNING, "NOTICE": logging.INFO,
        "INFO": logging.INFO, "DEBUG": logging.DEBUG,
    }.get(level.upper(), logging.DEBUG)  # fmt: skip
    log.log(numeric, "channel %s: %s", call.channel.uuid, text)


def app_info(call: AppCall) -> None:
    channel = call.channel
    log.info("channel %s: info: %s variables", channel.uuid, len(channel.variables))


# --------------------------------------------------------------------------
# playback and digits
# --------------------------------------------------------------------------


def app_playback(call: AppCall) -> None:
    """``playback <file>``: ``playback_terminators`` (default ``*``) stop it."""
    channel = call.channel
    path = call.data.split("@@", 1)[0]
    terminators = channel.get_variable("playback_terminators") or "*"
    if terminators.lower() == "any":
        terminators = "1234567890*#"
    elif terminators.lower() == "none":
        terminators = ""
    channel.set_variable("playback_terminator_used", None)
    result = channel.playback(path, terminators=terminators)
    used = _consume_until(channel, terminators)
    if used:
        channel.set_variable("playback_terminator_used", used)
    channel.set_response(result if result != "PLAYBACK ERROR" else result)


def play_file(channel: Channel, path: str, terminators: str = "") -> str:
    """switch_ivr_play_file inside another application.

    Only the ``playback`` application reports its result as
    Application-Response; a prompt played by ``read``, ``voicemail`` ...
    leaves the running application's response alone.
    """
    before = channel.variables.get("current_application_response")
    result = channel.playback(path, terminators=terminators)
    channel.set_variable("current_application_response", before)
    return result


def _consume_until(channel: Channel, terminators: str) -> str | None:
    """Digits the playback's DTMF callback took: up to the terminator."""
    queue = channel.dtmf_queue
    while not queue.empty():
        digit = queue.get_nowait()
        if terminators and digit in terminators:
            return digit
    return None


@dataclass
class ReadResult:
    status: str  # success timeout too_small restart failure
    digits: str


def read_digits(
    channel: Channel,
    *,
    min_digits: int,
    max_digits: int,
    prompt: str | None,
    var_name: str | None,
    timeout_ms: int,
    terminators: str,
    digit_timeout_ms: int = 0,
) -> ReadResult:
    """switch_ivr_read: a prompt, then digits until a terminator or timeout."""
    digit_timeout_ms = digit_timeout_ms or timeout_ms
    max_digits = max(max_digits, min_digits)
    channel.set_variable("read_result", None)
    if var_name:
        channel.set_variable(var_name, None)
    channel.pre_answer()
    if prompt and prompt.lower() != "silence":
        outcome = play_file(channel, prompt, terminators=ALL_DIGITS)
        if channel.hungup or outcome == "FILE NOT FOUND":
            return ReadResult("failure", "")
    digits = ""
    terminator = ""
    status = "success"
    if max_digits > 0:
        status, digits, terminator = _collect(
            channel, max_digits, terminators, timeout_ms, digit_timeout_ms
        )
    if terminator:
        channel.set_variable("read_terminator_used", terminator)
        position = terminators.find(terminator)
        if position >= 1 and terminators[position - 1] in "+x":
            digits += terminator
            if terminators[position - 1] == "x":
                status = "restart"
    elif terminators.startswith("="):
        status = "too_small"
    if min_digits and len(digits) < min_digits:
        status = "too_small"
    result = {"success": "success", "timeout": "timeout"}.get(status, "failure")
    channel.set_variable("read_result", result)
    if (
        status != "restart"
        and max_digits == 1
        and len(digits) == 1
        and terminators
        and digits in terminators
    ):
        digits = ""
    if var_name and digits:
        channel.set_variable(var_name, digits)
    return ReadResult(status, digits)


def _collect(
    channel: Channel, max_digits: int, terminators: str, first_ms: int, digit_ms: int
) -> tuple[str, str, str]:
    """switch_ivr_collect_digits_count -> (status, digits, terminator)."""
    digits = ""
    wait_ms = first_ms
    while not channel.interrupted:
        digit = channel.read_digit(wait_ms / 1000)
        if digit is None:
            if channel.interrupted:
                break
            return "timeout", digits, ""
        wait_ms = digit_ms
        if digit in terminators:
            return "success", digits, digit
        digits += digit
        if len(digits) >= max_digits:
            return "success", digits, ""
    return "failure", digits, ""


def app_read(call: AppCall) -> None:
    """``read <min> <max> <file> <var> <timeout> <terminators> [<digit_timeout>]``."""
    args = call.args()
    if not args:
        log.error("channel %s: read: no arguments", call.channel.uuid)
        return
    arg = _arg_getter(args)
    min_digits = max(_atoi(arg(0, "0")), 1)
    read_digits(
        call.channel,
        min_digits=min_digits,
        max_digits=max(_atoi(arg(1, "0")), min_digits),
        prompt=arg(2),
        var_name=arg(3),
        timeout_ms=max(_atoi(arg(4, "0")), 1000),
        terminators=arg(5) or "#",
        digit_timeout_ms=max(_atoi(arg(6, "0")), 0),
    )


def _arg_getter(args: list[str]) -> Callable[..., Any]:
    def arg(index: int, default: str | None = None) -> str | None:
        return args[index] if index < len(args) else default

    return arg


def app_play_and_get_digits(call: AppCall) -> None:
    """switch_play_and_get_digits with mod_dptools' argument handling."""
    args = call.args()
    if not args:
        log.error("channel %s: play_and_get_digits: no arguments", call.channel.uuid)
        return
    arg = _arg_getter(args)
    min_digits = max(_atoi(arg(0, "0")), 0)
    play_and_get_digits(
        call.channel,
        min_digits=min_digits,
        max_digits=max(_atoi(arg(1, "0")), min_digits),
        max_tries=_atoi(arg(2, "0")),
        timeout_ms=max(_atoi(arg(3, "0")), 1000),
        terminators=arg(4) or "#",
        prompt=arg(5),
        invalid_prompt=arg(6),
        var_name=arg(7),
        regex=arg(8),
        digit_timeout_ms=max(_atoi(arg(9, "0")), 0),
        transfer_on_failure=" ".join(args[10:]) if len(args) > 10 else None,
    )


def play_and_get_digits(
    channel: Channel,
    *,
    min_digits: int,
    max_digits: int,
    max_tries: int,
    timeout_ms: int,
    terminators: str,
    prompt: str | None,
    invalid_prompt: str | None,
    var_name: str | None,
    regex: str | None,
    digit_timeout_ms: int = 0,
    transfer_on_failure: str | None = None,
) -> bool:
    """True when valid digits were read (as switch_play_and_get_digits)."""
    if regex and var_name:
        channel.set_variable(f"{var_name}_invalid", None)
    tries = max_tries
    while not channel.interrupted and tries > 0:
        result = read_digits(
            channel,
            min_digits=min_digits,
            max_digits=max_digits,
            prompt=prompt,
            var_name=var_name,
            timeout_ms=timeout_ms,
            terminators=terminators,
            digit_timeout_ms=digit_timeout_ms,
        )
        if result.status == "restart":
            return True
        if _accepted(channel, result, min_digits, regex, var_name):
            return True
        if channel.interrupted:
            break
        if invalid_prompt:
            play_file(channel, invalid_prompt)
        tries -= 1
    if transfer_on_failure:
        parts = transfer_on_failure.split()
        log.warning("channel %s: play_and_get_digits failed, transfer to %s",
                    channel.uuid, parts)  # fmt: skip
        _transfer(channel, parts)
    return False


def _accepted(
    channel: Channel,
    result: ReadResult,
    min_digits: int,
    regex: str | None,
    var_name: str | None,
) -> bool:
    status, digits = result.status, result.digits
    if status == "timeout" and len(digits) >= min_digits:
        status = "success"
    if min_digits == 0 and not digits and channel.get_variable("read_terminator_used"):
        return True
    if status != "success" or not digits:
        return False
    if not regex:
        return True
    match, _ = regex_perform(digits, regex)
    if match is not None:
        return True
    if var_name:
        channel.set_variable(var_name, None)
        channel.set_variable(f"{var_name}_invalid", digits)
    return False


# --------------------------------------------------------------------------
# mod_hash: a switch-wide key/value store (pickup keys, hunt pointers)
# --------------------------------------------------------------------------


_HASH_USAGE = (
    "-ERR Usage: hash "
    "insert|insert_ifempty|select|delete|delete_ifmatch/realm/key[/value]\n"
)


class HashStore:
    """mod_hash's table: ``<realm>_<key>`` -> value."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    @staticmethod
    def _parts(data: str) -> list[str] | None:
        parts = data.split("/", 3)
        return parts if len(parts) >= 3 and parts[0] else None

    def apply(self, data: str, *, api: bool) -> str:
        """``<op>/<realm>/<key>[/<value>]``; the api's reply text."""
        parts = self._parts(data)
        if parts is None:
            return _HASH_USAGE
        op = parts[0].lower()
        key = f"{parts[1]}_{parts[2]}"
        value = parts[3] if len(parts) > 3 else None
        current = self.values.get(key)
        if op in ("insert", "insert_ifempty", "delete_ifmatch") and value is None:
            return _HASH_USAGE
        if op == "insert":
            self.values[key] = value or ""
            return "+OK\n"
        if op == "insert_ifempty":
            if current is not None:
                return "-ERR key already exists\n"
            self.values[key] = value or ""
            return "+OK\n"
        if op == "delete":
            if current is None:
                return "-ERR Not found\n"
            del self.values[key]
            return "+OK\n"
        if op == "delete_ifmatch":
            if current is None:
                return "-ERR Not found\n"
            if current != value:
                return "-ERR Doesn't match\n"
            del self.values[key]
            return "+OK\n"
        if op == "select" and api:
            return current or ""
        return _HASH_USAGE


def app_hash(call: AppCall) -> None:
    """``hash insert|insert_ifempty|delete|delete_ifmatch/<realm>/<key>[/<value>]``."""
    reply = call.apps.hashes.apply(call.data, api=False)
    if reply.startswith("-ERR Usage"):
        log.warning("channel %s: USAGE: hash %s", call.channel.uuid, call.data)


# --------------------------------------------------------------------------
# pickup, intercept, eavesdrop
# --------------------------------------------------------------------------


def app_pickup(call: AppCall) -> None:
    """``pickup <key>``: take the oldest leg ringing in that pickup group."""
    channel = call.channel
    key = call.data.strip()
    if not key:
        log.warning("channel %s: pickup: missing key", channel.uuid)
        return
    entry = call.apps.pickups.pop(key)
    if entry is None:
        log.info("channel %s: pickup %s: nothing ringing", channel.uuid, key)
        return
    # The leg's originate takes over: the picker leaves its dialplan and
    # waits in CS_HIBERNATE until it is bridged to the caller.
    entry.take(channel)


def app_intercept(call: AppCall) -> None:
    """``intercept [-bleg] <uuid>``: take a call that rings somewhere else."""
    channel = call.channel
    args = call.args()
    if not args:
        log.error("channel %s: intercept: usage [-bleg] <uuid>", channel.uuid)
        return
    switch = call.switch
    target_uuid = args[-1]
    if args[0].lower() == "-bleg":
        bridged = _partner_of(switch, target_uuid)
        if bridged is None:
            log.debug("channel %s: no uuid bridged to %s", channel.uuid, target_uuid)
            return
        target_uuid = bridged.uuid
    target = switch.channels.get(target_uuid)
    if target is None or target.hungup:
        log.debug("channel %s: intercept: no uuid %s", channel.uuid, target_uuid)
        return
    _intercept(call, target)


def _intercept(call: AppCall, target: Channel) -> None:
    channel = call.channel
    ringing = _partner_of(call.switch, target.uuid)
    if ringing is channel:
        ringing = None
    if is_true(channel.get_variable("intercept_unbridged_only")) and target.partner:
        return
    if is_true(channel.get_variable("intercept_unanswered_only")) and target.answered:
        return
    channel.answer()
    if not target.answered:
        target.answer()
    call.switch.uuid_bridge(channel, target)
    if ringing is not None and not ringing.hungup:
        ringing.hangup("PICKED_OFF")
    while not channel.interrupted:
        channel.sleep(3600)


def _partner_of(switch: Switch, uuid: str) -> Channel | None:
    """switch_channel_get_partner_uuid: the bridged or signal-bonded leg."""
    channel = switch.channels.get(uuid)
    if channel is None:
        return None
    if channel.partner is not None:
        return channel.partner
    for name in ("signal_bond", "originate_signal_bond", "originator"):
        other = channel.get_variable(name)
        if other and other in switch.channels:
            return switch.channels[other]
    return None


_BUG_START = CallSite("switch_core_media_bug.c", "switch_core_media_bug_add", 1014)
_BUG_STOP = CallSite("switch_core_media_bug.c", "switch_core_media_bug_destroy", 84)


def _media_bug(target: Channel, name: str, site: CallSite) -> None:
    """MEDIA_BUG_START/STOP on the channel the bug is attached to."""
    event = channel_event(
        target,
        name,
        lead=[("Media-Bug-Function", "eavesdrop"), ("Media-Bug-Target", target.uuid)],
    )
    event.origin = site
    target.switch.fire(event)


def app_eavesdrop(call: AppCall) -> None:
    """``eavesdrop <uuid>``: listen in on a call until it ends (``*`` leaves)."""
    channel = call.channel
    target_uuid = call.data.strip()
    if target_uuid == "all":
        raise UnsupportedUse(channel.uuid, "eavesdrop", "eavesdrop on all calls")
    target = call.switch.channels.get(target_uuid)
    if target is None or target is channel or target.hungup:
        log.info("channel %s: eavesdrop: no channel %s", channel.uuid, target_uuid)
        return
    group = channel.get_variable("eavesdrop_require_group")
    if group and target.get_variable("eavesdrop_group") != group:
        log.info("channel %s: eavesdrop: %s not in group %s",
                 channel.uuid, target_uuid, group)  # fmt: skip
        return
    dtmf = channel.get_variable("eavesdrop_enable_dtmf")
    keys = dtmf is None or is_true(dtmf)
    _media_bug(target, "MEDIA_BUG_START", _BUG_START)
    while not channel.interrupted and not target.hungup:
        digit = _key_or_end(channel, target)
        if digit is None or (keys and digit == "*"):
            break
        # 1, 2, 3 and 0 switch between listening and talking to either
        # side; the simulator carries no audio, so they change nothing.
    _media_bug(target, "MEDIA_BUG_STOP", _BUG_STOP)


def _key_or_end(channel: Channel, target: Channel) -> str | None:
    """The listener's next key, or None when either call ends first."""
    reader = gevent.spawn(channel.read_digit, None)
    ended = gevent.spawn(target.wait_hangup)
    try:
        done = gevent.wait([reader, ended], count=1)
    finally:
        reader.kill()
        ended.kill()
    if reader in done and reader.successful():
        return reader.value
    return None


def app_record_session(call: AppCall) -> None:
    """``record_session <path>``: record the call until it ends (or stopped)."""
    channel = call.channel
    path = call.data.split()[0] if call.data.split() else ""
    if not path:
        log.error("channel %s: record_session: no file", channel.uuid)
        return
    channel.record_start(path)
    gevent.spawn(_stop_recording_at_hangup, channel, path)


def _stop_recording_at_hangup(channel: Channel, path: str) -> None:
    channel.wait_hangup()
    channel.record_stop(path)


def app_stop_record_session(call: AppCall) -> None:
    channel = call.channel
    paths = (
        list(channel.recordings) if call.data.strip() == "all" else [call.data.strip()]
    )
    for path in paths:
        channel.record_stop(path)


# --------------------------------------------------------------------------
# voicemail
# --------------------------------------------------------------------------

DEFAULT_STORAGE_DIR = "/usr/local/freeswitch/var/lib/freeswitch/storage"

# Sounds mod_voicemail's English phrases play (relative to the sound prefix).
_VM = "voicemail/8000/"
VM_PHRASES: dict[str, list[str]] = {
    "greeting": [f"{_VM}vm-person.wav", "{digits}", f"{_VM}vm-not_available.wav"],
    "record_message": [f"{_VM}vm-record_message.wav"],
    "record_file_check": [
        f"{_VM}vm-listen_to_recording.wav", f"{_VM}vm-press.wav", "digits/8000/1.wav",
        f"{_VM}vm-save_recording.wav", f"{_VM}vm-press.wav", "digits/8000/2.wav",
        f"{_VM}vm-rerecord.wav", f"{_VM}vm-press.wav", "digits/8000/3.wav",
    ],
    "record_urgent_check": [
        f"{_VM}vm-mark-urgent.wav", f"{_VM}vm-press.wav", "digits/8000/star.wav",
        f"{_VM}vm-continue.wav", f"{_VM}vm-press.wav", "digits/8000/pound.wav",
    ],
    "ack_saved": [f"{_VM}vm-saved.wav"],
    "ack_marked-urgent": [f"{_VM}vm-marked-urgent.wav"],
    "ack_too-small": [f"{_VM}vm-too-small.wav"],
    "goodbye": [f"{_VM}vm-goodbye.wav"],
    "hello": [f"{_VM}vm-hello.wav"],
    "enter_pass": [f"{_VM}vm-enter_pass.wav"],
    "fail_auth": [f"{_VM}vm-fail_auth.wav"],
    "abort": [f"{_VM}vm-abort.wav"],
    "count_new": [f"{_VM}vm-you_have.wav", "{digits}", f"{_VM}vm-new.wav",
                  f"{_VM}vm-messages.wav"],
    "count_saved": [f"{_VM}vm-you_have.wav", "{digits}", f"{_VM}vm-saved.wav",
                    f"{_VM}vm-messages.wav"],
    "message_number": [f"{_VM}vm-message.wav", "{digits}"],
    "listen_file_check": [
        f"{_VM}vm-listen_to_recording.wav", f"{_VM}vm-press.wav", "digits/8000/1.wav",
        f"{_VM}vm-save_recording.wav", f"{_VM}vm-press.wav", "digits/8000/2.wav",
        f"{_VM}vm-delete_recording.wav", f"{_VM}vm-press.wav", "digits/8000/7.wav",
    ],
    "menu": [
        f"{_VM}vm-listen_new.wav", f"{_VM}vm-press.wav", "digits/8000/1.wav",
        f"{_VM}vm-listen_saved.wav", f"{_VM}vm-press.wav", "digits/8000/2.wav",
        f"{_VM}vm-advanced.wav", f"{_VM}vm-press.wav", "digits/8000/5.wav",
        f"{_VM}vm-to_exit.wav", f"{_VM}vm-press.wav", "digits/8000/pound.wav",
    ],
    "ack_deleted": [f"{_VM}vm-deleted.wav"],
}  # fmt: skip


@dataclass
class VoicemailProfile:
    """The voicemail profile settings the simulator honours (defaults as FS)."""

    name: str = "default"
    tone_seconds: float = 1.0  # the beep, tone_spec %(1000, 0, 640)
    min_record_len: int = 3
    max_record_len: int = 300
    silence_hits: float = 2.0
    digit_timeout: float = 10.0
    max_retries: int = 3
    terminator_key: str = "#"
    skip_greet_key: str = "#"
    urgent_key: str = "*"
    listen_file_key: str = "1"
    save_file_key: str = "2"
    delete_file_key: str = "7"
    record_file_key: str = "3"
    login_keys: str = "0"
    play_new_messages_key: str = "1"
    play_saved_messages_key: str = "2"
    config_menu_key: str = "5"
    max_login_attempts: int = 3
    sound_prefix: str = "/usr/local/freeswitch/sounds/en/us/callie"


@dataclass
class VoicemailMessage:
    """One message in a box (a row of mod_voicemail's voicemail_msgs)."""

    created_epoch: int
    user: str
    domain: str
    folder: str
    path: str
    uuid: str
    cid_name: str
    cid_number: str
    message_len: int
    flags: str = "B_NORMAL"
    read_epoch: int = 0
    local_path: Path | None = None
    mailto: str | None = None

    @property
    def urgent(self) -> bool:
        return self.flags == "A_URGENT"


class VoicemailStore:
    """Voicemail boxes: messages, MWI events and the ``vm_*`` api commands.

    ``storage``: a folder to write each message to as a real WAV file of the
    recorded length (silence), for code that reads or mails the file.
    """

    def __init__(
        self,
        switch: Switch,
        *,
        storage: Path | None = None,
        profiles: Iterable[VoicemailProfile] = (),
    ) -> None:
        self.switch = switch
        self.storage = storage
        self.profiles = {p.name: p for p in profiles} or {"default": VoicemailProfile()}
        self.messages: list[VoicemailMessage] = []
        # (domain, user) -> the greeting file path mod_voicemail would play.
        self.greetings: dict[tuple[str, str], str] = {}
        self.greeting_files: set[str] = set()
        self._hooks: list[Callable[[VoicemailMessage], None]] = []

    def on_message(self, hook: Callable[[VoicemailMessage], None]) -> None:
        """Call ``hook(message)`` for every message left from now on."""
        self._hooks.append(hook)

    def profile(self, name: str) -> VoicemailProfile | None:
        return self.profiles.get(name)

    def box(self, user: str, domain: str) -> list[VoicemailMessage]:
        return [m for m in self.messages if m.user == user and m.domain == domain]

    def counts(self, user: str, domain: str) -> tuple[int, int, int, int]:
        """(new, saved, new urgent, saved urgent) as message_count reports."""
        new = saved = new_urgent = saved_urgent = 0
        for message in self.box(user, domain):
            if message.read_epoch:
                saved += 1
                saved_urgent += message.urgent
            else:
                new += 1
                new_urgent += message.urgent
        return new, saved, new_urgent, saved_urgent

    # -- delivery ---------------------------------------------------------

    def store(self, message: VoicemailMessage) -> None:
        if self.storage is not None:
            message.local_path = self._write_wav(message)
        self.messages.append(message)
        for hook in list(self._hooks):
            try:
                hook(message)
            except Exception:
                log.exception("voicemail hook failed for %s", message.path)

    def _write_wav(self, message: VoicemailMessage) -> Path:
        target = self.local(message.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        frames = int(message.message_len * 8000)
        with wave.open(str(target), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(struct.pack("<h", 0) * frames)
        return target

    def storage_dir(self) -> str:
        """The switch's storage directory (``$${storage_dir}``)."""
        return self.switch.global_vars.get("storage_dir", DEFAULT_STORAGE_DIR)

    def local(self, switch_path: str) -> Path:
        """Where a file the switch names under its storage dir is kept here."""
        assert self.storage is not None
        prefix = self.storage_dir().rstrip("/") + "/"
        relative = (
            switch_path[len(prefix) :]
            if switch_path.startswith(prefix)
            else (switch_path.lstrip("/"))
        )
        return self.storage / relative

    def update_mwi(self, user: str, domain: str, reason: str) -> None:
        """update_mwi: a message-count lookup, MESSAGE_WAITING, mwi-update."""
        switch = self.switch
        _lookup_user(switch, message_count_event(user, domain), user, domain)
        new, saved, new_urgent, saved_urgent = self.counts(user, domain)
        waiting = Event("MESSAGE_WAITING", origin=_site("update_mwi", 1930))
        waiting.add("MWI-Messages-Waiting", "yes" if new or new_urgent else "no")
        waiting.add("Update-Reason", reason)
        waiting.add("MWI-Message-Account", f"{user}@{domain}")
        waiting.add("MWI-Voice-Message", f"{new}/{saved}")
        switch.fire(waiting)
        update = Event(
            "CUSTOM", subclass="vm::maintenance", origin=_site("update_mwi", 1955)
        )
        update.add("VM-Action", "mwi-update")
        update.add("VM-User", user)
        update.add("VM-Domain", domain)
        update.add("VM-Total-New", str(new))
        update.add("VM-Total-Saved", str(saved))
        update.add("VM-Total-New-Urgent", str(new_urgent))
        update.add("VM-Total-Saved-Urgent", str(saved_urgent))
        switch.fire(update)

    # -- api commands ------------------------------------------------------

    def install_api(self) -> None:
        register = getattr(self.switch, "register_api", None)
        if register is None:
            return
        register("vm_boxcount", lambda switch, args: self.api_boxcount(args))
        register("vm_list", lambda switch, args: self.api_list(args))
        register("vm_delete", lambda switch, args: self.api_delete(args))
        register("vm_read", lambda switch, args: self.api_read(args))
        register(
            "vm_fsdb_pref_greeting_set",
            lambda switch, args: self.api_greeting_set(args),
        )
        # The switch asks this for the message lamp of a registering phone.
        self.switch.voicemail_counts = lambda user, domain: self.counts(user, domain)[
            :2
        ]

    def api_boxcount(self, args: str) -> str:
        """``vm_boxcount <user>@<domain>[|new|saved|new-urgent|saved-urgent|all]``."""
        account, _, which = args.strip().partition("|")
        user, _, domain = account.partition("@")
        new, saved, new_urgent, saved_urgent = self.counts(user, domain or "")
        counts = {
            "new": new, "saved": saved, "new-urgent": new_urgent,
            "saved-urgent": saved_urgent, "all": new + saved,
        }  # fmt: skip
        return str(counts.get(which or "new", new))

    def api_list(self, args: str) -> str:
        """``vm_list <user>@<domain> [xml]``: one line (or element) per message."""
        parts = args.split()
        if not parts:
            return "-ERR Usage: vm_list <id>@<domain>[/profile] [xml]\n"
        user, _, domain = parts[0].partition("@")
        messages = self.box(user, domain.split("/", 1)[0])
        if len(parts) > 1 and parts[1] == "xml":
            return _vm_list_xml(messages)
        return "".join(
            f"{m.created_epoch}:{m.read_epoch}:{m.user}:{m.domain}:{m.folder}:"
            f"{m.path}:{m.uuid}:{m.cid_name}:{m.cid_number}:{m.message_len}\n"
            for m in messages
        )

    def api_delete(self, args: str) -> str:
        """``vm_delete <user>@<domain> [<uuid>]``."""
        parts = args.split()
        if not parts:
            return "-ERR Usage: vm_delete <id>@<domain>[/profile] [<uuid>]\n"
        user, _, domain = parts[0].partition("@")
        domain = domain.split("/", 1)[0]
        wanted = parts[1] if len(parts) > 1 else None
        keep = [
            m
            for m in self.messages
            if not (m.user == user and m.domain == domain and wanted in (None, m.uuid))
        ]
        self.messages = keep
        self.update_mwi(user, domain, "DELETE")
        return "+OK\n"

    def api_read(self, args: str) -> str:
        """``vm_read <user>@<domain>[/profile] <read|unread> [<uuid>]``."""
        parts = args.split()
        if len(parts) < 2 or "@" not in parts[0]:
            return "Usage: <id>@<domain>[/profile] <read|unread> [<uuid>]\n"
        user, _, domain = parts[0].partition("@")
        domain, _, profile = domain.partition("/")
        mode = parts[1].lower()
        if mode not in ("read", "unread") or self.profile(profile or "default") is None:
            return "-ERR can't find user or profile.\n"
        wanted = parts[2] if len(parts) > 2 else None
        now = int(self.switch.clock.now())
        for message in self.messages:
            # As mod_voicemail: without a uuid, the whole domain.
            if message.domain != domain or wanted not in (None, message.uuid):
                continue
            message.read_epoch = now if mode == "read" else 0
            if mode == "unread":
                message.flags = ""
        self.update_mwi(user, domain, "READ")
        return "+OK\n"

    def api_greeting_set(self, args: str) -> str:
        """``vm_fsdb_pref_greeting_set <profile> <domain> <user> <slot> [file]``."""
        parts = args.split()
        if len(parts) < 4 or not _atoi(parts[3]):
            return "-ERR Missing Arguments\n"
        profile_name, domain, user, slot = parts[0], parts[1], parts[2], _atoi(parts[3])
        profile = self.profile(profile_name)
        if profile is None:
            return "-ERR Profile not found\n"
        final = (
            f"{self.storage_dir()}/voicemail/{profile.name}/{domain}/{user}/"
            f"greeting_{slot}.wav"
        )
        if len(parts) > 4:
            source = Path(parts[4])
            if not source.is_file():
                return "-ERR Filename doesn't exist\n"
            self._keep_greeting(source, final)
        if final not in self.greeting_files:
            return f"-ERR Recording doesn't exist [{final}]\n"
        self.greetings[(domain, user)] = final
        # mod_voicemail answers success with "-OK".
        return "-OK\n"

    def _keep_greeting(self, source: Path, final: str) -> None:
        with wave.open(str(source), "rb") as audio:
            seconds = audio.getnframes() / max(1, audio.getframerate())
        self.switch.sounds[final] = seconds
        if self.storage is not None:
            target = self.local(final)
            target.parent.mkdir(parents=True, exist_ok=True)
            source.replace(target)
        else:
            source.unlink()
        self.greeting_files.add(final)


def _vm_list_xml(messages: list[VoicemailMessage]) -> str:
    lines = ["<voicemail>"]
    for m in messages:
        lines += [
            " <message>",
            f"  <created_epoch>{m.created_epoch}</created_epoch>",
            f"  <read_epoch>{m.read_epoch}</read_epoch>",
            f"  <username>{m.user}</username>",
            f"  <domain>{m.domain}</domain>",
            f"  <folder>{m.folder}</folder>",
            f"  <path>{m.path}</path>",
            f"  <uuid>{m.uuid}</uuid>",
            f"  <cid-name>{m.cid_name}</cid-name>",
            f"  <cid-number>{m.cid_number}</cid-number>",
            f"  <message-len>{m.message_len}</message-len>",
            " </message>",
        ]
    lines.append("</voicemail>")
    return "\n".join(lines) + "\n"


def _site(function: str, line: int) -> CallSite:
    return CallSite("mod_voicemail.c", function, line)


def _lookup_user(
    switch: Switch, event: Event, user: str, domain: str
) -> DirectoryUser | None:
    """A directory lookup: the request event takes a sequence number."""
    stamp(event, switch.identity, switch.next_sequence(), switch.clock.now_us())
    form = directory_form(switch.hostname, domain, event)
    fetcher = switch.xml_fetcher
    if fetcher is None:
        return None
    text = switch.call_fetcher("directory", form)
    if text is None:
        return None
    root = parse_answer(text)
    return find_user(root, user, domain) if root is not None else None


def app_voicemail(call: AppCall) -> None:
    """``voicemail [check] [auth] <profile> <domain> [<id>]``."""
    args = call.args()
    check = auth = False
    while args and args[0] in ("check", "auth"):
        check = check or args[0] == "check"
        auth = auth or args[0] == "auth"
        args = args[1:]
    if len(args) < 2:
        log.error("channel %s: voicemail: usage <profile> <domain> <id>",
                  call.channel.uuid)  # fmt: skip
        return
    profile = call.apps.voicemail.profile(args[0])
    if profile is None:
        log.error("channel %s: voicemail: no profile %s", call.channel.uuid, args[0])
        return
    box_id = args[2] if len(args) > 2 else None
    if check and box_id is not None:
        _Check(call, profile, args[1], box_id, authenticated=auth).run()
        return
    if box_id is None:
        raise UnsupportedUse(
            call.channel.uuid,
            "voicemail",
            "asking the caller for a box is not simulated",
        )
    _Leave(call, profile, args[1], box_id).run()


class _Leave:
    """voicemail_leave_main: greeting, beep, recording, delivery."""

    site = CallSite("mod_voicemail.c", "voicemail_leave_main", 3418)

    def __init__(
        self, call: AppCall, profile: VoicemailProfile, domain: str, box: str
    ) -> None:
        self.call = call
        self.channel = call.channel
        self.store = call.apps.voicemail
        self.profile = profile
        self.domain = domain
        self.box = box

    def run(self) -> None:
        channel = self.channel
        skip_greeting = is_true(channel.get_variable("skip_greeting"))
        skip_instructions = is_true(channel.get_variable("skip_instructions"))
        skip_urgent = is_true(channel.get_variable("skip_record_urgent_check"))
        skip_goodbye = is_true(channel.get_variable("voicemail_skip_goodbye"))
        for name in ("skip_greeting", "skip_instructions", "skip_record_urgent_check",
                     "voicemail_skip_goodbye"):  # fmt: skip
            channel.set_variable(name, None)
        user = self._lookup()
        if user is None:
            return
        if is_true(user.params.get("vm-skip-instructions")):
            skip_instructions = True
        while not skip_greeting:
            key = self._greeting()
            if key == self.profile.skip_greet_key:
                skip_instructions = True
            elif key is not None and key in self.profile.login_keys:
                # The box owner logs in from the greeting.
                _Check(self.call, self.profile, self.domain, self.box).run()
                return
            elif key is not None and not channel.interrupted:
                continue  # any other key: the greeting again
            break
        recorded = self._record(skip_instructions)
        if recorded is not None:
            flags = "B_NORMAL"
            if not channel.interrupted and not skip_urgent:
                flags = self._urgent_check()
            self._deliver(user, recorded, flags)
        if not channel.interrupted and not skip_goodbye:
            self._phrase("goodbye")

    # -- steps -----------------------------------------------------------

    def _lookup(self) -> DirectoryUser | None:
        channel = self.channel
        ip = channel.get_variable("network_addr") or channel.profile.network_addr
        event = voicemail_lookup_event(self.box, self.domain, ip or "", self.site)
        try:
            user = _lookup_user(channel.switch, event, self.box, self.domain)
        except XmlCurlError as error:
            self.call.fail(LookupFailed(channel.uuid, "voicemail", str(error)))
            return None
        if user is None:
            log.warning("channel %s: voicemail: can't find user [%s@%s]",
                        channel.uuid, self.box, self.domain)  # fmt: skip
            return None
        if user.params.get("vm-enabled", "true").lower() in ("false", "no", "off", "0"):
            log.warning("channel %s: voicemail disabled for %s@%s",
                        channel.uuid, self.box, self.domain)  # fmt: skip
            return None
        self.box = user.id
        return user

    def _greeting(self) -> str | None:
        """The box's own greeting, else "the person at extension ... is not
        available"; a key stops it."""
        channel = self.channel
        channel.sleep(0.1)
        custom = self.store.greetings.get((self.domain, self.box))
        if custom is None:
            return self._phrase("greeting", self.box, breakable=True)
        play_file(channel, custom, terminators=ALL_DIGITS)
        if not channel.dtmf_queue.empty():
            return channel.dtmf_queue.get_nowait()
        return None

    def _phrase(
        self, name: str, number: str = "", breakable: bool = False
    ) -> str | None:
        """Play a phrase file by file; with ``breakable`` a key stops it."""
        channel = self.channel
        for item in VM_PHRASES[name]:
            files = (
                [f"digits/8000/{d}.wav" for d in number]
                if item == "{digits}"
                else [item]
            )
            for relative in files:
                if channel.interrupted:
                    return None
                path = f"{self.profile.sound_prefix}/{relative}"
                play_file(channel, path, terminators=ALL_DIGITS if breakable else "")
                if breakable and not channel.dtmf_queue.empty():
                    return channel.dtmf_queue.get_nowait()
        return None

    def _record(self, skip_instructions: bool) -> _Recording | None:
        """create_file: instructions, beep, record; too short -> again."""
        channel = self.channel
        for _attempt in range(self.profile.max_retries + 1):
            if channel.interrupted:
                return None
            if not skip_instructions:
                self._phrase("record_message")
            _flush_dtmf(channel)
            channel.sleep(self.profile.tone_seconds)  # the beep (no events)
            if channel.interrupted:
                return None
            recording = _record_file(self.call, self._file_path(), self.profile)
            if recording.seconds >= self.profile.min_record_len:
                if not channel.interrupted:
                    self._check_recording()
                return recording
            log.debug("channel %s: message shorter than %s s, discarded",
                      channel.uuid, self.profile.min_record_len)  # fmt: skip
            if channel.interrupted:
                return None
            self._phrase("ack_too-small")
        return None

    def _check_recording(self) -> None:
        """The listen / save / re-record menu; no key means save."""
        key = self._menu("record_file_check")
        if key == self.profile.record_file_key:
            raise UnsupportedUse(self.channel.uuid, "voicemail", "re-recording")
        if not self.channel.interrupted:
            self._phrase("ack_saved")

    def _urgent_check(self) -> str:
        key = self._menu("record_urgent_check")
        if self.channel.interrupted:
            return "B_NORMAL"
        if key == self.profile.urgent_key:
            self._phrase("ack_marked-urgent")
            return "A_URGENT"
        self._phrase("ack_saved")
        return "B_NORMAL"

    def _menu(self, phrase: str) -> str | None:
        key = self._phrase(phrase, breakable=True)
        if key is None and not self.channel.interrupted:
            key = self.channel.read_digit(self.profile.digit_timeout)
        return key

    def _file_path(self) -> str:
        storage = self.store.storage_dir()
        return (
            f"{storage}/voicemail/{self.profile.name}/{self.domain}/{self.box}/"
            f"msg_{uuidlib.uuid4()}.wav"
        )

    def _deliver(self, user: DirectoryUser, recording: _Recording, flags: str) -> None:
        """deliver_vm: vm::maintenance leave-message, then MWI."""
        channel = self.channel
        clock = channel.switch.clock
        profile = channel.profile
        name = (
            channel.get_variable("effective_caller_id_name") or profile.caller_id_name
        )
        number = (
            channel.get_variable("effective_caller_id_number")
            or profile.caller_id_number
        )
        now = int(clock.now())
        message = VoicemailMessage(
            created_epoch=now,
            user=self.box,
            domain=self.domain,
            folder="inbox",
            path=recording.path,
            uuid=channel.uuid,
            cid_name=name,
            cid_number=number,
            message_len=recording.seconds,
            flags=flags,
            mailto=user.params.get("vm-mailto") or None,
        )
        event = channel_event(
            channel,
            "CUSTOM",
            subclass="vm::maintenance",
            lead=[
                ("VM-Action", "leave-message"),
                ("VM-User", self.box),
                ("VM-Domain", self.domain),
                ("VM-Caller-ID-Name", name),
                ("VM-Caller-ID-Number", number),
                ("VM-File-Path", recording.path),
                ("VM-Flags", flags),
                ("VM-Folder", "inbox"),
                ("VM-UUID", channel.uuid),
                ("VM-Message-Len", str(recording.seconds)),
                ("VM-Timestamp", str(now)),
            ],
        )
        event.origin = _site("deliver_vm", 2896)
        channel.switch.fire(event)
        self.store.store(message)
        self.store.update_mwi(self.box, self.domain, "NEW")
        seconds = recording.seconds
        length = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        channel.set_variable("voicemail_account", self.box)
        channel.set_variable("voicemail_domain", self.domain)
        channel.set_variable("voicemail_file_path", recording.path)
        channel.set_variable("voicemail_read_flags", flags)
        channel.set_variable("voicemail_message_len", length)


class _Check(_Leave):
    """voicemail_check_main: log in, hear the messages, the main menu.

    A reduction of mod_voicemail's state machine: the password (unless
    ``auth``), the folder summary, new messages played at once, after each
    message listen again (1), save (2) or delete (7), then the main menu
    (1 new, 2 saved, # leaves). The advanced menu (5) is not simulated.
    """

    site = CallSite("mod_voicemail.c", "voicemail_check_main", 2460)

    def __init__(
        self,
        call: AppCall,
        profile: VoicemailProfile,
        domain: str,
        box: str,
        *,
        authenticated: bool = False,
    ) -> None:
        super().__init__(call, profile, domain, box)
        self.authenticated = authenticated

    def run(self) -> None:
        channel = self.channel
        self._phrase("hello")
        user = self._login()
        if user is None:
            if not channel.interrupted:
                self._phrase("abort")
                self._phrase("goodbye")
            return
        new = [m for m in self._messages() if not m.read_epoch]
        self._summary()
        if new:
            self._play(new)
        self._menu_loop()
        if not channel.interrupted:
            self._phrase("goodbye")

    def _login(self) -> DirectoryUser | None:
        for _attempt in range(self.profile.max_login_attempts):
            if self.channel.interrupted:
                return None
            self.channel.sleep(0.1)
            user = self._lookup()
            if user is None:
                return None
            password = user.params.get("vm-password") or user.params.get("password")
            ok = self.authenticated or not password
            if not ok:
                entered = self._collect("enter_pass", self.profile.terminator_key)
                ok = entered == password
            result = "success" if ok else "fail"
            self._maintenance("authentication", before=[("VM-Auth-Result", result)])
            if ok:
                return user
            self._phrase("fail_auth")
        return None

    def _collect(self, phrase: str, terminator: str) -> str:
        """vm_macro_get: a phrase (a key stops it), then digits to the terminator."""
        first = self._phrase(phrase, breakable=True)
        digits = ""
        key = first
        while not self.channel.interrupted:
            if key is None:
                key = self.channel.read_digit(self.profile.digit_timeout)
            if key is None or key in terminator:
                break
            digits += key
            key = None
        return digits

    def _messages(self) -> list[VoicemailMessage]:
        return sorted(
            self.store.box(self.box, self.domain), key=lambda m: m.created_epoch
        )

    def _maintenance(
        self,
        action: str,
        before: list[tuple[str, str]] = (),  # type: ignore[assignment]
        after: list[tuple[str, str]] = (),  # type: ignore[assignment]
    ) -> None:
        """A vm::maintenance event with the channel's data."""
        lead = [("VM-Action", action), *before]
        lead += [("VM-User", self.box), ("VM-Domain", self.domain), *after]
        event = channel_event(
            self.channel, "CUSTOM", subclass="vm::maintenance", lead=lead
        )
        event.origin = _site("voicemail_check_main", 0)
        self.channel.switch.fire(event)

    def _summary(self) -> None:
        new, saved, new_urgent, saved_urgent = self.store.counts(self.box, self.domain)
        self.channel.set_variable("voicemail_current_folder", "inbox")
        self._maintenance(
            "folder-summary",
            after=[
                ("VM-Folder", "inbox"),
                ("VM-Total-New-Messages", str(new)),
                ("VM-Total-Saved-Messages", str(saved)),
                ("VM-Total-New-Urgent-Messages", str(new_urgent)),
                ("VM-Total-Saved-Urgent-Messages", str(saved_urgent)),
            ],
        )
        self._phrase("count_new", str(new))
        if not new:
            self._phrase("count_saved", str(saved))

    def _play(self, messages: list[VoicemailMessage]) -> None:
        changed = False
        for index, message in enumerate(messages, start=1):
            while not self.channel.interrupted:
                self._phrase("message_number", str(index))
                play_file(self.channel, message.path, terminators=ALL_DIGITS)
                _flush_dtmf(self.channel)
                if not message.read_epoch:
                    message.read_epoch = int(self.channel.switch.clock.now())
                    changed = True
                key = self._menu("listen_file_check")
                if key == self.profile.listen_file_key:
                    continue
                if key == self.profile.delete_file_key:
                    self.store.messages.remove(message)
                    self._phrase("ack_deleted")
                    changed = True
                elif key == self.profile.save_file_key:
                    self._phrase("ack_saved")
                break
        if changed:
            self.store.update_mwi(self.box, self.domain, "READ")

    def _menu_loop(self) -> None:
        """The main menu until ``#``, a hangup or ``max_retries`` silences."""
        retries = self.profile.max_retries
        while retries and not self.channel.interrupted:
            key = self._menu("menu")
            if key == self.profile.terminator_key:
                return
            if key == self.profile.play_new_messages_key:
                self._play([m for m in self._messages() if not m.read_epoch])
            elif key == self.profile.play_saved_messages_key:
                self._play([m for m in self._messages() if m.read_epoch])
            elif key == self.profile.config_menu_key:
                raise UnsupportedUse(
                    self.channel.uuid, "voicemail", "the advanced menu is not simulated"
                )
            else:
                retries -= 1
                continue
            retries = self.profile.max_retries


def _flush_dtmf(channel: Channel) -> None:
    while not channel.dtmf_queue.empty():
        channel.dtmf_queue.get_nowait()


@dataclass
class _Recording:
    path: str
    millis: int
    terminator: str | None = None

    @property
    def seconds(self) -> int:
        return self.millis // 1000


def _record_file(call: AppCall, path: str, profile: VoicemailProfile) -> _Recording:
    """switch_ivr_record_file as voicemail uses it (RECORD_START/STOP)."""
    channel = call.channel
    clock = channel.switch.clock
    speech = call.apps.speech.get(channel.uuid, Speech())
    _set_read_codec(channel, "L16", "128000")
    channel.set_variable("silence_hits_exhausted", "false")
    channel.fire("RECORD_START", tail=[("Record-File-Path", path)])
    started = clock.monotonic()
    deadline = float(profile.max_record_len)
    if speech.duration is not None:
        deadline = min(deadline, speech.delay + speech.duration + profile.silence_hits)
    terminator = _wait_recording(channel, deadline, profile.terminator_key)
    elapsed = clock.monotonic() - started
    if not speech.media_before:
        elapsed = max(0.0, elapsed - speech.delay)
    millis = int(elapsed * 1000)
    samples = millis * 8
    size = str(samples * 2 + 44)
    channel.set_variable("record_record_file_size", size)
    channel.set_variable("record_file_size", size)
    channel.set_variable("record_seconds", str(millis // 1000))
    channel.set_variable("record_ms", str(millis))
    channel.set_variable("record_samples", str(samples))
    channel.fire("RECORD_STOP", tail=[("Record-File-Path", path)])
    _set_read_codec(channel, None, None)
    return _Recording(path, millis, terminator)


def _wait_recording(channel: Channel, limit: float, terminator_key: str) -> str | None:
    """Until hangup, the terminator key or ``limit`` seconds; the key or None."""
    clock = channel.switch.clock
    end = clock.monotonic() + limit
    while not channel.interrupted:
        remaining = end - clock.monotonic()
        if remaining <= 0:
            return None
        digit = channel.read_digit(remaining)
        if digit is not None and digit in terminator_key:
            return digit
    return None


def _set_read_codec(channel: Channel, name: str | None, bit_rate: str | None) -> None:
    """The read codec record_file sets while it records (None: back)."""
    if channel.codec is None:
        return
    rate = channel.codec[1]
    channel.set_read_codec((name, rate, bit_rate or "") if name else None)


# --------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------

DEFAULT_APPS: tuple[AppSpec, ...] = (
    AppSpec("answer", app_answer, nomedia=True),
    AppSpec("pre_answer", app_pre_answer, nomedia=True),
    AppSpec("ring_ready", app_ring_ready, nomedia=True),
    AppSpec("hangup", app_hangup, nomedia=True),
    AppSpec("respond", app_respond, nomedia=True),
    AppSpec("park", app_park, nomedia=True),
    AppSpec("transfer", app_transfer, nomedia=True),
    AppSpec("bridge", app_bridge, nomedia=True),
    AppSpec("sleep", app_sleep, nomedia=True),
    AppSpec("sched_hangup", app_sched_hangup, nomedia=True),
    AppSpec("pickup", app_pickup, nomedia=True),
    AppSpec("hash", app_hash, nomedia=True, zombie=True),
    AppSpec("set", app_set, nomedia=True, routing=True, zombie=True),
    AppSpec("push", app_push, nomedia=True, routing=True, zombie=True),
    AppSpec("unshift", app_unshift, nomedia=True, routing=True, zombie=True),
    AppSpec("multiset", app_multiset, nomedia=True, routing=True, zombie=True),
    AppSpec("unset", app_unset, nomedia=True, routing=True, zombie=True),
    AppSpec("multiunset", app_multiunset, nomedia=True, routing=True, zombie=True),
    AppSpec("export", app_export, nomedia=True, routing=True, zombie=True),
    AppSpec("set_global", app_set_global, nomedia=True, routing=True, zombie=True),
    AppSpec("log", app_log, nomedia=True, routing=True, zombie=True),
    AppSpec("info", app_info, nomedia=True, routing=True, zombie=True),
    AppSpec("echo", app_echo),
    AppSpec("playback", app_playback),
    AppSpec("read", app_read),
    AppSpec("play_and_get_digits", app_play_and_get_digits),
    AppSpec("intercept", app_intercept),
    AppSpec("eavesdrop", app_eavesdrop),
    AppSpec("record_session", app_record_session),
    AppSpec("stop_record_session", app_stop_record_session),
    AppSpec("voicemail", app_voicemail),
    AppSpec("callcenter", app_callcenter),
    AppSpec("callcenter_track", app_callcenter_track, nomedia=True),
    AppSpec("bind_meta_app", app_bind_meta_app, nomedia=True),
    AppSpec("execute_extension", app_execute_extension, nomedia=True),
    AppSpec("att_xfer", app_att_xfer),
    AppSpec("transfer_vars", app_transfer_vars, nomedia=True),
)
