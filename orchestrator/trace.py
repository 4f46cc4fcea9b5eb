"""``schakel trace FROM TO``: where a call would go, step by step.

No call is placed. The tracer renders the dialplan exactly as the switch
would fetch it over xml_curl and hunts it with the simulator's dialplan
engine (FreeSWITCH's matching rules), then follows the applications the
way the switch would run them: ``set`` changes the call's variables,
``bridge`` rings someone (the trace assumes nobody answers, so that every
fallback shows), ``transfer`` hunts again, ``park`` hands the call to the
orchestrator (queue, menu, on-call team, opening hours), ``hangup`` ends it.

FROM is a user (extension, user name, DID or SIP user: the call starts in
context ``default`` with that phone's directory variables) or any other
number (an outside caller: context ``public``). ``--at`` sets the moment
the call is made, for time conditions and opening hours.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import zoneinfo
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.etree import ElementTree

import holidays

from orchestrator import settings as settings_mod
from orchestrator.config.render import Renderer
from orchestrator.config.view import ConfigView, ViewCache
from orchestrator.domain import numbering
from orchestrator.settings import Settings
from orchestrator.store import models as m
from orchestrator.store.db import Store
from simulator.dialplan import Hunter, SimpleCall, parse_dialplan
from simulator.originate import DialStringError, parse_dial_string

log = logging.getLogger(__name__)

MAX_HOPS = 30
# Applications that only do bookkeeping as far as the route is concerned.
_QUIET_APPS = frozenset({"log", "hash", "export", "unset", "multiset", "info"})


class TraceError(ValueError):
    """The call cannot be traced: an unknown caller, a bad time."""


@dataclass
class Step:
    """One thing that happens to the call."""

    kind: str
    text: str
    context: str | None = None
    extension: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trace:
    caller: str
    destination: str
    context: str
    at: str
    steps: list[Step] = field(default_factory=list)
    outcome: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, kind: str, text: str, **details: Any) -> Step:
        step = Step(kind, text, details=details)
        self.steps.append(step)
        return step


@dataclass
class _Caller:
    context: str
    number: str
    name: str
    variables: dict[str, str]
    label: str


class _Ended(Exception):
    """The call reached its end (or a point the trace cannot go past)."""


class Tracer:
    """Runs a destination through the rendered dialplan."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.renderer = Renderer(settings, ViewCache(store, settings))
        self.hunter = Hunter(settings.timezone)

    @property
    def view(self) -> ConfigView:
        return self.renderer.views.current()

    def trace(
        self, caller: str, destination: str, at: dt.datetime | None = None
    ) -> Trace:
        moment = at or dt.datetime.now(zoneinfo.ZoneInfo(self.settings.timezone))
        origin = self._caller(caller)
        dialled = numbering.clean(destination)
        if not dialled:
            raise TraceError("no destination given")
        result = Trace(origin.label, dialled, origin.context, moment.isoformat())
        call = SimpleCall(
            dialled,
            origin.number,
            origin.context,
            variables=origin.variables,
            profile={"caller_id_name": origin.name},
            at=moment,
        )
        result.add(
            "call",
            f"{origin.label} calls {dialled} (context {origin.context})",
            caller_id=origin.number,
        )
        try:
            self._follow(result, call, origin.context, dialled, moment)
        except _Ended:
            pass
        if not result.outcome:
            result.outcome = result.steps[-1].kind
        return result

    # -- who calls -------------------------------------------------------------

    def _caller(self, text: str) -> _Caller:
        view = self.view
        user = _find_user(view, text)
        if user is None:
            number = numbering.try_normalise(text, self.settings.country)
            if number is None and not numbering.clean(text).isdigit():
                raise TraceError(f"{text!r} is neither a user nor a telephone number")
            number = number or numbering.clean(text)
            variables = {"sofia_profile_name": "external"}
            return _Caller(
                "public", number, number, variables, f"outside caller {number}"
            )
        if not user.devices:
            raise TraceError(f"user {user.username} has no phone to call from")
        device = user.devices[0]
        variables = self._directory_variables(device.sip_user)
        variables.update(
            {
                "user_name": device.sip_user,
                "sip_from_user": device.sip_user,
                "sofia_profile_name": "internal",
            }
        )
        number = variables.get("effective_caller_id_number") or device.sip_user
        name = variables.get("effective_caller_id_name") or user.name
        label = f"{user.name} ({user.extension or device.sip_user})"
        return _Caller("default", number, name, variables, label)

    def _directory_variables(self, sip_user: str) -> dict[str, str]:
        xml = self.renderer.render_directory(self.view.domain, sip_user)
        if xml is None:
            return {}
        root = ElementTree.fromstring(xml)
        found: dict[str, str] = {}
        for scope in (
            "domain/variables/variable",
            "domain/users/user/variables/variable",
        ):
            for node in root.iterfind(f".//section/{scope}"):
                found[node.get("name", "")] = node.get("value", "")
        return {name: value for name, value in found.items() if name}

    # -- following the dialplan ---------------------------------------------------

    def _follow(
        self,
        trace: Trace,
        call: SimpleCall,
        context: str,
        destination: str,
        moment: dt.datetime,
    ) -> None:
        for _hop in range(MAX_HOPS):
            call.fields["destination_number"] = destination
            call.fields["context"] = context
            found = self._hunt(trace, call, context, destination)
            nxt = self._run(trace, call, context, found, moment)
            if nxt is None:
                return
            destination, context = nxt
        trace.add("loop", f"stopped after {MAX_HOPS} transfers: a loop?")
        trace.outcome = "loop"

    def _hunt(
        self, trace: Trace, call: SimpleCall, context: str, destination: str
    ) -> Any:
        xml = self.renderer.render_dialplan(context, destination)
        if xml is None:
            trace.add("refused", f"context {context} does not exist")
            raise _Ended
        result = self.hunter.hunt(parse_dialplan(xml), call, context)
        matched = result.trace.matched_extensions()
        decisive = matched[-1] if matched else None
        step = trace.add(
            "route",
            f"{destination} in context {context}: "
            + (f"extension {decisive}" if result.found else "no extension matches"),
            matched=matched,
            destination=destination,
        )
        step.context, step.extension = context, decisive
        if not result.found:
            trace.outcome = "no-route"
            raise _Ended
        return result

    def _run(
        self,
        trace: Trace,
        call: SimpleCall,
        context: str,
        found: Any,
        moment: dt.datetime,
    ) -> tuple[str, str] | None:
        """Run the hunted actions; the next (destination, context) or None."""
        actions = list(found.actions)
        index = 0
        while index < len(actions):
            action = actions[index]
            index += 1
            app, data = action.application, call.expand(action.data)
            if app in ("set", "export"):
                call.execute_inline("set", data)
            elif app in _QUIET_APPS:
                continue
            elif app == "bridge":
                if not self._bridge(trace, call, data):
                    return None
            elif app == "transfer":
                return self._transfer(trace, data, context)
            elif app == "park":
                return self._parked(trace, call, moment)
            else:
                self._application(trace, call, app, data)
        trace.add("hangup", "the dialplan ends here: the switch hangs up")
        return None

    def _transfer(self, trace: Trace, data: str, context: str) -> tuple[str, str]:
        words = data.split()
        destination = words[0] if words else ""
        new_context = words[2] if len(words) > 2 else context
        trace.add("transfer", f"on to {destination} in context {new_context}")
        return destination, new_context

    def _application(self, trace: Trace, call: SimpleCall, app: str, data: str) -> None:
        if app == "answer":
            trace.add("answer", "the switch answers the call")
        elif app == "playback":
            trace.add("announcement", f"plays {data}", file=data)
        elif app == "play_and_get_digits":
            trace.add("menu", "asks the caller to press a key; the trace presses none")
            call.set_variable("schakel_vmq_choice", None)
        elif app == "voicemail":
            self._voicemail(trace, data)
        elif app == "hangup":
            self._hangup(trace, call, data)
        elif app == "intercept":
            trace.add("pickup", "picks up a ringing call", uuid=data)
            raise _Ended
        else:
            trace.add(
                "application", f"{app} {data}".strip(), application=app, data=data
            )

    def _voicemail(self, trace: Trace, data: str) -> None:
        words = data.split()
        if words and words[0] == "check":
            trace.add("voicemail", "the caller listens to their voicemail")
        else:
            box = words[-1] if words else ""
            trace.add(
                "voicemail",
                f"voicemail box {box}: the caller leaves a message",
                box=box,
            )
        trace.outcome = "voicemail"
        raise _Ended

    def _hangup(self, trace: Trace, call: SimpleCall, cause: str) -> None:
        cause = cause or "NORMAL_CLEARING"
        refused = call.get_variable("schakel_refused")
        if cause == "OUTGOING_CALL_BARRED" or refused == "barred":
            kind = call.get_variable("schakel_number_kind") or "this kind of"
            text = f"barred: {kind} numbers are outside the caller's traffic class"
            trace.add(
                "barred",
                text,
                cause=cause,
                rights=call.get_variable("schakel_call_rights"),
            )
            trace.outcome = "barred"
        elif cause == "UNALLOCATED_NUMBER":
            trace.add("refused", "no such number: refused as unallocated", cause=cause)
            trace.outcome = "unallocated"
        else:
            trace.add("hangup", f"hangs up ({cause})", cause=cause)
        raise _Ended

    # -- ringing -------------------------------------------------------------------

    def _bridge(self, trace: Trace, call: SimpleCall, data: str) -> bool:
        """Describe who rings; True when the dialplan goes on if unanswered."""
        try:
            dial = parse_dial_string(data)
        except DialStringError as exc:
            trace.add("error", f"bad dial string {data!r}: {exc}")
            raise _Ended from exc
        groups = [
            [self._leg(leg, dial.variables, call) for leg in group]
            for group in dial.groups
        ]
        caller_id = {
            "number": call.get_variable("effective_caller_id_number")
            or call.profile_field("caller_id_number"),
            "name": call.get_variable("effective_caller_id_name")
            or call.profile_field("caller_id_name"),
        }
        mode = "one after the other" if len(groups) > 1 else "together"
        names = " | ".join(", ".join(leg["who"] for leg in group) for group in groups)
        shown = caller_id["number"] or "no number"
        if caller_id["name"] and caller_id["name"] != caller_id["number"]:
            shown = f"{shown} ({caller_id['name']})"
        trace.add(
            "ring",
            f"rings {names} ({mode}), showing {shown}",
            groups=groups,
            caller_id=caller_id,
            diversion=_diversion(dial),
        )
        if call.get_variable("continue_on_fail") not in ("true", "1", "yes"):
            trace.add("connected", "talks with whoever answers; the call ends after")
            trace.outcome = "connected"
            return False
        # Groups ring one after the other, the legs of a group together.
        seconds = sum(max((leg["timeout_s"] or 0) for leg in group) for group in groups)
        cause = unanswered_cause(dial, call)
        trace.add(
            "no-answer",
            f"if nobody answers within {seconds} s ({cause}):",
            timeout_s=seconds,
            cause=cause,
        )
        call.set_variable("originate_disposition", cause)
        call.set_variable("DIALSTATUS", "NOANSWER" if cause == "NO_ANSWER" else cause)
        return True

    def _leg(
        self, leg: Any, common: dict[str, str], call: SimpleCall
    ) -> dict[str, Any]:
        variables = {**common, **leg.variables}
        timeout = variables.get("leg_timeout") or call.get_variable("call_timeout")
        return {
            "endpoint": leg.target,
            "who": self._who(leg.target),
            "timeout_s": int(timeout) if timeout and timeout.isdigit() else None,
            "delay_s": int(variables.get("leg_delay_start", "0") or 0),
        }

    def _who(self, endpoint: str) -> str:
        if endpoint.startswith("user/"):
            sip_user = endpoint[5:].split("@", 1)[0]
            device = self.view.devices.get(sip_user)
            user = (
                self.view.users.get(device.user_id)
                if device and device.user_id
                else None
            )
            if user is not None:
                return f"{user.name} ({device.kind} {sip_user})"
            return f"phone {sip_user}"
        if endpoint.startswith("sofia/gateway/"):
            number = endpoint.rsplit("/", 1)[-1]
            return f"{numbering.national(number, self.settings.country)} (outside)"
        if endpoint.startswith("error/"):
            return f"nobody ({endpoint[6:]})"
        return endpoint

    # -- the orchestrator's part ----------------------------------------------------

    def _parked(
        self, trace: Trace, call: SimpleCall, moment: dt.datetime
    ) -> tuple[str, str] | None:
        target = call.get_variable("schakel_target") or ""
        if target == "schedule":
            return self._schedule(trace, call, moment)
        if target == "feature":
            action = call.get_variable("schakel_action") or "?"
            trace.add(
                "feature", f"feature code {action}: the orchestrator makes the change"
            )
            trace.outcome = "feature"
            raise _Ended
        name = call.get_variable(f"schakel_{target}_name") or ""
        detail = self._parked_detail(target, call.get_variable("schakel_target_id"))
        trace.add(
            "parked",
            f"{target} {name}: the orchestrator takes the call over{detail}",
            target=target,
            name=name,
        )
        trace.outcome = target or "parked"
        raise _Ended

    def _parked_detail(self, kind: str, raw_id: str | None) -> str:
        if not raw_id or not raw_id.isdigit():
            return ""
        view, key = self.view, int(raw_id)
        if kind == "queue" and key in view.queues:
            queue = view.queues[key]
            wait = queue.max_wait_seconds
            return f" ({len(queue.agents)} agents, waits at most {wait} s)"
        if kind == "ivr" and key in view.menus:
            options = ", ".join(
                f"{o.digits}: {o.label or o.target.address}"
                for o in view.menus[key].options
            )
            return f" (menu {options})"
        if kind == "oncall" and key in view.oncall_groups:
            group = view.oncall_groups[key]
            logged_in = [
                m.user.name for m in group.members if getattr(m, "logged_in", False)
            ]
            return f" (rings {', '.join(logged_in) or 'nobody logged in'})"
        return ""

    def _schedule(
        self, trace: Trace, call: SimpleCall, moment: dt.datetime
    ) -> tuple[str, str]:
        schedule_id = call.get_variable("schakel_schedule_id") or ""
        open_target = call.get_variable("schakel_open_target") or "hangup"
        closed_target = call.get_variable("schakel_closed_target") or "hangup"
        is_open = (
            self._is_open(int(schedule_id), moment) if schedule_id.isdigit() else True
        )
        chosen = open_target if is_open else closed_target
        trace.add(
            "schedule",
            f"opening hours at {moment:%a %Y-%m-%d %H:%M}: "
            f"{'open' if is_open else 'closed'}, on to {chosen}",
            open=is_open,
            open_target=open_target,
            closed_target=closed_target,
        )
        return chosen, "targets"

    def _is_open(self, schedule_id: int, moment: dt.datetime) -> bool:
        with self.store.session() as session:
            schedule = session.get(m.TimeSchedule, schedule_id)
            if schedule is None:
                return True
            return schedule_open(schedule, moment)


def schedule_open(schedule: m.TimeSchedule, moment: dt.datetime) -> bool:
    """Whether a schedule is open at ``moment`` (its own time zone)."""
    local = moment.astimezone(
        zoneinfo.ZoneInfo(schedule.timezone or "Europe/Amsterdam")
    )
    clock = local.strftime("%H:%M")
    for exception in schedule.exceptions:
        if exception.day == local.date():
            if not exception.opens or not exception.closes:
                return False
            return exception.opens <= clock < exception.closes
    if schedule.holidays_country:
        if local.date() in holidays.country_holidays(schedule.holidays_country):
            return False
    weekday = local.isoweekday()
    return any(
        weekday in _weekdays(rule.weekdays) and rule.opens <= clock < rule.closes
        for rule in schedule.rules
    )


def _weekdays(text: str) -> set[int]:
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        days.update(range(int(first), int(last or first) + 1))
    return days


def _find_user(view: ConfigView, text: str) -> Any | None:
    cleaned = numbering.clean(text)
    e164 = numbering.try_normalise(cleaned) if cleaned.startswith(("0", "+")) else None
    for user in view.users.values():
        if text in (user.username, user.extension) or (e164 and e164 == user.did):
            return user
    device = view.devices.get(text)
    if device is not None and device.user_id is not None:
        return view.users.get(device.user_id)
    return None


def _diversion(dial: Any) -> str | None:
    for group in dial.groups:
        for leg in group:
            if "sip_h_Diversion" in leg.variables:
                return leg.variables["sip_h_Diversion"]
    return dial.variables.get("sip_h_Diversion")


# -- text and command line ---------------------------------------------------------


def render_text(trace: Trace) -> Iterator[str]:
    yield f"{trace.caller} -> {trace.destination}  ({trace.at})"
    for number, step in enumerate(trace.steps, 1):
        where = f" [{step.context}/{step.extension}]" if step.extension else ""
        yield f"{number:>3}. {step.text}{where}"
    yield f"outcome: {trace.outcome}"


def parse_at(text: str | None, timezone: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise TraceError(
            f"--at {text!r} is not a date and time (2026-12-24T10:30)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
    return moment


def cli(args: argparse.Namespace) -> int:
    cfg = settings_mod.load(args.config)
    store = Store(cfg.database_url)
    try:
        moment = parse_at(args.at, cfg.timezone)
        result = Tracer(cfg, store).trace(args.caller, args.destination, moment)
    except TraceError as exc:
        print(f"schakel trace: {exc}", file=sys.stderr)
        return 2
    finally:
        store.dispose()
    if args.json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(render_text(result)))
    return 0


def unanswered_cause(dial: Any, call: SimpleCall) -> str:
    """The cause an unanswered bridge of ``dial`` ends with, as the switch
    gives it.

    A dial string of one ``user/`` leg rings through the user endpoint's own
    blocking originate: NO_ANSWER. Otherwise the last group decides: a leg
    that runs out of its ``leg_timeout`` before the group's limit ends
    ALLOTTED_TIMEOUT, the group's limit (``originate_timeout``, else the
    call's ``call_timeout``, else 60 s) ends the legs NO_ANSWER.
    """
    groups = dial.groups
    if len(groups) == 1 and len(groups[0]) == 1:
        if groups[0][0].target.startswith("user/"):
            return "NO_ANSWER"
    first = groups[-1][0]
    variables = {**dial.variables, **first.variables}
    limit = _seconds(variables.get("originate_timeout"))
    if limit is None:
        limit = _seconds(call.get_variable("call_timeout")) or 60
    own = _seconds(variables.get("leg_timeout"))
    if own is not None and own < limit:
        return "ALLOTTED_TIMEOUT"
    return "NO_ANSWER"


def _seconds(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and int(text) > 0 else None
