"""The simulated FreeSWITCH: channels, events, api commands, endpoints.

``Switch`` is what mod_event_socket talks to (``simulator.esl_server``): it
fires every event to its listeners, runs api commands with FreeSWITCH's
exact replies (``simulator.commands``) and executes ``sendmsg``.

Routing: the dialplan side installs ``switch.router``, a callable
``router(channel)``. When a channel enters CS_ROUTING (an inbound call, an
``originate <dial> <ext> XML <ctx>``, ``transfer``/``uuid_transfer``) the
switch calls it in the channel's own greenlet. The router fetches the
dialplan (``switch.fetch_xml``), sets CS_EXECUTE and runs the actions
(``switch.run_app``). It returns when it is done or when the channel has
left CS_EXECUTE (transfer, uuid_bridge) or hung up; if the channel is then
back in CS_ROUTING the switch routes it again, and a channel left in
CS_EXECUTE with nothing more to run is hung up with NORMAL_CLEARING, as
FreeSWITCH does at the end of its application list.

Applications: the dialplan side installs ``switch.app_runner``, a callable
``app_runner(channel, app, data) -> None`` that runs one application with
its CHANNEL_EXECUTE events (used for ``originate ... &app(args)``,
``uuid_broadcast`` and ``sendmsg execute``). Until one is installed the
switch knows ``park``, ``playback`` and ``answer`` itself.

XML: ``xml_fetcher(section, form) -> str | None`` gets the form fields
mod_xml_curl would POST (a list of (name, value) pairs, in its order) and
returns the document text, or None for "not found".

Public interface:

- ``Switch(clock=None, hostname="fs1", core_uuid=None, xml_fetcher=None,
  domain="127.0.0.1", ipv4="192.0.2.10", ipv6="::1")``
- ``channels: dict[str, Channel]``, ``endpoints: Endpoints``,
  ``global_vars: dict[str, str]``, ``router``, ``app_runner``
- ``add_listener(callback)``, ``remove_listener(callback)``,
  ``fire(event)`` (stamps the core headers, then delivers)
- ``api(command, args="") -> str``; ``bgapi(command, args="",
  job_uuid=None) -> str`` (the Job-UUID; BACKGROUND_JOB fired when done)
- ``sendmsg(uuid, headers, body=None) -> str`` (the Reply-Text)
- ``new_inbound_call(from_number, to_number, *, profile="external",
  caller_name=None, endpoint=None, variables=None) -> Channel``
- ``inject_dtmf(uuid, digits)``, ``hold(uuid)``, ``unhold(uuid)``,
  ``remote_hangup(uuid, cause="NORMAL_CLEARING")``
- ``originate(dial_string, **kw)`` and ``bridge_app(a_leg, dial_string)``
  (see ``simulator.originate``)
- ``register_phone(user_id, ...)``, ``unregister_phone(user_id)``
- ``fetch_xml(section, ...)``; ``start()`` (heartbeats), ``stop()``
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from simulator.channel import Channel
from simulator.clock import Clock
from simulator.events import Event

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]
XmlFetcher = Callable[[str, list[tuple[str, str]]], str | None]
Router = Callable[[Channel], None]
AppRunner = Callable[[Channel, str, str], None]


class Switch:
    """The whole simulated FreeSWITCH."""

    version = "1.10.12-release+git~20240802T161010Z~a88d069d6f~64bit"

    def __init__(
        self,
        clock: Clock | None = None,
        hostname: str = "fs1",
        core_uuid: str | None = None,
        xml_fetcher: XmlFetcher | None = None,
        domain: str = "127.0.0.1",
        ipv4: str = "192.0.2.10",
        ipv6: str = "::1",
    ) -> None:
        self.clock = clock or Clock()
        self.hostname = hostname
        self.core_uuid = core_uuid or str(uuidlib.uuid4())
        self.xml_fetcher = xml_fetcher
        self.domain = domain
        self.channels: dict[str, Channel] = {}
        self.global_vars: dict[str, str] = {}
        self.router: Router | None = None
        self.app_runner: AppRunner | None = None
        self._listeners: list[Listener] = []

    def new_uuid(self) -> str:
        return str(uuidlib.uuid4())

    def add_listener(self, callback: Listener) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def fire(self, event: Event) -> None:
        raise NotImplementedError

    def api(self, command: str, args: str = "") -> str:
        raise NotImplementedError

    def bgapi(self, command: str, args: str = "", job_uuid: str | None = None) -> str:
        raise NotImplementedError

    def sendmsg(
        self, uuid: str, headers: dict[str, str], body: str | None = None
    ) -> str:
        raise NotImplementedError

    def new_inbound_call(
        self,
        from_number: str,
        to_number: str,
        *,
        profile: str = "external",
        caller_name: str | None = None,
        endpoint: Any = None,
        variables: dict[str, str] | None = None,
    ) -> Channel:
        raise NotImplementedError

    def inject_dtmf(self, uuid: str, digits: str) -> None:
        raise NotImplementedError

    def hold(self, uuid: str) -> None:
        raise NotImplementedError

    def unhold(self, uuid: str) -> None:
        raise NotImplementedError

    def remote_hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError
