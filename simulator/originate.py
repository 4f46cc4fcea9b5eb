"""Dial strings and the legs they make, as FreeSWITCH's originate does.

Grammar (switch_ivr_originate): ``{a=b,c=d}`` variables for every leg,
``[x=y]`` variables for the one leg that follows, ``,`` rings the legs
together, ``|`` tries the groups one after the other (failover), ``:_:``
enterprise originate (all groups at once).

Endpoints: ``user/<id>[@domain]`` (directory lookup over xml_curl with
``action=user_call``, then the user's ``dial-string``; not registered ->
``USER_NOT_REGISTERED`` without a B leg), ``sofia/gateway/<gw>/<number>``,
``sofia/<profile>/<user>@<host>``, ``loopback/<ext>[/<context>]``,
``error/<cause>``.

Variables honoured: ``leg_timeout``, ``originate_timeout``,
``ignore_early_media``, ``origination_caller_id_name/number``,
``origination_uuid``, ``effective_caller_id_name/number``,
``originate_continue_on_timeout``, ``sip_h_*`` (SIP headers of the leg),
``hangup_after_bridge``, ``continue_on_fail``.

Public interface:

- ``parse_dial_string(text) -> DialString``.
- ``originate(switch, dial_string, *, a_leg=None, timeout=60,
  variables=None) -> OriginateResult``: the answered B channel or the
  failure cause of each leg.
- ``bridge_app(a_leg, dial_string) -> bool``: the whole ``bridge``
  application on the A leg (originate, bridge, wait, the DIALSTATUS /
  originate_disposition / bridge_hangup_cause / last_bridge_* variables);
  returns True when the A leg should run on to the next dialplan action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.channel import Channel
    from simulator.switch import Switch

log = logging.getLogger(__name__)


class DialStringError(ValueError):
    """A dial string FreeSWITCH would refuse to parse."""


@dataclass
class DialLeg:
    """One endpoint of a dial string with its own variables."""

    target: str
    variables: dict[str, str] = field(default_factory=dict)


@dataclass
class DialString:
    """Parsed dial string: global variables and failover groups of legs."""

    variables: dict[str, str]
    groups: list[list[DialLeg]]


@dataclass
class OriginateResult:
    """What an originate ended with."""

    channel: Channel | None
    cause: str
    causes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.channel is not None


def parse_dial_string(text: str) -> DialString:
    raise NotImplementedError


def originate(
    switch: Switch,
    dial_string: str,
    *,
    a_leg: Channel | None = None,
    timeout: float = 60,
    variables: dict[str, str] | None = None,
) -> OriginateResult:
    raise NotImplementedError


def bridge_app(a_leg: Channel, dial_string: str) -> bool:
    raise NotImplementedError
