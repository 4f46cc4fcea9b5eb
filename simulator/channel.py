"""A simulated FreeSWITCH channel (one call leg) and the events it fires.

A ``Channel`` is one leg: an inbound leg from a trunk or phone, an outbound
leg made by ``originate``/``bridge``, or a loopback leg. Its methods change
its state the way FreeSWITCH's core does and fire exactly the events
FreeSWITCH fires for that change, in FreeSWITCH's order and with its header
sets (see ``simulator.headers``).

States (``Channel.state``) are the ``CS_*`` names; call states
(``Channel.callstate``) are ``DOWN RINGING EARLY ACTIVE HELD UNHELD HANGUP``;
``answer_state`` is ``ringing early answered hangup``.

Public interface used by the dialplan side (session/apps) and the switch:

- attributes: ``uuid``, ``name``, ``direction`` (``inbound``/``outbound``),
  ``state``, ``callstate``, ``answer_state``, ``profile`` (a
  ``CallerProfile``), ``variables`` (ordered; setting moves a name to the
  end as FreeSWITCH does), ``other_leg``, ``bridged_to``, ``dtmf_queue``
  (gevent Queue of single digits), ``switch``, ``endpoint``.
- ``set_state(state)``: CHANNEL_STATE (and the switch's router on CS_ROUTING).
- ``ring_ready()``: CHANNEL_PROGRESS + callstate RINGING.
- ``pre_answer()``: CODEC x2, CHANNEL_PROGRESS_MEDIA, callstate EARLY.
- ``answer()``: pre_answer if needed, CHANNEL_ANSWER, callstate ACTIVE.
- ``set_variable(name, value)``, ``get_variable(name)``,
  ``unset_variable(name)``, ``export_variable(name, value)``.
- ``execute(app, data)``: context manager firing CHANNEL_EXECUTE on entry and
  CHANNEL_EXECUTE_COMPLETE on exit; set ``.response`` on the yielded record
  for ``Application-Response`` (``_none_`` when not set).
- ``park()``: CHANNEL_PARK, blocks until the channel is taken (uuid_bridge,
  uuid_transfer, hangup, ...), then CHANNEL_UNPARK.
- ``playback(path, *, terminators="")``: PLAYBACK_START/STOP, waits the
  length of the file on the clock; returns ``FILE PLAYED``,
  ``PLAYBACK ERROR`` or the break reason. Breakable by ``uuid_break`` and,
  when ``terminators`` are given, by those DTMF digits.
- ``sleep(seconds)``: waits on the clock, returns early (False) when the
  channel is interrupted (hangup, transfer, break).
- ``read_digit(timeout)``: the next DTMF digit or None.
- ``transfer(destination, dialplan="XML", context=None)``: a new caller
  profile and back to CS_ROUTING (the switch routes it again).
- ``hangup(cause="NORMAL_CLEARING")``: CHANNEL_HANGUP, CS_HANGUP, callstate
  HANGUP, CS_REPORTING, CHANNEL_HANGUP_COMPLETE with the billing variables,
  CHANNEL_DESTROY, CS_DESTROY.
- ``wait_hangup(timeout=None) -> bool``.
- ``interrupted`` (bool): the running application should stop now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gevent.queue

if TYPE_CHECKING:
    from simulator.endpoints import Endpoint
    from simulator.switch import Switch

log = logging.getLogger(__name__)

CS_NEW = "CS_NEW"
CS_INIT = "CS_INIT"
CS_ROUTING = "CS_ROUTING"
CS_SOFT_EXECUTE = "CS_SOFT_EXECUTE"
CS_EXECUTE = "CS_EXECUTE"
CS_EXCHANGE_MEDIA = "CS_EXCHANGE_MEDIA"
CS_PARK = "CS_PARK"
CS_CONSUME_MEDIA = "CS_CONSUME_MEDIA"
CS_HIBERNATE = "CS_HIBERNATE"
CS_RESET = "CS_RESET"
CS_HANGUP = "CS_HANGUP"
CS_REPORTING = "CS_REPORTING"
CS_DESTROY = "CS_DESTROY"
CS_NONE = "CS_NONE"

# switch_channel_state_t in FreeSWITCH's order: the index is the number.
STATE_NUMBERS = {
    name: number
    for number, name in enumerate(
        (
            CS_NEW,
            CS_INIT,
            CS_ROUTING,
            CS_SOFT_EXECUTE,
            CS_EXECUTE,
            CS_EXCHANGE_MEDIA,
            CS_PARK,
            CS_CONSUME_MEDIA,
            CS_HIBERNATE,
            CS_RESET,
            CS_HANGUP,
            CS_REPORTING,
            CS_DESTROY,
            CS_NONE,
        )
    )
}

# switch_channel_callstate_t numbers.
CALLSTATE_NUMBERS = {
    "DOWN": 0,
    "DIALING": 1,
    "RINGING": 2,
    "EARLY": 3,
    "ACTIVE": 4,
    "HELD": 5,
    "RING_WAIT": 6,
    "HANGUP": 7,
    "UNHELD": 8,
}


@dataclass
class CallerProfile:
    """switch_caller_profile_t: who calls whom, as the Caller-* headers show."""

    username: str = ""
    dialplan: str = "XML"
    caller_id_name: str = ""
    caller_id_number: str = ""
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    network_addr: str = ""
    ani: str = ""
    aniii: str = ""
    rdnis: str = ""
    destination_number: str = ""
    uuid: str = ""
    source: str = "mod_sofia"
    transfer_source: str = ""
    context: str = "default"
    chan_name: str = ""
    direction: str = "inbound"
    logical_direction: str = "inbound"
    profile_index: int = 1
    created_us: int = 0
    times: dict[str, int] = field(default_factory=dict)


@dataclass
class ExecuteRecord:
    """One running application: what CHANNEL_EXECUTE(_COMPLETE) report."""

    app: str
    data: str
    app_uuid: str
    response: str | None = None


class Channel:
    """One call leg of the simulated switch."""

    def __init__(
        self,
        switch: Switch,
        *,
        name: str,
        direction: str,
        profile: CallerProfile,
        uuid: str | None = None,
        endpoint: Endpoint | None = None,
    ) -> None:
        self.switch = switch
        self.name = name
        self.direction = direction
        self.profile = profile
        self.uuid = uuid or switch.new_uuid()
        self.endpoint = endpoint
        self.state = CS_NEW
        self.callstate = "DOWN"
        self.answer_state = "ringing"
        self.variables: dict[str, Any] = {}
        self.other_leg: Channel | None = None
        self.bridged_to: Channel | None = None
        self.dtmf_queue: gevent.queue.Queue[str] = gevent.queue.Queue()

    def set_state(self, state: str) -> None:
        raise NotImplementedError

    def ring_ready(self) -> None:
        raise NotImplementedError

    def pre_answer(self) -> None:
        raise NotImplementedError

    def answer(self) -> None:
        raise NotImplementedError

    def set_variable(self, name: str, value: Any) -> None:
        raise NotImplementedError

    def get_variable(self, name: str, default: str | None = None) -> str | None:
        raise NotImplementedError

    def unset_variable(self, name: str) -> None:
        raise NotImplementedError

    def export_variable(self, name: str, value: str) -> None:
        raise NotImplementedError

    @contextmanager
    def execute(self, app: str, data: str = "") -> Iterator[ExecuteRecord]:
        raise NotImplementedError
        yield  # pragma: no cover

    def park(self) -> None:
        raise NotImplementedError

    def playback(self, path: str, *, terminators: str = "") -> str:
        raise NotImplementedError

    def sleep(self, seconds: float) -> bool:
        raise NotImplementedError

    def read_digit(self, timeout: float | None) -> str | None:
        raise NotImplementedError

    def transfer(
        self, destination: str, dialplan: str = "XML", context: str | None = None
    ) -> None:
        raise NotImplementedError

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        raise NotImplementedError

    def wait_hangup(self, timeout: float | None = None) -> bool:
        raise NotImplementedError
