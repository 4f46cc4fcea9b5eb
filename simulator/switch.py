"""The simulated FreeSWITCH: channels, events, api commands, endpoints.

``Switch`` is what mod_event_socket talks to (``simulator.esl_server``
defines the ``SwitchCore`` protocol it implements): it fires every event to
its listeners, runs api commands with FreeSWITCH's exact replies
(``simulator.commands``) and executes ``sendmsg``.

Routing: the dialplan side installs ``switch.router``, a callable
``router(channel)``. When a channel enters CS_ROUTING (an inbound call, an
``originate <dial> <ext> XML <ctx>``, ``transfer``/``uuid_transfer``) the
switch calls it in the channel's own greenlet. The router fetches the
dialplan (``switch.fetch_xml``), calls ``channel.set_state(CS_EXECUTE)`` and
runs the actions (``switch.run_app``), checking ``channel.interrupted``
after each. It returns when it is done or interrupted; if the channel is
then to be routed again (transfer) the switch calls the router again, and a
channel with nothing more to run is hung up with NORMAL_CLEARING, as
FreeSWITCH does at the end of its application list. Without a router every
call is hung up with NO_ROUTE_DESTINATION.

Applications: the dialplan side installs ``switch.app_runner``, a callable
``app_runner(channel, app, data)`` running one application inside
``channel.execute(app, data)``. It is used for ``originate ... &app(args)``,
``uuid_broadcast`` and ``sendmsg execute``. Until one is installed the
switch runs ``answer``, ``park``, ``playback``, ``hangup``, ``set``,
``sleep`` and ``bridge`` itself.

XML: ``xml_fetcher(section, form) -> str | None`` gets the form fields
mod_xml_curl would POST (a list of (name, value) pairs, in its order) and
returns the document text, or None for "not found".

Public interface:

- ``Switch(clock=None, hostname="fs1", core_uuid=None, xml_fetcher=None,
  domain="127.0.0.1", ipv4="192.0.2.10", ipv6="::1", sip_ip="127.0.0.1")``
- ``channels: dict[str, Channel]``, ``endpoints: Endpoints``,
  ``global_vars: dict[str, str]``, ``router``, ``app_runner``,
  ``sounds: dict[str, float]`` (lengths of sound files, virtual seconds),
  ``pickups`` (the ``pickup/<key>`` groups, ``simulator.pickup``)
- ``add_listener(callback)``, ``remove_listener(callback)``,
  ``fire(event)`` (stamps the core headers, then delivers)
- ``api(command, args="") -> str``, ``register_api(name, function)``
- ``sendmsg(uuid, headers, body=None) -> str`` (the Reply-Text)
- ``new_inbound_call(from_number, to_number, *, profile="external",
  caller_name=None, endpoint=None, variables=None) -> Channel``
- ``inject_dtmf(uuid, digits)``, ``hold(uuid)``, ``unhold(uuid)``,
  ``remote_hangup(uuid, cause="NORMAL_CLEARING")``
- ``originate(dial_string, **kw)`` and ``bridge_app(a_leg, dial_string)``
  (see ``simulator.originate``); ``uuid_bridge(a, b)``
- ``add_phone(user_id, ...)``, ``register(user_id, ...)``,
  ``unregister(user_id, ...)``, ``add_gateway(name, ...)``
- ``fetch_xml(section, ...)``, ``lookup_user(user, domain, action)``,
  ``call_fetcher(section, form)`` (the binding itself, virtual time held)
- ``start()`` (heartbeats), ``stop()``
"""

from __future__ import annotations

import itertools
import logging
import re
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gevent

from simulator import commands, endpoints
from simulator.channel import (
    CS_EXECUTE,
    CS_HIBERNATE,
    CS_INIT,
    CS_NEW,
    CS_ROUTING,
    STATE_NUMBERS,
    CallerProfile,
    Channel,
    Command,
    call_update,
)
from simulator.clock import Clock
from simulator.endpoints import (
    Behaviour,
    Endpoints,
    Gateway,
    Phone,
    Registration,
    SipLeg,
    SipProfile,
)
from simulator.events import CallSite, Event, SwitchIdentity, core_headers, stamp
from simulator.headers import SITES, basic_headers, profile_headers, variable_headers
from simulator.pickup import PickupGroups

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]
XmlFetcher = Callable[[str, list[tuple[str, str]]], "str | None"]
Router = Callable[[Channel], None]
AppRunner = Callable[[Channel, str, str], None]

VERSION = "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit"
VERSION_LINE = "1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit"

HEARTBEAT_INTERVAL = 20.0

# Lengths (virtual seconds) of files nobody told the switch about: the
# simulator has no sound files, so every file "exists" with this length.
DEFAULT_FILE_SECONDS = 2.0

_TONE_SEGMENT = re.compile(r"%\(([^)]*)\)")


class SwitchError(Exception):
    """A request the simulated switch cannot honour."""


@dataclass
class DirectoryUser:
    """A user as the directory (xml_curl) describes it."""

    user_id: str
    domain: str
    params: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    domain_params: dict[str, str] = field(default_factory=dict)
    domain_variables: dict[str, str] = field(default_factory=dict)

    @property
    def dial_string(self) -> str | None:
        return self.params.get("dial-string") or self.domain_params.get("dial-string")


class Switch:
    """The whole simulated FreeSWITCH."""

    version = VERSION

    def __init__(
        self,
        clock: Clock | None = None,
        hostname: str = "fs1",
        core_uuid: str | None = None,
        xml_fetcher: XmlFetcher | None = None,
        domain: str = "127.0.0.1",
        ipv4: str = "192.0.2.10",
        ipv6: str = "::1",
        sip_ip: str = "127.0.0.1",
    ) -> None:
        self.clock = clock or Clock()
        self.hostname = hostname
        self.core_uuid = core_uuid or str(uuidlib.uuid4())
        self.identity = SwitchIdentity(
            core_uuid=self.core_uuid,
            hostname=hostname,
            switchname=hostname,
            ipv4=ipv4,
            ipv6=ipv6,
        )
        self.xml_fetcher = xml_fetcher
        self.domain = domain
        self.profiles = {
            "internal": SipProfile("internal", sip_ip, 5060),
            "external": SipProfile("external", sip_ip, 5080),
        }
        self.channels: dict[str, Channel] = {}
        self.endpoints = Endpoints()
        self.global_vars: dict[str, str] = {
            "hostname": hostname,
            "domain": domain,
            "local_ip_v4": sip_ip,
            "hold_music": "local_stream://moh",
            "conf_dir": "/usr/local/freeswitch/conf",
            "sounds_dir": "/usr/local/freeswitch/sounds",
            "recordings_dir": "/usr/local/freeswitch/recordings",
            "storage_dir": "/usr/local/freeswitch/var/lib/freeswitch/storage",
        }
        self.router: Router | None = None
        self.app_runner: AppRunner | None = None
        self.sounds: dict[str, float] = {}
        self.voicemail_counts: Callable[[str, str], tuple[int, int]] | None = None
        self.api_commands: dict[str, commands.ApiFunction] = dict(commands.COMMANDS)
        self.started_at = self.clock.monotonic()
        self.sessions_since_startup = 0
        self.peak_sessions = 0
        self._listeners: list[Listener] = []
        self._sequence = itertools.count(1)
        self._session_ids = itertools.count(1)
        self._heartbeat: gevent.Greenlet | None = None
        self.pickups = PickupGroups(self)

    # ------------------------------------------------------------------ ids

    def new_uuid(self) -> str:
        return str(uuidlib.uuid4())

    def next_sequence(self) -> int:
        """Take an Event-Sequence number (REQUEST_PARAMS take one too)."""
        return next(self._sequence)

    def next_session_id(self) -> int:
        return next(self._session_ids)

    # --------------------------------------------------------------- events

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def fire(self, event: Event, sequence: int | None = None) -> None:
        """Stamp the core headers (unless present) and deliver the event.

        ``sequence`` is an Event-Sequence number taken earlier (an API event
        takes its number when the command starts).
        """
        stamped = any(name == "Core-UUID" for name, _ in event.headers[:3])
        if event.name == "PRIVATE_COMMAND" and stamped:
            self._stamp_private_command(event, sequence)
        elif not stamped:
            if sequence is None:
                sequence = self.next_sequence()
            stamp(event, self.identity, sequence, self.clock.now_us())
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed on %s", event.name)

    def _stamp_private_command(self, event: Event, sequence: int | None) -> None:
        """PRIVATE_COMMAND carries the COMMAND's core headers, then its own."""
        if sequence is None:
            sequence = self.next_sequence()
        own = core_headers(
            "PRIVATE_COMMAND",
            self.identity,
            sequence,
            self.clock.now_us(),
            SITES["PRIVATE_COMMAND"],
        )
        split = next(
            i for i, (name, _) in enumerate(event.headers) if name == "Channel-State"
        )
        event.headers = event.headers[:split] + list(own) + event.headers[split:]

    def channel_exists(self, uuid: str) -> bool:
        return uuid in self.channels

    def channel(self, uuid: str) -> Channel | None:
        return self.channels.get(uuid)

    def forget_channel(self, channel: Channel) -> None:
        self.channels.pop(channel.uuid, None)

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.uuid] = channel
        self.sessions_since_startup += 1
        self.peak_sessions = max(self.peak_sessions, len(self.channels))

    # ---------------------------------------------------------------- api

    def api(self, command: str, args: str = "") -> str:
        """Run an api command; the API event is fired once it has finished."""
        command = command.strip()
        args = args.strip() if args else ""
        sequence = self.next_sequence()
        function = self.api_commands.get(command)
        if function is None:
            output = f"-ERR {command} Command not found!\n"
        else:
            try:
                output = function(self, args)
            except Exception as error:
                log.exception("api %s %s failed", command, args)
                output = f"-ERR {error}\n"
        event = Event("API", origin=SITES["API"])
        event.add("API-Command", command)
        if args:
            event.add("API-Command-Argument", args)
        self.fire(event, sequence=sequence)
        return output

    def register_api(self, name: str, function: commands.ApiFunction) -> None:
        """Add an api command (e.g. ``vm_boxcount`` from the voicemail app)."""
        self.api_commands[name] = function

    def internal_api(self, command: str, args: str) -> str:
        """An api call FreeSWITCH makes itself (still fires an API event)."""
        return self.api(command, args)

    # ------------------------------------------------------------- sendmsg

    def sendmsg(
        self, uuid: str, headers: Sequence[tuple[str, str]], body: str | None = None
    ) -> str:
        """Queue a message on a channel, as mod_event_socket's sendmsg."""
        channel = self.channels.get(uuid)
        if channel is None or channel.hungup:
            return f"-ERR invalid session id [{uuid}]"
        fields = {name.lower(): value for name, value in headers}
        command = fields.get("call-command", "")
        if command == "execute":
            app = fields.get("execute-app-name", "")
            arg = fields.get("execute-app-arg", body or "")
            loops = int(fields.get("loops", "1") or 1)
            channel.queue_command(
                Command(
                    app=app,
                    arg=arg,
                    headers=list(headers),
                    sequence=self.next_sequence(),
                    loops=loops,
                    app_uuid=fields.get("event-uuid"),
                )
            )
            return "+OK"
        if command == "hangup":
            channel.hangup(fields.get("hangup-cause", "NORMAL_CLEARING"))
            return "+OK"
        if command in ("unicast", "nomedia", "xferext"):
            return "+OK"
        return "-ERR Invalid command"

    # -------------------------------------------------------- applications

    def run_app(
        self, channel: Channel, app: str, data: str = "", app_uuid: str | None = None
    ) -> None:
        """Run one application with its execute events."""
        if app_uuid:
            channel.set_variable("app_uuid", app_uuid)
        if self.app_runner is not None:
            self.app_runner(channel, app, data)
            return
        builtin = _BUILTIN_APPS.get(app)
        uuid = channel.variables.pop("app_uuid", None)
        with channel.execute(
            app, data, app_uuid=uuid if isinstance(uuid, str) else None
        ):
            if builtin is not None:
                builtin(self, channel, data)
            else:
                log.warning("channel %s: no application %s", channel.uuid, app)

    def route(self, channel: Channel) -> None:
        """Run the router for a channel that just entered CS_ROUTING."""
        if self.router is None:
            channel.hangup("NO_ROUTE_DESTINATION")
            return
        self.router(channel)

    def duration_of(self, path: str) -> float | None:
        """How long a playback of ``path`` takes (inf for endless streams)."""
        if path in self.sounds:
            return self.sounds[path]
        if path.startswith("local_stream://"):
            return float("inf")
        if path.startswith("silence_stream://"):
            millis = path.split("://", 1)[1].split(",")[0]
            value = int(millis) if millis.lstrip("-").isdigit() else 0
            return float("inf") if value <= 0 else value / 1000
        if path.startswith("tone_stream://"):
            return _tone_length(path.split("://", 1)[1])
        return DEFAULT_FILE_SECONDS

    # ------------------------------------------------------------ xml_curl

    def fetch_xml(
        self,
        section: str,
        *,
        tag_name: str = "",
        key_name: str = "",
        key_value: str = "",
        params: Sequence[tuple[str, str]] = (),
        channel: Channel | None = None,
        site: str = "REQUEST_PARAMS_DIALPLAN",
        event_name: str = "REQUEST_PARAMS",
    ) -> str | None:
        """What mod_xml_curl posts for a lookup; the answer or None.

        The form is the binding's fields, then the params event (which
        takes an Event-Sequence number and is never delivered, hence the
        gaps on the wire), with the channel's data for dialplan lookups.
        """
        sequence = self.next_sequence()
        form: list[tuple[str, str]] = [
            ("hostname", self.hostname),
            ("section", section),
            ("tag_name", tag_name),
            ("key_name", key_name),
            ("key_value", key_value),
        ]
        origin: CallSite = SITES[site]
        form += core_headers(
            event_name, self.identity, sequence, self.clock.now_us(), origin
        )
        if channel is not None:
            for name, value in basic_headers(channel) + variable_headers(channel):
                form.append((name, value if isinstance(value, str) else value[-1]))
        form += list(params)
        if event_name == "REQUEST_PARAMS":
            # A REQUEST_PARAMS event keeps one header per name: one added
            # again (an originator's own event merged in) replaces the first.
            form = form[:5] + _last_of_each(form[5:])
        if self.xml_fetcher is None:
            return None
        try:
            return self.call_fetcher(section, form)
        except Exception:
            log.exception("xml_curl %s lookup failed", section)
            return None

    def call_fetcher(self, section: str, form: list[tuple[str, str]]) -> str | None:
        """Ask the xml_curl binding (None without one).

        Virtual time stands still meanwhile: an answer that takes real time
        (HTTP) must not let the simulation's timers run ahead of it.
        """
        if self.xml_fetcher is None:
            return None
        with self.clock.hold():
            return self.xml_fetcher(section, form)

    def dialplan_form_params(self, channel: Channel) -> list[tuple[str, str]]:
        """The Hunt-* fields mod_dialplan_xml adds to a dialplan lookup."""
        return [
            (name, value)
            for name, value in profile_headers(channel.profile, "Hunt")
            if isinstance(value, str)
        ]

    def lookup_user(
        self,
        user_id: str,
        domain: str,
        action: str,
        params: Sequence[tuple[str, str]] = (),
        site: str = "REQUEST_PARAMS_USER_CALL",
        event_name: str = "REQUEST_PARAMS",
    ) -> DirectoryUser | None:
        """A directory lookup over xml_curl (``action`` as mod_* posts it)."""
        form = list(params)
        form = [("action", action), *form] if action else form
        form += [("key", "id"), ("user", user_id), ("domain", domain)]
        if action == "sip_auth":
            form.append(("ip", self.profiles["internal"].ip))
        text = self.fetch_xml(
            "directory",
            tag_name="domain",
            key_name="name",
            key_value=domain,
            params=form,
            site=site,
            event_name=event_name,
        )
        if not text:
            return None
        return parse_directory_user(text, user_id, domain)

    # ---------------------------------------------------------------- calls

    def new_inbound_call(
        self,
        from_number: str,
        to_number: str,
        *,
        profile: str = "external",
        caller_name: str | None = None,
        endpoint: Any = None,
        variables: dict[str, str] | None = None,
        context: str | None = None,
        remote: tuple[str, int] | None = None,
        user_agent: str = "schakel-sim-caller",
        codec: str = "PCMU",
        ptime: int = 20,
    ) -> Channel:
        """An INVITE arrives: CS_NEW, CS_INIT, CHANNEL_CREATE, then routing.

        ``endpoint`` is the calling ``Phone`` for calls from the internal
        profile. ``codec``/``ptime``: what the caller's SDP offers (PCMU
        also offers PCMA; PCMA offers only itself).
        """
        sip_profile = self.profiles[profile]
        authorized: list[tuple[str, str]] = []
        from_domain = None
        if isinstance(endpoint, Phone):
            host, port = endpoint.host, endpoint.port
            user_agent = endpoint.user_agent
        else:
            host, port = remote or ("127.0.0.1", 5070)
        name = f"sofia/{profile}/{from_number}@{host}:{port}"
        call_id = f"{self.new_uuid()}@{host}"
        if isinstance(endpoint, Phone) and profile == "internal":
            # The internal profile challenges the INVITE; the phone's user
            # comes from the directory and its context is the user's.
            user = self._authorise_invite(endpoint, to_number, call_id)
            authorized = user[1]
            from_domain = endpoint.domain
            name = f"sofia/{profile}/{from_number}@{endpoint.domain}"
            if context is None:
                context = user[0].variables.get("user_context") or user[
                    0
                ].domain_variables.get("user_context", "default")
        if context is None:
            context = "public" if profile == "external" else "default"
        display = caller_name or ""
        now = self.clock.now_us()
        caller = CallerProfile(
            username=from_number,
            dialplan="XML",
            caller_id_name=display or from_number,
            caller_id_number=from_number,
            orig_caller_id_name=display or from_number,
            orig_caller_id_number=from_number,
            network_addr=host,
            ani=from_number,
            destination_number=to_number,
            source="mod_sofia",
            context=context,
            direction="inbound",
            logical_direction="inbound",
            times={"profile_created": now, "created": now},
        )
        sip = SipLeg(
            sip_profile,
            remote_user=from_number,
            remote_host=host,
            remote_port=port,
            user_agent=user_agent,
            codec=codec,
            ptime=ptime,
            call_id=call_id,
        )
        channel = Channel(
            self,
            name=name,
            direction="inbound",
            profile=caller,
            sip=sip,
            endpoint=endpoint,
        )
        self.add_channel(channel)
        log.info("inbound call %s from %s to %s", channel.uuid, from_number, to_number)
        # CS_NEW is fired before sofia has attached the caller profile.
        channel.show_profile = False
        channel.fire("CHANNEL_STATE")
        channel.show_profile = True
        sip.inbound_create(
            channel,
            to_number,
            display,
            from_domain=from_domain,
            authorized=authorized,
        )
        for key, value in (variables or {}).items():
            channel.set_variable(key, value)
        channel.state = CS_INIT
        channel.state_number = 1
        channel.fire("CHANNEL_STATE")
        channel.state_number = 2
        channel.fire("CHANNEL_CREATE")
        channel.set_variable("call_uuid", channel.uuid)
        channel.start(channel.route_loop)
        return channel

    def _authorise_invite(
        self, phone: Phone, to_number: str, call_id: str
    ) -> tuple[DirectoryUser, list[tuple[str, str]]]:
        """Digest-authorise a phone's INVITE against the directory."""
        sequence = self.next_sequence()
        invite = core_headers(
            "REQUEST_PARAMS",
            self.identity,
            sequence,
            self.clock.now_us(),
            SITES["REQUEST_PARAMS_INVITE"],
        )
        user = self.lookup_user(
            phone.user_id,
            phone.domain,
            "sip_auth",
            params=endpoints.invite_auth_form(self, phone, to_number, call_id),
            site="REQUEST_PARAMS_SIP_AUTH",
        )
        if user is None:
            raise SwitchError(
                f"INVITE from {phone.user_id}@{phone.domain} refused (403): "
                "no such user in the directory"
            )
        return user, endpoints.authorised_variables(user, phone, invite)

    def inject_dtmf(self, uuid: str, digits: str, duration_ms: int = 2000) -> None:
        """The far end of a leg presses keys (RFC 2833)."""
        channel = self._need(uuid)
        for digit in digits:
            channel.receive_dtmf(digit, duration_ms)

    def hold(self, uuid: str) -> None:
        """The leg's phone sends re-INVITE a=sendonly."""
        channel = self._need(uuid)
        if channel.held:
            return
        channel.mark_hold(True)
        partner = channel.partner
        if partner is not None:
            self.play_hold_music(channel, partner)
            gevent.sleep(0)
        self._reinvite(channel)

    def play_hold_music(self, holder: Channel, listener: Channel) -> None:
        """The holder's hold_music, looped, as a broadcast on the listener."""
        music = holder.get_variable("hold_music") or self.global_vars.get(
            "hold_music", "local_stream://moh"
        )
        listener.queue_command(
            Command(
                app="playback",
                arg=music,
                headers=[
                    ("call-command", "execute"),
                    ("execute-app-name", "playback"),
                    ("execute-app-arg", music),
                    ("event-lock-pri", "true"),
                    ("lead-frames", "5"),
                    ("loops", "-1"),
                ],
                sequence=self.next_sequence(),
                loops=-1,
            )
        )

    def unhold(self, uuid: str) -> None:
        """The leg's phone sends re-INVITE a=sendrecv."""
        channel = self._need(uuid)
        if not channel.held:
            return
        # switch_ivr_unhold stops the broadcast (the hold music) of the leg
        # named by signal_bond, which uuid_bridge sets at once; the
        # partner's bridge goes on.
        bond = channel.get_variable("signal_bond") or channel.get_variable(
            "originate_signal_bond"
        )
        partner = self.channels.get(bond) if bond else None
        if partner is not None:
            partner.stop_broadcast()
            gevent.sleep(0)
        channel.mark_hold(False)
        self._reinvite(channel)
        channel.set_callstate("ACTIVE")

    def _reinvite(self, channel: Channel) -> None:
        event = Event(
            "CUSTOM", subclass="sofia::reinvite", origin=SITES["SOFIA_REINVITE"]
        )
        event.add("Unique-ID", channel.uuid)
        self.fire(event)

    def remote_hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        """The far end of a leg sends BYE (or CANCEL before the answer)."""
        channel = self._need(uuid)
        if channel.sip is not None:
            if channel.answered:
                channel.sip.remote_bye()
            elif channel.direction == "outbound":
                # A ringing phone that is hung up declines the call.
                channel.sip.remote_refuse(603)
                if cause == "NORMAL_CLEARING":
                    cause = "CALL_REJECTED"
            else:
                # A caller giving up before the answer sends CANCEL.
                channel.sip.remote_cancel()
                if cause == "NORMAL_CLEARING":
                    cause = "ORIGINATOR_CANCEL"
        channel.hangup(cause)

    def _need(self, uuid: str) -> Channel:
        channel = self.channels.get(uuid)
        if channel is None:
            raise SwitchError(f"no such channel {uuid}")
        return channel

    # ------------------------------------------------------------ originate

    def originate(self, dial_string: str, **kw: Any) -> Any:
        from simulator import originate

        return originate.originate(self, dial_string, **kw)

    def bridge_app(self, a_leg: Channel, dial_string: str) -> bool:
        from simulator import originate

        return originate.bridge_app(a_leg, dial_string)

    def uuid_bridge(self, a: Channel, b: Channel) -> None:
        """Bridge two existing channels, wherever they are in their dialplan."""
        # switch_ivr_uuid_bridge gives both legs a new caller profile; the
        # first leg learns whom it talks to from the second's caller id.
        a_before = a.profile.clone(index=False, keep_times=False)
        a.step_profile()
        b.step_profile()
        for leg, other in ((b, a), (a, b)):
            _uuid_bridge_variables(leg, other)
        a.other_type = "originatee"
        a.other_profile = b.profile.clone(index=False)
        a.other_profile.transfer_source = ""
        a.other_profile.logical_direction = "inbound"
        b.other_type = "originator"
        b.other_profile = a_before
        # The first leg's callee is the second's (a flipped originated leg
        # has its caller there).
        a.profile.callee_id_name = b.profile.callee_id_name
        a.profile.callee_id_number = b.profile.callee_id_number
        b.profile.caller_id_name = a_before.caller_id_name
        b.profile.caller_id_number = a_before.caller_id_number
        b.hit_dialplan = b.direction == "inbound"
        a.set_variable("uuid_bridge", b.uuid)
        for leg in (a, b):
            leg.state_number = STATE_NUMBERS[CS_HIBERNATE]
        b.request_uuid_bridge(a, "originatee")
        a.request_uuid_bridge(b, "originator")
        for leg in (a, b):
            if leg.state == CS_EXECUTE and leg._greenlet is None:
                leg.start(leg.route_loop)

    # ------------------------------------------------------------ endpoints

    def add_phone(
        self,
        user_id: str,
        *,
        domain: str | None = None,
        behaviour: Behaviour | None = None,
        port: int | None = None,
    ) -> Phone:
        domain = domain or self.domain
        if port is None:
            port = 5071 + len(self.endpoints.phones)
        phone = Phone(user_id, domain, behaviour or Behaviour(), port=port)
        return self.endpoints.add_phone(phone)

    def add_gateway(self, name: str, **kw: Any) -> Gateway:
        return self.endpoints.add_gateway(Gateway(name, **kw))

    def register(
        self,
        user_id: str,
        *,
        domain: str | None = None,
        password: str | None = None,
        expires: int = 3600,
    ) -> bool:
        """The user's phone REGISTERs (digest auth against the directory).

        ``password`` is what the phone answers the challenge with; None
        means the right one. A phone is added for the user if needed.
        """
        domain = domain or self.domain
        phone = self.endpoints.phone(user_id, domain) or self.add_phone(
            user_id, domain=domain
        )
        return endpoints.register(self, phone, password=password, expires=expires)

    def unregister(self, user_id: str, *, domain: str | None = None) -> bool:
        """The user's phone sends REGISTER with Expires: 0."""
        phone = self.endpoints.phone(user_id, domain or self.domain)
        if phone is None:
            return False
        return endpoints.unregister(self, phone)

    def message_counts(self, user_id: str, domain: str) -> tuple[int, int]:
        """New and saved voicemail messages (the voicemail side overrides)."""
        if self.voicemail_counts is not None:
            return self.voicemail_counts(user_id, domain)
        return (0, 0)

    def registration(self, user_id: str, domain: str) -> Registration | None:
        return self.endpoints.registration(user_id, domain)

    # ----------------------------------------------------------- heartbeat

    def start(self) -> None:
        """Start the 20 s HEARTBEAT / RE_SCHEDULE events."""
        if self._heartbeat is None:
            self._heartbeat = gevent.spawn(self._heartbeats)

    def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.kill()
            self._heartbeat = None
        for channel in list(self.channels.values()):
            channel.hangup("MANAGER_REQUEST")

    def _heartbeats(self) -> None:
        while True:
            self.clock.sleep(HEARTBEAT_INTERVAL)
            self.fire(self.heartbeat_event())
            event = Event("RE_SCHEDULE", origin=SITES["RE_SCHEDULE"])
            event.add("Task-ID", "1")
            event.add("Task-Desc", "heartbeat")
            event.add("Task-Group", "core")
            event.add("Task-Runtime", str(int(self.clock.now() + HEARTBEAT_INTERVAL)))
            self.fire(event)

    def uptime_us(self) -> int:
        return int((self.clock.monotonic() - self.started_at) * 1_000_000)

    def heartbeat_event(self) -> Event:
        event = Event("HEARTBEAT", origin=SITES["HEARTBEAT"])
        up = self.uptime_us()
        event.add("Event-Info", "System Ready")
        event.add("Up-Time", uptime_text(up))
        event.add("FreeSWITCH-Version", VERSION)
        event.add("Uptime-msec", str(up // 1000))
        event.add("Session-Count", str(len(self.channels)))
        event.add("Max-Sessions", "1000")
        event.add("Session-Per-Sec", "30")
        event.add("Session-Per-Sec-Last", "0")
        event.add("Session-Per-Sec-Max", "0")
        event.add("Session-Per-Sec-FiveMin", "0")
        event.add("Session-Since-Startup", str(self.sessions_since_startup))
        event.add("Session-Peak-Max", str(self.peak_sessions))
        event.add("Session-Peak-FiveMin", str(self.peak_sessions))
        event.add("Idle-CPU", "98.000000")
        return event


def uptime_text(usec: int) -> str:
    """FreeSWITCH's ``0 years, 0 days, ...`` uptime."""
    seconds, micros = divmod(usec, 1_000_000)
    millis, micros = divmod(micros, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    years, days = divmod(days, 365)
    return (
        f"{years} years, {days} days, {hours} hours, {minutes} minutes, "
        f"{seconds} seconds, {millis} milliseconds, {micros} microseconds"
    )


def _last_of_each(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs without those whose name comes again later."""
    last = {name: index for index, (name, _) in enumerate(pairs)}
    return [pair for index, pair in enumerate(pairs) if last[pair[0]] == index]


def _tone_length(spec: str) -> float:
    """Length of a tone_stream: the sum of its on/off times, times its loops."""
    loops = 1
    match = re.search(r"(?:^|;)L=(-?\d+)", spec)
    if match:
        loops = int(match.group(1))
        if loops < 0:
            return float("inf")
    total = 0
    for segment in _TONE_SEGMENT.findall(spec):
        parts = [p.strip() for p in segment.split(",")]
        if len(parts) >= 2:
            try:
                total += int(parts[0]) + int(parts[1])
            except ValueError:
                continue
    return total * loops / 1000


def _uuid_bridge_variables(leg: Channel, other: Channel) -> None:
    """What switch_ivr_uuid_bridge sets on each leg before it unparks."""
    now = int(leg.clock.now())
    leg.set_variable("bridge_channel", other.name)
    leg.set_variable("bridge_uuid", other.uuid)
    leg.set_variable("signal_bond", other.uuid)
    leg.set_variable("original_destination_number", leg.profile.destination_number)
    leg.set_variable("original_caller_id_name", leg.profile.caller_id_name)
    leg.set_variable("original_caller_id_number", leg.profile.caller_id_number)
    source = f"{now}:{leg.switch.new_uuid()}:uuid_br:{other.uuid}"
    leg.push_variable("transfer_history", source)
    leg.set_variable("transfer_source", source)
    leg.profile.transfer_source = source


def parse_directory_user(text: str, user_id: str, domain: str) -> DirectoryUser | None:
    """The user's params and variables (with its domain's) from a document."""
    try:
        root = ET.fromstring(text.encode() if isinstance(text, str) else text)
    except ET.ParseError:
        log.warning("directory answer for %s@%s is not XML", user_id, domain)
        return None
    for domain_node in root.iter("domain"):
        for user_node in domain_node.iter("user"):
            if user_node.get("id") != user_id:
                continue
            found = DirectoryUser(user_id, domain_node.get("name") or domain)
            found.domain_params = _pairs(domain_node, "params", "param", own_only=True)
            found.domain_variables = _pairs(
                domain_node, "variables", "variable", own_only=True
            )
            found.params = _pairs(user_node, "params", "param")
            found.variables = _pairs(user_node, "variables", "variable")
            return found
    return None


def _pairs(
    node: ET.Element, group: str, item: str, own_only: bool = False
) -> dict[str, str]:
    out: dict[str, str] = {}
    for group_node in node.findall(group):
        for entry in group_node.findall(item):
            name = entry.get("name")
            if name:
                out[name] = entry.get("value", "")
    return out


# Applications the switch runs itself when no app_runner is installed.
def _app_answer(switch: Switch, channel: Channel, data: str) -> None:
    channel.answer()


def _app_park(switch: Switch, channel: Channel, data: str) -> None:
    channel.park()


def _app_playback(switch: Switch, channel: Channel, data: str) -> None:
    channel.playback(data)


def _app_hangup(switch: Switch, channel: Channel, data: str) -> None:
    channel.hangup(data or "NORMAL_CLEARING")


def _app_set(switch: Switch, channel: Channel, data: str) -> None:
    name, _, value = data.partition("=")
    channel.set_variable(name, value or None)


def _app_sleep(switch: Switch, channel: Channel, data: str) -> None:
    channel.sleep(int(data or 0) / 1000)


def _app_bridge(switch: Switch, channel: Channel, data: str) -> None:
    from simulator import originate

    originate.bridge_in_execute(channel, data)


def _app_transfer(switch: Switch, channel: Channel, data: str) -> None:
    parts = data.split()
    if parts:
        channel.transfer(parts[0], *parts[1:3])


_BUILTIN_APPS: dict[str, Callable[[Switch, Channel, str], None]] = {
    "answer": _app_answer,
    "park": _app_park,
    "playback": _app_playback,
    "hangup": _app_hangup,
    "set": _app_set,
    "sleep": _app_sleep,
    "bridge": _app_bridge,
    "transfer": _app_transfer,
}

__all__ = [
    "CS_EXECUTE",
    "CS_INIT",
    "CS_NEW",
    "CS_ROUTING",
    "DirectoryUser",
    "Switch",
    "SwitchError",
    "call_update",
]
