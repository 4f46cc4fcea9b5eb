"""Routing a channel: fetch its dialplan, hunt, run the applications.

This is FreeSWITCH's CS_ROUTING and CS_EXECUTE for the XML dialplan
(switch_core_standard_on_routing / on_execute with mod_dialplan_xml),
installed as the switch's ``router``:

- ``call_uuid`` is set (moved to the end of the variables, as FreeSWITCH
  does on every routing);
- the dialplan is fetched like mod_xml_curl: a REQUEST_PARAMS event that
  takes an Event-Sequence number and is never delivered, POSTed as the
  channel's data plus the hunted caller profile (``Hunt-*``);
- no document, no context (and no "global" context) or no matching
  extension: the call is hung up with NO_ROUTE_DESTINATION;
- otherwise CS_EXECUTE, and the applications run one after the other
  until one stops the dialplan or the channel is interrupted (hangup,
  transfer, uuid_bridge); the switch hangs up a channel whose list ran out.

The ``inline`` dialplan (``transfer 'app:arg,app2:arg' inline``) is
supported too. Every hunt's trace is kept per channel (`Router.traces`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from simulator.apps import (
    Applications,
    LookupFailed,
    expand,
    profile_field,
)
from simulator.dialplan import (
    Action,
    DialplanError,
    Hunter,
    HuntResult,
    HuntTrace,
    parse_dialplan_cached,
)
from simulator.events import stamp
from simulator.xmlcurl import XmlCurlError, build_form, dialplan_event

if TYPE_CHECKING:
    from simulator.channel import Channel
    from simulator.switch import Switch

log = logging.getLogger(__name__)

CS_EXECUTE = "CS_EXECUTE"


class ChannelTarget:
    """A live channel as the dialplan hunter sees it (a `HuntTarget`)."""

    def __init__(self, channel: Channel, apps: Applications) -> None:
        self.channel = channel
        self.apps = apps

    def profile_field(self, name: str) -> str | None:
        return profile_field(self.channel, name)

    def expand(self, text: str) -> str:
        return expand(self.channel, text)

    def get_variable(self, name: str) -> str | None:
        return self.channel.get_variable(name)

    def set_variable(self, name: str, value: str | None) -> None:
        self.channel.set_variable(name, value)

    def push_variable(self, name: str, value: str) -> None:
        self.channel.push_variable(name, value)

    def unset_prefix(self, prefix: str) -> None:
        for name in [n for n in self.channel.variables if n.startswith(prefix)]:
            self.channel.set_variable(name, None)

    def execute_inline(self, application: str, data: str) -> None:
        self.apps.run_inline(self.channel, application, data)

    def now(self) -> float:
        return self.channel.switch.clock.now()


class Router:
    """The switch's router: one instance routes every channel."""

    def __init__(
        self,
        switch: Switch,
        apps: Applications,
        *,
        tz: dt.tzinfo | str | None = None,
        keep_traces: int = 2000,
        on_hunt: Callable[[Channel, HuntResult], None] | None = None,
    ) -> None:
        self.switch = switch
        self.apps = apps
        self.hunter = Hunter(tz)
        self.traces: OrderedDict[str, list[HuntTrace]] = OrderedDict()
        self.keep_traces = keep_traces
        self.on_hunt = on_hunt

    def install(self) -> None:
        """Become ``switch.router`` (and install the applications)."""
        self.apps.install()
        self.apps.router = self
        self.switch.router = self.route

    # -- routing ---------------------------------------------------------

    def route(self, channel: Channel) -> None:
        """CS_ROUTING then CS_EXECUTE, in the channel's own greenlet."""
        channel.set_variable("call_uuid", channel.uuid)
        actions = self.find_actions(channel)
        if actions is None:
            profile = channel.profile
            log.info(
                "channel %s: no route for %s in %s",
                channel.uuid,
                profile.destination_number,
                profile.context,
            )
            channel.hangup("NO_ROUTE_DESTINATION")
            return
        channel.set_state(CS_EXECUTE)
        for action in actions:
            if channel.interrupted:
                return
            if not self.apps.run(channel, action.application, action.data):
                return

    def find_actions(self, channel: Channel) -> list[Action] | None:
        """The caller extension's actions, or None when there is no route."""
        dialplan = (channel.profile.dialplan or "XML").split(",")[0].split(":")[0]
        if dialplan.lower() == "inline":
            return inline_actions(channel.profile.destination_number)
        if dialplan.upper() != "XML":
            log.error("channel %s: dialplan %s not found", channel.uuid, dialplan)
            return None
        result = self.hunt(channel)
        if result is None or not result.found:
            return None
        return result.actions

    def hunt(self, channel: Channel) -> HuntResult | None:
        """Fetch the channel's dialplan over xml_curl and hunt it."""
        text = self._fetch(channel)
        if text is None:
            return None
        try:
            dialplan = parse_dialplan_cached(text)
        except DialplanError as error:
            self.apps.record(LookupFailed(channel.uuid, "dialplan", str(error)))
            return None
        result = self.hunter.hunt(dialplan, ChannelTarget(channel, self.apps))
        self._keep(channel.uuid, result.trace)
        log.debug("channel %s: hunted %s in %s: %s", channel.uuid,
                  result.trace.destination_number, result.trace.context,
                  result.extension)  # fmt: skip
        if self.on_hunt is not None:
            self.on_hunt(channel, result)
        return result

    def _fetch(self, channel: Channel) -> str | None:
        switch = self.switch
        event = dialplan_event(channel)
        stamp(event, switch.identity, switch.next_sequence(), switch.clock.now_us())
        form = build_form(switch.hostname, "dialplan", event)
        fetcher = switch.xml_fetcher
        if fetcher is None:
            log.error("channel %s: no xml_curl binding for the dialplan", channel.uuid)
            return None
        try:
            return switch.call_fetcher("dialplan", form)
        except XmlCurlError as error:
            self.apps.record(LookupFailed(channel.uuid, "dialplan", str(error)))
            return None

    def _keep(self, uuid: str, trace: HuntTrace) -> None:
        self.traces.setdefault(uuid, []).append(trace)
        self.traces.move_to_end(uuid)
        while len(self.traces) > self.keep_traces:
            self.traces.popitem(last=False)


def inline_actions(destination: str) -> list[Action]:
    """The ``inline`` dialplan: ``app:arg,app2:arg2`` (``^^<d>`` sets the delimiter)."""
    delimiter = ","
    if destination.startswith("^^") and len(destination) > 2:
        delimiter, destination = destination[2], destination[3:]
    actions = []
    for item in destination.split(delimiter):
        if not item:
            continue
        application, _, data = item.partition(":")
        actions.append(Action(application, data))
    return actions
