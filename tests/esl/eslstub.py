"""A small switch behind the simulator's event socket, for client tests.

It answers a handful of api commands the way FreeSWITCH does and fires
events through the real `simulator.events` serialisation.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable

import gevent

from simulator.events import CallSite, Event, SwitchIdentity, stamp

API_SITE = CallSite("switch_loadable_module.c", "switch_api_execute", 2954)
PASSWORD = "ClueCon"


class StubSwitch:
    """Channels by UUID, a sequence counter, listeners; answers like FreeSWITCH."""

    def __init__(self) -> None:
        self.identity = SwitchIdentity(str(uuidlib.uuid4()))
        self.listeners: list[Callable[[Event], None]] = []
        self.sequence = 0
        self.channels: dict[str, dict[str, str]] = {}
        self.api_calls: list[tuple[str, str]] = []
        self.messages: list[tuple[str, list[tuple[str, str]], str | None]] = []
        # api command -> seconds to take (to test timeouts).
        self.delays: dict[str, float] = {}

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: Callable[[Event], None]) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def channel_exists(self, uuid: str) -> bool:
        return uuid in self.channels

    def fire(self, event: Event) -> None:
        self.sequence += 1
        stamp(event, self.identity, self.sequence)
        for listener in list(self.listeners):
            listener(event)

    def channel_event(self, name: str, uuid: str, **headers: str) -> Event:
        event = Event(name, [("Unique-ID", uuid), ("Channel-Name", f"stub/{uuid}")])
        for key, value in headers.items():
            event.add(key.replace("_", "-"), value)
        self.fire(event)
        return event

    def new_channel(self, uuid: str | None = None) -> str:
        uuid = uuid or str(uuidlib.uuid4())
        self.channels[uuid] = {}
        self.channel_event("CHANNEL_CREATE", uuid, Channel_State="CS_INIT")
        return uuid

    def api(self, command: str, args: str) -> str:
        self.api_calls.append((command, args))
        if command in self.delays:
            gevent.sleep(self.delays[command])
        output = self._answer(command, args)
        event = Event("API", [("API-Command", command)], origin=API_SITE)
        if args:
            event.add("API-Command-Argument", args)
        self.fire(event)
        return output

    def _answer(self, command: str, args: str) -> str:
        words = args.split(" ")
        if command == "show" and args.endswith("as json"):
            if words[0] == "channels" and self.channels:
                rows = ",".join(f'{{"uuid":"{uuid}"}}' for uuid in self.channels)
                return f'{{"row_count":{len(self.channels)},"rows":[{rows}]}}'
            return '{"row_count": 0}\n'
        if command == "originate":
            uuid = self.new_channel()
            return f"+OK {uuid}\n"
        if command == "uuid_kill":
            if self.channels.pop(words[0], None) is None:
                return "-ERR No such channel!\n"
            return "+OK\n"
        if command == "uuid_getvar":
            if words[0] not in self.channels:
                return "-ERR No such channel!\n"
            return self.channels[words[0]].get(words[1], "_undef_")
        if command in ("status", "sleep"):
            return "+OK\n"
        return f"-ERR {command} Command not found!\n"

    def sendmsg(
        self, uuid: str, headers: list[tuple[str, str]], body: str | None
    ) -> str:
        if uuid not in self.channels:
            return f"-ERR invalid session id [{uuid}]"
        self.messages.append((uuid, list(headers), body))
        return "+OK"


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Let the gevent hub run until ``predicate()`` holds (or time runs out)."""
    with gevent.Timeout(timeout, False):
        while not predicate():
            gevent.sleep(0.005)
    return predicate()
