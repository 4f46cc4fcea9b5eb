"""The api commands of the simulated switch, with FreeSWITCH's exact output.

Each command is a function ``(switch, args) -> str`` returning the whole
``api/response`` body as FreeSWITCH 1.10.12 writes it (mod_commands,
mod_sofia, mod_dptools): ``+OK\\n``, ``-ERR No such channel!\\n``, a bare
``uuid_getvar`` value without newline, ``{"row_count": 0}\\n`` ... The switch
(``Switch.api``) fires the ``API`` event once the command has finished and
answers ``-ERR <cmd> Command not found!\\n`` for names not in ``COMMANDS``.
Other parts of the simulator add their own (voicemail, callcenter) with
``Switch.register_api``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import gevent

from simulator.callcenter import api_callcenter_break, api_callcenter_config
from simulator.channel import Channel, Command, str2cause

if TYPE_CHECKING:
    from simulator.switch import Switch

log = logging.getLogger(__name__)

ApiFunction = Callable[["Switch", str], str]

NO_CHANNEL = "-ERR No such channel!\n"

# Columns of ``show channels`` (the channels table of the core db).
CHANNEL_COLUMNS = (
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "read_bit_rate",
    "write_codec",
    "write_rate",
    "write_bit_rate",
    "secure",
    "hostname",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "sent_callee_name",
    "sent_callee_num",
    "initial_cid_name",
    "initial_cid_num",
    "initial_ip_addr",
    "initial_dest",
    "initial_dialplan",
    "initial_context",
)

# The per-leg columns of ``show calls`` (prefixed with ``b_`` for the B leg).
CALL_LEG_COLUMNS = (
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
)


def _stamp(usec: int) -> str:
    moment = dt.datetime.fromtimestamp(usec / 1_000_000, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _var(channel: Channel, name: str) -> str:
    value = channel.get_variable(name)
    return value or ""


def channel_row(switch: Switch, channel: Channel) -> dict[str, str]:
    """One row of the core's channels table, as ``show channels`` shows it."""
    profile = channel.profile
    created = profile.times.get("created", 0)
    codec = channel.codec or ("", "", "")
    # The core db's columns change when an application starts (and a hold
    # empties them), not when it ends.
    application, application_data = channel.listed_app
    first = channel.initial_profile
    # The core db fills the sent_callee columns from CALL_UPDATE and clears
    # them when the bridge ends.
    sent_name = sent_number = ""
    if channel.partner is not None:
        sent_name = _var(channel, "last_sent_callee_id_name")
        sent_number = _var(channel, "last_sent_callee_id_number")
    row = {
        "uuid": channel.uuid,
        "direction": channel.direction,
        "created": _stamp(created),
        "created_epoch": str(created // 1_000_000),
        "name": channel.name,
        "state": channel.state,
        "cid_name": profile.caller_id_name,
        "cid_num": profile.caller_id_number,
        "ip_addr": profile.network_addr,
        "dest": profile.destination_number,
        "application": application,
        "application_data": application_data,
        "dialplan": profile.dialplan,
        "context": profile.context,
        "read_codec": codec[0],
        "read_rate": codec[1],
        "read_bit_rate": codec[2],
        "write_codec": codec[0],
        "write_rate": codec[1],
        "write_bit_rate": codec[2],
        "secure": "",
        "hostname": switch.hostname,
        "presence_id": _var(channel, "presence_id"),
        "presence_data": _var(channel, "presence_data"),
        "accountcode": _var(channel, "accountcode"),
        "callstate": channel.callstate,
        "callee_name": profile.callee_id_name,
        "callee_num": profile.callee_id_number,
        "callee_direction": "SEND" if profile.callee_id_number else "",
        "call_uuid": _var(channel, "call_uuid") or channel.uuid,
        "sent_callee_name": sent_name,
        "sent_callee_num": sent_number,
        "initial_cid_name": first.caller_id_name,
        "initial_cid_num": first.caller_id_number,
        "initial_ip_addr": first.network_addr,
        "initial_dest": first.destination_number,
        "initial_dialplan": first.dialplan,
        "initial_context": first.context,
    }
    return row


def _live(switch: Switch) -> list[Channel]:
    channels = [c for c in switch.channels.values() if c.state != "CS_DESTROY"]
    return sorted(channels, key=lambda c: c.profile.times.get("created", 0))


def _as_json(rows: list[dict[str, str]]) -> str:
    if not rows:
        return '{"row_count": 0}\n'
    return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"))


def _as_text(columns: tuple[str, ...] | list[str], rows: list[dict[str, str]]) -> str:
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(row.get(column, "") for column in columns))
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


def show(switch: Switch, args: str) -> str:
    words = args.split()
    if not words:
        return "-USAGE: show <options>\n"
    what = words[0]
    as_json = words[-2:] == ["as", "json"]
    if what == "channels":
        rows = [channel_row(switch, c) for c in _live(switch)]
        return _as_json(rows) if as_json else _as_text(CHANNEL_COLUMNS, rows)
    if what == "calls":
        rows = _call_rows(switch)
        if as_json:
            return _as_json(rows)
        columns = list(rows[0]) if rows else _call_columns()
        return _as_text(columns, rows)
    if what == "registrations":
        rows = _registration_rows(switch)
        columns = (
            "reg_user",
            "realm",
            "token",
            "url",
            "expires",
            "network_ip",
            "network_port",
            "network_proto",
            "hostname",
            "metadata",
        )
        return _as_json(rows) if as_json else _as_text(columns, rows)
    return f"-USAGE: show {what}\n"


def _call_columns() -> list[str]:
    columns = list(CALL_LEG_COLUMNS) + ["call_uuid", "hostname"]
    columns += ["sent_callee_name", "sent_callee_num"]
    columns += [f"b_{c}" for c in CALL_LEG_COLUMNS]
    columns += ["b_sent_callee_name", "b_sent_callee_num", "call_created_epoch"]
    return columns


def _call_rows(switch: Switch) -> list[dict[str, str]]:
    rows = []
    for channel in _live(switch):
        partner = channel.partner
        if partner is None or channel.other_type != "originatee":
            continue
        a = channel_row(switch, channel)
        b = channel_row(switch, partner)
        row = {c: a[c] for c in CALL_LEG_COLUMNS}
        row["call_uuid"] = a["call_uuid"]
        row["hostname"] = switch.hostname
        row["sent_callee_name"] = a["sent_callee_name"]
        row["sent_callee_num"] = a["sent_callee_num"]
        for column in CALL_LEG_COLUMNS:
            row[f"b_{column}"] = b[column]
        row["b_ip_addr"] = ""
        row["b_sent_callee_name"] = b["sent_callee_name"]
        row["b_sent_callee_num"] = b["sent_callee_num"]
        bridged = channel.profile.times.get("bridged", 0)
        row["call_created_epoch"] = str(bridged // 1_000_000)
        rows.append(row)
    return rows


def _registration_rows(switch: Switch) -> list[dict[str, str]]:
    rows = []
    for registration in switch.endpoints.registrations.values():
        phone = registration.phone
        rows.append(
            {
                "reg_user": phone.user_id,
                "realm": phone.domain,
                "token": registration.call_id,
                "url": f"sofia/{registration.profile}/{phone.contact_uri}",
                "expires": str(int(registration.expires_at)),
                "network_ip": phone.host,
                "network_port": str(phone.port),
                "network_proto": "udp",
                "hostname": switch.hostname,
                "metadata": "",
            }
        )
    return rows


def status(switch: Switch, args: str) -> str:
    from simulator.switch import VERSION_LINE, uptime_text

    count = len(switch.channels)
    peak = switch.peak_sessions
    return (
        f"UP {uptime_text(switch.uptime_us())}\n"
        f"FreeSWITCH (Version {VERSION_LINE}) is ready\n"
        f"{switch.sessions_since_startup} session(s) since startup\n"
        f"{count} session(s) - peak {peak}, last 5min {peak} \n"
        f"0 session(s) per Sec out of max 30, peak {peak}, last 5min {peak} \n"
        "1000 session(s) max\n"
        "min idle cpu 0.00/98.00\n"
        "Current Stack Size/Max 240K/8192K\n"
    )


def version(switch: Switch, args: str) -> str:
    if args.strip() == "short":
        return "1.10.12\n"
    return (
        f"FreeSWITCH Version {switch.version} "
        "(git a88d069 2024-08-02 21:02:27Z 64bit)\n"
    )


def _channel_arg(switch: Switch, args: str) -> tuple[Channel | None, list[str]]:
    words = args.split()
    if not words:
        return None, []
    return switch.channels.get(words[0]), words[1:]


def uuid_getvar(switch: Switch, args: str) -> str:
    words = args.split()
    if len(words) < 2:
        return "-USAGE: <uuid> <var>\n"
    channel = switch.channels.get(words[0])
    if channel is None:
        return NO_CHANNEL
    value = channel.get_variable(words[1])
    return "_undef_" if value is None else value


def uuid_setvar(switch: Switch, args: str) -> str:
    parts = args.split(None, 2)
    if len(parts) < 2:
        return "-USAGE: <uuid> <var> [value]\n"
    channel = switch.channels.get(parts[0])
    if channel is None:
        return NO_CHANNEL
    name = parts[1]
    value = parts[2] if len(parts) > 2 else None
    if value is not None and value.strip() == "":
        value = None
    channel.set_variable(name, value)
    return "+OK\n"


def uuid_setvar_multi(switch: Switch, args: str) -> str:
    parts = args.split(None, 1)
    if len(parts) < 2:
        return "-USAGE: <uuid> <var>=<value>;<var>=<value>\n"
    channel = switch.channels.get(parts[0])
    if channel is None:
        return NO_CHANNEL
    for item in parts[1].split(";"):
        name, _, value = item.partition("=")
        if name:
            channel.set_variable(name.strip(), value or None)
    return "+OK\n"


def uuid_exists(switch: Switch, args: str) -> str:
    return "true" if args.split() and args.split()[0] in switch.channels else "false"


def uuid_kill(switch: Switch, args: str) -> str:
    channel, rest = _channel_arg(switch, args)
    if channel is None:
        return NO_CHANNEL
    cause = str2cause(rest[0]) if rest else "NORMAL_CLEARING"
    channel.hangup(cause)
    return "+OK\n"


def uuid_bridge(switch: Switch, args: str) -> str:
    words = args.split()
    if len(words) < 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    a = switch.channels.get(words[0])
    b = switch.channels.get(words[1])
    if a is None or b is None or a.hungup or b.hungup:
        return f"-ERR Invalid uuid {words[1] if a else words[0]}\n"
    switch.uuid_bridge(a, b)
    gevent.sleep(0)
    return f"+OK {b.uuid}\n"


def uuid_transfer(switch: Switch, args: str) -> str:
    words = args.split()
    if len(words) < 2:
        return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    channel = switch.channels.get(words[0])
    if channel is None:
        return "-ERR No such channel!\n"
    rest = words[1:]
    legs = [channel]
    if rest[0] in ("-bleg", "-both"):
        flag = rest.pop(0)
        partner = channel.partner
        if flag == "-bleg":
            legs = [partner] if partner is not None else []
        elif partner is not None:
            legs = [channel, partner]
    if not rest or not legs:
        return "-ERR No such channel!\n"
    destination = rest[0]
    dialplan = rest[1] if len(rest) > 1 else "XML"
    context = rest[2] if len(rest) > 2 else None
    for leg in legs:
        leg.transfer(destination, dialplan, context)
    gevent.sleep(0)
    return "+OK\n"


def uuid_broadcast(switch: Switch, args: str) -> str:
    words = args.split()
    if len(words) < 2:
        return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
    channel = switch.channels.get(words[0])
    if channel is None:
        return NO_CHANNEL
    path = words[1]
    which = words[2] if len(words) > 2 else "aleg"
    targets = []
    if which in ("aleg", "both"):
        targets.append(channel)
    if which in ("bleg", "both") and channel.partner is not None:
        targets.append(channel.partner)
    hangup_after = False
    if path.startswith("!"):
        hangup_after = True
        path = path[1:]
    app, arg = "playback", path
    if "::" in path:
        app, _, arg = path.partition("::")
    for target in targets:
        headers = [
            ("call-command", "execute"),
            ("execute-app-name", app),
            ("execute-app-arg", arg),
            ("event-lock", "true"),
            ("lead-frames", "5"),
        ]
        target.queue_command(
            Command(
                app=app,
                arg=arg,
                headers=headers,
                sequence=switch.next_sequence(),
                hangup_after=hangup_after,
            )
        )
    gevent.sleep(0)
    return "+OK Message sent\n"


def uuid_break(switch: Switch, args: str) -> str:
    channel, _ = _channel_arg(switch, args)
    if channel is None:
        return NO_CHANNEL
    channel.request_break()
    return "+OK\n"


def uuid_hold(switch: Switch, args: str) -> str:
    words = args.split()
    if not words:
        return "-USAGE: [off|toggle] <uuid> [<display>]\n"
    mode = "on"
    if words[0] in ("off", "toggle"):
        mode = words.pop(0)
    channel = switch.channels.get(words[0]) if words else None
    if channel is None:
        return NO_CHANNEL
    if mode == "toggle":
        mode = "off" if channel.held else "on"
    if mode == "on":
        switch.hold(channel.uuid)
    else:
        switch.unhold(channel.uuid)
    return "+OK Success\n"


def uuid_answer(switch: Switch, args: str) -> str:
    channel, _ = _channel_arg(switch, args)
    if channel is None:
        return NO_CHANNEL
    if channel.direction == "inbound":
        channel.answer()
    return "+OK\n"


def uuid_park(switch: Switch, args: str) -> str:
    channel, _ = _channel_arg(switch, args)
    if channel is None:
        return NO_CHANNEL
    channel.queue_command(
        Command(
            "park",
            "",
            [("call-command", "execute"), ("execute-app-name", "park")],
            sequence=switch.next_sequence(),
        )
    )
    return "+OK\n"


def uuid_record(switch: Switch, args: str) -> str:
    words = args.split()
    if len(words) < 3:
        return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>]\n"
    channel = switch.channels.get(words[0])
    if channel is None:
        return NO_CHANNEL
    action, path = words[1], words[2]
    if action == "start":
        channel.record_start(path)
    elif action == "stop":
        if not channel.record_stop(path):
            return "-ERR Cannot stop record session!\n"
    return "+OK Success\n"


def uuid_displace(switch: Switch, args: str) -> str:
    words = args.split()
    if len(words) < 3:
        return "-USAGE: <uuid> [start|stop] <path> [<limit>] [mux]\n"
    channel = switch.channels.get(words[0])
    if channel is None:
        return NO_CHANNEL
    return "+OK Success\n"


def uuid_send_dtmf(switch: Switch, args: str) -> str:
    channel, rest = _channel_arg(switch, args)
    if channel is None:
        return NO_CHANNEL
    return "+OK Success\n"


def uuid_dump(switch: Switch, args: str) -> str:
    channel, rest = _channel_arg(switch, args)
    if channel is None:
        return NO_CHANNEL
    from simulator import headers as hdr
    from simulator.events import stamp

    event = hdr.channel_event(channel, "CHANNEL_DATA")
    event.origin = hdr.CallSite("mod_commands.c", "uuid_dump_function", 6468)
    stamp(event, switch.identity, switch.next_sequence(), switch.clock.now_us())
    if rest and rest[0] == "json":
        return event.to_json()
    lines = []
    for name, value in event.headers:
        text = value if isinstance(value, str) else "|:".join(value)
        lines.append(f"{name}: {text}")
    return "\n".join(lines) + "\n\n"


ORIGINATE_USAGE = (
    "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] "
    "[<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
)


_UNESCAPED = {"n": "\n", "r": "\r", "t": "\t", "s": " ", "'": "'", '"': '"', "\\": "\\"}


def separate_words(text: str) -> list[str]:
    """switch_separate_string with a blank: words split at spaces outside
    single quotes; the quotes go, and so do the backslashes of \\' \\" \\\\
    \\n \\r \\t \\s. Any other escape (``\\,`` in a dial string) is kept
    as it is, for the dial string parser."""
    words: list[str] = []
    current: list[str] = []
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index : index + 2])
            index += 2
            continue
        if char == "'":
            quoted = not quoted
        if char == " " and not quoted:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
        index += 1
    if current:
        words.append("".join(current))
    return [_clean_word(word) for word in words]


def _clean_word(word: str) -> str:
    """cleanup_separated_string: unescape, and drop paired single quotes."""
    out: list[str] = []
    quoted = False
    index = 0
    while index < len(word):
        char = word[index]
        following = word[index + 1 : index + 2]
        if char == "\\" and following in _UNESCAPED:
            out.append(_UNESCAPED[following])
            index += 2
            continue
        # A quote opens only when another one follows somewhere.
        if char == "'" and (quoted or "'" in word[index + 1 :]):
            quoted = not quoted
        else:
            out.append(char)
        index += 1
    return "".join(out)


def originate(switch: Switch, args: str) -> str:
    """originate <dial> <&app(args)|exten> [dialplan] [context] [cid_name]
    [cid_num] [timeout]."""
    from simulator.originate import DialStringError, run_b_leg
    from simulator.originate import originate as do_originate

    words = separate_words(args)
    if len(words) < 2:
        return ORIGINATE_USAGE
    dial, what = words[0], words[1]
    dialplan = words[2] if len(words) > 2 else "XML"
    context = words[3] if len(words) > 3 else "default"
    variables: dict[str, str] = {}
    if len(words) > 4 and words[4] not in ("undef", ""):
        variables["origination_caller_id_name"] = words[4]
    if len(words) > 5 and words[5] not in ("undef", ""):
        variables["origination_caller_id_number"] = words[5]
    timeout = None
    if len(words) > 6 and words[6].isdigit():
        timeout = float(words[6])
    try:
        result = do_originate(switch, dial, timeout=timeout, variables=variables)
    except DialStringError:
        return "-ERR DESTINATION_OUT_OF_ORDER\n"
    if not result.ok or result.channel is None:
        return f"-ERR {result.cause}\n"
    b_leg = result.channel
    _flip_cid(b_leg)
    run_b_leg(b_leg, what, dialplan, context)
    return f"+OK {b_leg.uuid}\n"


def _flip_cid(channel: Channel) -> None:
    """switch_channel_flip_cid: an originated leg shows the far end's id."""
    profile = channel.profile
    from simulator.originate import accepted

    channel.fire("CHANNEL_OUTGOING")
    # The leg is handed to the dialplan (an application or an extension).
    channel.hit_dialplan = True
    accepted(channel)
    channel.set_variable("pre_transfer_caller_id_name", profile.caller_id_name)
    channel.set_variable("pre_transfer_caller_id_number", profile.caller_id_number)
    (
        profile.caller_id_name,
        profile.caller_id_number,
        profile.callee_id_name,
        profile.callee_id_number,
    ) = (
        profile.callee_id_name,
        profile.callee_id_number,
        profile.caller_id_name,
        profile.caller_id_number,
    )
    channel.set_variable("channel_cid_flipped", "yes")
    channel.fire("CALL_UPDATE", site="CALL_UPDATE_FLIP", lead=[("Direction", "RECV")])


def reloadxml(switch: Switch, args: str) -> str:
    return "+OK [Success]\n"


def xml_flush_cache(switch: Switch, args: str) -> str:
    return "+OK cleared 0 entries\n"


def global_getvar(switch: Switch, args: str) -> str:
    name = args.strip()
    if not name:
        lines = [f"{key}={value}" for key, value in switch.global_vars.items()]
        return "\n".join(lines) + "\n"
    return switch.global_vars.get(name, "")


def global_setvar(switch: Switch, args: str) -> str:
    name, _, value = args.partition("=")
    name = name.strip()
    if not name:
        return "-USAGE: <var>=<value>\n"
    if value.strip():
        switch.global_vars[name] = value.strip()
    else:
        switch.global_vars.pop(name, None)
    return "+OK\n"


def hupall(switch: Switch, args: str) -> str:
    words = args.split()
    cause = words[0].upper() if words else "MANAGER_REQUEST"
    var_name = words[1] if len(words) > 2 else None
    var_value = words[2] if len(words) > 2 else None
    for channel in list(switch.channels.values()):
        if var_name and channel.get_variable(var_name) != var_value:
            continue
        channel.hangup(cause)
    return "+OK\n"


def sofia_contact(switch: Switch, args: str) -> str:
    spec = args.strip()
    profile = None
    if "/" in spec:
        profile, _, spec = spec.partition("/")
        if profile == "*":
            profile = None
    user, _, domain = spec.partition("@")
    domain = domain or switch.domain
    registration = switch.endpoints.registration(user, domain)
    if registration is None or (profile and profile != registration.profile):
        return "error/user_not_registered"
    return f"sofia/{registration.profile}/{registration.phone.contact_uri}"


def sofia(switch: Switch, args: str) -> str:
    words = args.split()
    if words[:1] == ["status"] and len(words) == 1:
        return _sofia_status(switch)
    if words[:2] == ["status", "profile"] and len(words) >= 3:
        profile = words[2]
        if profile not in switch.profiles:
            return "Invalid Profile!\n"
        if len(words) >= 4 and words[3] == "reg":
            return _sofia_reg(switch, profile)
        return _sofia_profile(switch, profile)
    if words[:1] == ["status"] and len(words) >= 3 and words[1] == "gateway":
        gateway = switch.endpoints.gateway(words[2])
        if gateway is None:
            return "Invalid Gateway!\n"
        return f"Name    \t{gateway.name}\nState   \tREGED\nStatus  \tUP\n"
    return "+OK\n"


_RULE = "=" * 97


def _sofia_status(switch: Switch) -> str:
    header = f"{'Name':>21}\t{'Type':>4}\t{'Data':<48}\t{'State'}"
    lines = [header, _RULE]
    for name, profile in switch.profiles.items():
        lines.append(f"{name:>21}\tprofile\t{profile.url:<48}\tRUNNING (0)")
    for name, gateway in switch.endpoints.gateways.items():
        alias = "external::" + name
        data = f"sip:{name}@{gateway.host}"
        lines.append(f"{alias:>21}\tgateway\t{data:<48}\tNOREG")
    lines.append(_RULE)
    lines.append(
        f"{len(switch.profiles)} profiles {len(switch.endpoints.gateways)} aliases"
    )
    return "\n".join(lines) + "\n"


def _sofia_profile(switch: Switch, name: str) -> str:
    profile = switch.profiles[name]
    return (
        f"{_RULE}\nName             \t{name}\nDomain Name      \tN/A\n"
        f"URL              \t{profile.url}\n{_RULE}\n"
    )


def _sofia_reg(switch: Switch, name: str) -> str:
    lines = ["", "Registrations:", _RULE]
    count = 0
    for registration in switch.endpoints.registrations.values():
        if registration.profile != name:
            continue
        count += 1
        phone = registration.phone
        expires_at = registration.expires_at
        left = int(expires_at - switch.clock.now())
        lines += [
            f"Call-ID:    \t{registration.call_id}",
            f"User:       \t{phone.user_id}@{phone.domain}",
            f'Contact:    \t"" <{phone.contact_uri}>',
            f"Agent:      \t{phone.user_agent}",
            "Status:     \tRegistered(UDP)(unknown) "
            f"EXP({_stamp(int(expires_at * 1_000_000))}) EXPSECS({left})",
            "Ping-Status:\tReachable",
            "Ping-Time:\t0.00",
            f"Host:       \t{switch.hostname}",
            f"IP:         \t{phone.host}",
            f"Port:       \t{phone.port}",
            f"Auth-User:  \t{phone.user_id}",
            f"Auth-Realm: \t{phone.domain}",
            f"MWI-Account:\t{phone.user_id}@{phone.domain}",
            "",
        ]
    lines += [f"Total items returned: {count}", _RULE]
    return "\n".join(lines) + "\n"


def user_exists(switch: Switch, args: str) -> str:
    words = args.split()
    if len(words) < 3:
        return "-USAGE: <key> <user> <domain>\n"
    found = switch.lookup_user(words[1], words[2], "user_exists")
    return "true" if found is not None else "false"


def hostname(switch: Switch, args: str) -> str:
    return switch.hostname


def eval_(switch: Switch, args: str) -> str:
    from simulator.originate import expand

    return expand(args, switch.global_vars.get, switch)


COMMANDS: dict[str, ApiFunction] = {
    "status": status,
    "version": version,
    "show": show,
    "uuid_getvar": uuid_getvar,
    "uuid_setvar": uuid_setvar,
    "uuid_setvar_multi": uuid_setvar_multi,
    "uuid_exists": uuid_exists,
    "uuid_kill": uuid_kill,
    "uuid_bridge": uuid_bridge,
    "uuid_transfer": uuid_transfer,
    "uuid_broadcast": uuid_broadcast,
    "uuid_break": uuid_break,
    "uuid_hold": uuid_hold,
    "uuid_answer": uuid_answer,
    "uuid_park": uuid_park,
    "uuid_record": uuid_record,
    "uuid_displace": uuid_displace,
    "uuid_send_dtmf": uuid_send_dtmf,
    "uuid_dump": uuid_dump,
    "originate": originate,
    "reloadxml": reloadxml,
    "xml_flush_cache": xml_flush_cache,
    "global_getvar": global_getvar,
    "global_setvar": global_setvar,
    "hupall": hupall,
    "sofia_contact": sofia_contact,
    "sofia": sofia,
    "user_exists": user_exists,
    "hostname": hostname,
    "eval": eval_,
    "callcenter_config": api_callcenter_config,
    "callcenter_break": api_callcenter_break,
}
