"""SIP endpoints the simulated switch can call and be called by.

``Phone``: a SIP phone of a directory user. It registers (sofia::
pre_register, register_attempt, register with the directory variables; on
unregister PRESENCE_IN ``Unregistered`` then sofia::unregister) and answers
calls by its ``Behaviour``.

``Gateway``: the trunk (``sofia/gateway/<name>/<number>``); the far ends
behind it (mobiles, external numbers) each get a ``Behaviour`` by number,
with a default for the rest.

``Behaviour`` says what a called party does with an INVITE:

- ``answer_after`` seconds (None: never answers, rings until CANCEL);
- ``reject`` with a SIP status: 486 busy (USER_BUSY), 603 decline
  (CALL_REJECTED), 480 (NO_USER_RESPONSE), 404 (UNALLOCATED_NUMBER) ...,
  after ``reject_after`` seconds;
- ``ring`` (send 180 first, default True), ``early_media`` (183);
- ``on_answer``: a callable ``(channel) -> None`` run in its own greenlet
  after the answer: the scripted party (hang up after N s, send DTMF, hold).

Public interface: ``Behaviour``, ``Phone(user_id, domain, behaviour)``,
``Gateway(name, default, by_number)``, ``Endpoints`` (the registry the
switch owns: ``add_phone``, ``register``, ``unregister``, ``phone``,
``contact``, ``gateway``, ``add_gateway``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.channel import Channel

log = logging.getLogger(__name__)

# SIP final responses and the hangup cause FreeSWITCH maps each to
# (sofia_glue_sip_cause_to_freeswitch).
SIP_CAUSES = {
    404: "UNALLOCATED_NUMBER",
    408: "RECOVERY_ON_TIMER_EXPIRE",
    480: "NO_USER_RESPONSE",
    486: "USER_BUSY",
    487: "ORIGINATOR_CANCEL",
    503: "NORMAL_TEMPORARY_FAILURE",
    600: "USER_BUSY",
    603: "CALL_REJECTED",
}


@dataclass
class Behaviour:
    """What a called party does with an INVITE."""

    answer_after: float | None = 1.0
    reject: int | None = None
    reject_after: float = 0.5
    ring: bool = True
    early_media: bool = False
    on_answer: Callable[[Channel], None] | None = None


@dataclass
class Phone:
    """A directory user's SIP phone."""

    user_id: str
    domain: str = "127.0.0.1"
    behaviour: Behaviour = field(default_factory=Behaviour)
    password: str | None = None
    user_agent: str = "schakel-sim-phone"
    port: int = 5071
    registered: bool = False


@dataclass
class Gateway:
    """A SIP trunk and the parties reached through it."""

    name: str
    default: Behaviour = field(default_factory=Behaviour)
    by_number: dict[str, Behaviour] = field(default_factory=dict)

    def behaviour_for(self, number: str) -> Behaviour:
        return self.by_number.get(number, self.default)
