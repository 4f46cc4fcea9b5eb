"""The switch as the rest of the orchestrator sees it.

A `Gateway` is injected wherever calls are controlled. It offers the call
commands with checked arguments and typed results (a value, or an
exception from `orchestrator.esl.errors`), and the event subscriptions.
`EslGateway` drives a real (or simulated) switch through `EslClient`;
`orchestrator.esl.fake.FakeGateway` records commands for unit tests.
"""

from __future__ import annotations

import abc
import uuid as uuidlib
from collections.abc import Iterable, Mapping, Sequence

from orchestrator.esl import commands
from orchestrator.esl.client import EslClient, ResyncHook
from orchestrator.esl.commands import Application, Extension
from orchestrator.esl.dispatch import ALL, Dispatcher, Handler, Subscription
from orchestrator.esl.errors import failure

# Ringing an endpoint can take as long as its ring timeout; give it room.
ORIGINATE_TIMEOUT = 90.0
# uuid_getvar answers this for a variable that is not set.
UNDEFINED = "_undef_"


class Gateway(abc.ABC):
    """Call commands and event subscriptions, whatever carries them."""

    dispatcher: Dispatcher

    # -- what an implementation provides ----------------------------------

    @abc.abstractmethod
    def api(self, command: str, timeout: float | None = None) -> str:
        """Run an api command; its output, or `CommandFailed` for ``-ERR``."""

    @abc.abstractmethod
    def bgapi(self, command: str, timeout: float | None = None) -> str:
        """Run an api command as a background job and return its output."""

    @abc.abstractmethod
    def sendmsg(
        self, uuid: str, headers: Sequence[tuple[str, str]], body: str | None = None
    ) -> str:
        """Queue a message on a channel; the reply text (``+OK``)."""

    @abc.abstractmethod
    def on_resync(self, hook: ResyncHook) -> None:
        """Call ``hook(snapshot)`` whenever the live state must be rebuilt:
        after every (re)connect, and at once when added while connected."""

    @property
    def connected(self) -> bool:
        """Whether commands reach the switch now."""
        return True

    # -- events -----------------------------------------------------------

    def subscribe(self, handler: Handler, keys: Iterable[str] = (ALL,)) -> Subscription:
        """Receive events by name (CUSTOM: by subclass); ``"*"`` for all."""
        return self.dispatcher.subscribe(handler, keys)

    def attach(self, uuid: str, handler: Handler) -> None:
        """Receive every event of channel ``uuid``, in order, until it is gone."""
        self.dispatcher.attach(commands.check_uuid(uuid), handler)

    def detach(self, uuid: str, handler: Handler | None = None) -> None:
        self.dispatcher.detach(uuid, handler)

    # -- call commands ----------------------------------------------------

    def originate(
        self,
        endpoint: str,
        destination: Application | Extension,
        variables: Mapping[str, str] | None = None,
        *,
        uuid: str | None = None,
        timeout: float = ORIGINATE_TIMEOUT,
    ) -> str:
        """Call ``endpoint`` and connect it to ``destination``; the new UUID.

        The UUID is chosen here (``origination_uuid``) so that the caller can
        attach to the channel's events before it exists. Runs as a background
        job: an originate blocks until the endpoint answers or gives up.
        """
        uuid = commands.check_uuid(uuid) if uuid else str(uuidlib.uuid4())
        line = commands.originate(
            endpoint, destination, {"origination_uuid": uuid, **(variables or {})}
        )
        return _ok_value(line, self.bgapi(line, timeout)) or uuid

    def eavesdrop(
        self,
        endpoint: str,
        target_uuid: str,
        variables: Mapping[str, str] | None = None,
        *,
        uuid: str | None = None,
        timeout: float = ORIGINATE_TIMEOUT,
    ) -> str:
        """Call ``endpoint`` and let it listen in on ``target_uuid``."""
        target = Application("eavesdrop", commands.check_uuid(target_uuid))
        return self.originate(endpoint, target, variables, uuid=uuid, timeout=timeout)

    def bridge(self, uuid: str, other_uuid: str) -> None:
        self._ok(commands.uuid_bridge(uuid, other_uuid))

    def transfer(
        self,
        uuid: str,
        destination: str,
        dialplan: str = "XML",
        context: str = "default",
        leg: str = "",
    ) -> None:
        self._ok(commands.uuid_transfer(uuid, destination, dialplan, context, leg))

    def broadcast(self, uuid: str, path: str, leg: str = "aleg") -> None:
        self._ok(commands.uuid_broadcast(uuid, path, leg))

    def break_media(self, uuid: str, everything: bool = False) -> None:
        """``uuid_break``: stop what is being played to the channel."""
        self._ok(commands.uuid_break(uuid, everything))

    def hold(self, uuid: str) -> None:
        self._ok(commands.uuid_hold(uuid, on=True))

    def unhold(self, uuid: str) -> None:
        self._ok(commands.uuid_hold(uuid, on=False))

    def kill(self, uuid: str, cause: str = commands.DEFAULT_CAUSE) -> None:
        self._ok(commands.uuid_kill(uuid, cause))

    def setvar(self, uuid: str, name: str, value: str) -> None:
        self._ok(commands.uuid_setvar(uuid, name, value))

    def getvar(self, uuid: str, name: str) -> str | None:
        """A channel variable's value; None when it is not set."""
        value = self.api(commands.uuid_getvar(uuid, name))
        return None if value == UNDEFINED else value

    def record(
        self, uuid: str, action: str, path: str, limit_s: int | None = None
    ) -> None:
        self._ok(commands.uuid_record(uuid, action, path, limit_s))

    def displace(
        self,
        uuid: str,
        action: str,
        path: str,
        limit_s: int | None = None,
        mux: bool = False,
    ) -> None:
        self._ok(commands.uuid_displace(uuid, action, path, limit_s, mux))

    def execute(
        self, uuid: str, app: str, arg: str = "", *, lock: bool = False
    ) -> None:
        """Make the channel run a dialplan application (``sendmsg``)."""
        self.sendmsg(commands.check_uuid(uuid), commands.execute(app, arg, lock=lock))

    def hangup(self, uuid: str, cause: str = commands.DEFAULT_CAUSE) -> None:
        """Hang the channel up through its own message queue (``sendmsg``)."""
        self.sendmsg(commands.check_uuid(uuid), commands.hangup(cause))

    def reloadxml(self) -> None:
        self._ok(commands.reloadxml())

    def xml_flush_cache(self) -> None:
        self._ok(commands.xml_flush_cache())

    def _ok(self, line: str) -> str:
        return _ok_value(line, self.api(line))


def _ok_value(command: str, output: str) -> str:
    """What follows ``+OK`` in a reply; anything else is a failure."""
    if not output.startswith("+OK"):
        raise failure(command, output)
    return output[3:].strip()


class EslGateway(Gateway):
    """The gateway over a live Event Socket connection."""

    def __init__(self, client: EslClient) -> None:
        self.client = client
        self.dispatcher = client.dispatcher

    def api(self, command: str, timeout: float | None = None) -> str:
        return self.client.api(command, timeout)

    def bgapi(self, command: str, timeout: float | None = None) -> str:
        return self.client.bgapi(command, timeout)

    def sendmsg(
        self, uuid: str, headers: Sequence[tuple[str, str]], body: str | None = None
    ) -> str:
        return self.client.sendmsg(uuid, headers, body)

    def on_resync(self, hook: ResyncHook) -> None:
        self.client.add_resync_hook(hook)

    @property
    def connected(self) -> bool:
        return self.client.connected
