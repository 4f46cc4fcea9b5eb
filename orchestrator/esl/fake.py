"""An in-memory gateway for unit tests: seed state, push events, check commands.

    gateway = FakeGateway()
    gateway.add_channel(uuid, caller="0201234567")
    controller = QueueController(gateway)           # the code under test
    gateway.push(gateway.event("CHANNEL_PARK", uuid))
    assert gateway.lines("uuid_broadcast") == [f"uuid_broadcast {uuid} ..."]

Commands are checked and built exactly as for the real switch (the same
`Gateway` methods run); only their transport is replaced. Replies imitate
FreeSWITCH: a command on a channel the fake does not know answers
``-ERR No such channel!``, and so on. Override any reply with `reply`.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from orchestrator.esl.client import ResyncHook
from orchestrator.esl.commands import check_uuid
from orchestrator.esl.dispatch import Dispatcher
from orchestrator.esl.errors import failure
from orchestrator.esl.events import Event, HeaderValue
from orchestrator.esl.gateway import UNDEFINED, Gateway
from orchestrator.esl.snapshot import LiveSnapshot

Reply = str | Callable[[str], str]

NO_CHANNEL = "-ERR No such channel!\n"
# Commands whose first argument is a channel UUID.
_CHANNEL_COMMANDS = frozenset(
    {
        "uuid_bridge",
        "uuid_transfer",
        "uuid_broadcast",
        "uuid_break",
        "uuid_kill",
        "uuid_setvar",
        "uuid_getvar",
        "uuid_record",
        "uuid_displace",
    }
)
_FIXED_REPLIES = {
    "uuid_broadcast": "+OK Message sent\n",
    "reloadxml": "+OK [Success]\n",
    "xml_flush_cache": "+OK cleared 0 entries\n",
}


@dataclass(frozen=True)
class Sent:
    """One command the code under test sent."""

    kind: str  # "api", "bgapi" or "sendmsg"
    line: str  # the api command line, or "sendmsg <uuid>"
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None

    @property
    def command(self) -> str:
        return self.line.split(" ", 1)[0]

    @property
    def args(self) -> list[str]:
        return self.line.split(" ")[1:]


@dataclass
class FakeChannel:
    uuid: str
    variables: dict[str, str] = field(default_factory=dict)


class FakeGateway(Gateway):
    """Records what is sent and answers like the switch would."""

    # Set to False to play a switch that is out of reach.
    connected = True

    def __init__(self) -> None:
        self.dispatcher = Dispatcher()
        self.sent: list[Sent] = []
        self.channels: dict[str, FakeChannel] = {}
        self.registrations: list[dict[str, str]] = []
        self._replies: dict[str, Reply] = {}
        self._resync_hooks: list[ResyncHook] = []

    # -- seeding and inspection ---------------------------------------------

    def add_channel(self, uuid: str | None = None, **variables: str) -> str:
        """A live channel, as if the switch had created it; its UUID."""
        uuid = check_uuid(uuid) if uuid else str(uuidlib.uuid4())
        self.channels[uuid] = FakeChannel(uuid, dict(variables))
        return uuid

    def reply(self, command: str, answer: Reply) -> None:
        """Answer ``command`` (first word) with this text, or ``answer(line)``."""
        self._replies[command] = answer

    def lines(self, command: str | None = None) -> list[str]:
        """The command lines sent, optionally only those of one command."""
        return [s.line for s in self.sent if command in (None, s.command)]

    def clear(self) -> None:
        self.sent.clear()

    # -- events ---------------------------------------------------------------

    @staticmethod
    def event(
        name: str,
        uuid: str | None = None,
        body: str | None = None,
        **headers: HeaderValue,
    ) -> Event:
        """An event as the client would decode it.

        Keyword names use ``_`` for ``-`` (``Channel_State`` ->
        ``Channel-State``), except ``variable_*`` which are kept as they are.
        """
        fields: dict[str, HeaderValue] = {"Event-Name": name}
        if uuid:
            fields["Unique-ID"] = uuid
        for key, value in headers.items():
            fields[key if key.startswith("variable_") else key.replace("_", "-")] = (
                value
            )
        return Event(fields, body)

    def push(self, event: Event, wait: bool = True) -> None:
        """Deliver an event as if the switch had sent it.

        CHANNEL_CREATE adds the channel, CHANNEL_DESTROY removes it. With
        ``wait`` this returns once every handler has run.
        """
        uuid = event.unique_id
        if uuid and event.name == "CHANNEL_CREATE":
            self.channels.setdefault(uuid, FakeChannel(uuid))
        elif uuid and event.name == "CHANNEL_DESTROY":
            self.channels.pop(uuid, None)
        self.dispatcher.dispatch(event)
        if wait:
            self.dispatcher.join()

    def resync(self, snapshot: LiveSnapshot | None = None) -> None:
        """Run the resync hooks, as after a reconnect; default: seeded state."""
        if snapshot is None:
            snapshot = self._snapshot()
        for hook in self._resync_hooks:
            hook(snapshot)

    def _snapshot(self) -> LiveSnapshot:
        rows = [{"uuid": uuid} for uuid in self.channels]
        return LiveSnapshot(rows, [], list(self.registrations))

    # -- transport ------------------------------------------------------------

    def api(self, command: str, timeout: float | None = None) -> str:
        self.sent.append(Sent("api", command))
        return _checked(command, self._answer(command))

    def bgapi(self, command: str, timeout: float | None = None) -> str:
        self.sent.append(Sent("bgapi", command))
        return _checked(command, self._answer(command))

    def sendmsg(
        self, uuid: str, headers: Sequence[tuple[str, str]], body: str | None = None
    ) -> str:
        line = f"sendmsg {uuid}"
        self.sent.append(Sent("sendmsg", line, tuple(headers), body))
        answer = self._replies.get("sendmsg")
        if answer is not None:
            text = answer(line) if callable(answer) else answer
        elif uuid in self.channels:
            text = "+OK"
        else:
            text = f"-ERR invalid session id [{uuid}]"
        if not text.startswith("+OK"):
            raise failure(line, text)
        return text

    def on_resync(self, hook: ResyncHook) -> None:
        # As the real client: added while connected, it runs at once too.
        self._resync_hooks.append(hook)
        if self.connected:
            hook(self._snapshot())

    # -- answers like the switch's --------------------------------------------

    def _answer(self, line: str) -> str:
        command, _, rest = line.partition(" ")
        override = self._replies.get(command)
        if override is not None:
            return override(line) if callable(override) else override
        args = rest.split(" ")
        if command in _CHANNEL_COMMANDS and args[0] not in self.channels:
            return NO_CHANNEL
        if command == "originate":
            return self._originate(rest)
        if command == "uuid_bridge":
            if len(args) < 2 or args[1] not in self.channels:
                return NO_CHANNEL
            return f"+OK {args[1]}\n"
        if command == "uuid_hold":
            uuid = args[-1]
            return "+OK Success\n" if uuid in self.channels else NO_CHANNEL
        if command == "uuid_getvar":
            return self.channels[args[0]].variables.get(args[1], UNDEFINED)
        if command == "uuid_setvar":
            self._setvar(args[0], args[1], " ".join(args[2:]))
        if command == "uuid_kill":
            self.channels.pop(args[0], None)
        return _FIXED_REPLIES.get(command, "+OK\n")

    def _originate(self, rest: str) -> str:
        uuid = _variable(rest, "origination_uuid") or str(uuidlib.uuid4())
        self.channels.setdefault(uuid, FakeChannel(uuid))
        return f"+OK {uuid}\n"

    def _setvar(self, uuid: str, name: str, value: str) -> None:
        variables = self.channels[uuid].variables
        if value:
            variables[name] = value
        else:
            variables.pop(name, None)


def _variable(originate_args: str, name: str) -> str | None:
    if not originate_args.startswith("{"):
        return None
    block = originate_args[1 : originate_args.index("}")]
    for part in block.split(","):
        key, _, value = part.partition("=")
        if key == name:
            return value
    return None


def _checked(command: str, output: str) -> str:
    if output.startswith(("-ERR", "-USAGE")):
        raise failure(command, output)
    return output
