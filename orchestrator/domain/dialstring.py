"""FreeSWITCH dial strings for ringing users, groups and mobiles.

A dial string is what ``bridge`` takes: ``{vars}`` for every leg,
``[vars]`` for one leg, ``,`` between legs that ring together and ``|``
between groups tried one after the other. Values are kept to plain tokens
(numbers, seconds, header values without commas); names and other free text
are set on the calling channel instead, where the legs inherit them.

"One number" rings a user's mobile through the trunk with their phones:
together, or after a delay (``leg_delay_start``). FreeSWITCH adds that
delay to the leg's ``leg_timeout``, so a delayed mobile gets the ring time
less the delay and stops ringing together with the phones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.domain.hunt import HuntStep

# Characters that end a value or a leg. ``${name}`` references are fine:
# FreeSWITCH expands them when the bridge starts.
_UNSAFE = re.compile(r"[,\[\]{}|]")
_REFERENCE = re.compile(r"\$\{[A-Za-z0-9_]+\}")


class DialStringError(ValueError):
    """A value that would break the dial string it goes into."""


@dataclass(frozen=True)
class Leg:
    endpoint: str
    variables: Mapping[str, str | int] = field(default_factory=dict)

    def render(self) -> str:
        if not self.variables:
            return self.endpoint
        return f"[{_pairs(self.variables)}]{self.endpoint}"


def _pairs(variables: Mapping[str, str | int]) -> str:
    parts = []
    for name, value in variables.items():
        text = str(value)
        if _UNSAFE.search(_REFERENCE.sub("", text)) or _UNSAFE.search(name):
            raise DialStringError(f"{name}={text!r} cannot go into a dial string")
        parts.append(f"{name}={text}")
    return ",".join(parts)


def render(
    groups: Sequence[Sequence[Leg]], variables: Mapping[str, str | int] | None = None
) -> str:
    """``{variables}`` then the groups, legs of a group rung together."""
    body = "|".join(",".join(leg.render() for leg in group) for group in groups)
    if variables:
        return "{" + _pairs(variables) + "}" + body
    return body


def user_endpoint(sip_user: str, domain: str) -> str:
    return f"user/{sip_user}@{domain}"


def gateway_endpoint(gateway: str, number: str) -> str:
    return f"sofia/gateway/{gateway}/{number}"


def device_legs(
    sip_users: Iterable[str], domain: str, seconds: int, **extra: str | int
) -> list[Leg]:
    return [
        Leg(user_endpoint(sip_user, domain), {"leg_timeout": seconds, **extra})
        for sip_user in sip_users
    ]


def user_legs(
    sip_users: Sequence[str],
    domain: str,
    seconds: int,
    *,
    one_number: str = "off",
    delay: int = 0,
    mobile: str | None = None,
    gateway: str = "trunk",
    owner: str | None = None,
) -> list[Leg]:
    """The legs that ring one user: their devices and, by "one number",
    their mobile through the trunk (together, or ``delay`` seconds later).

    With ``owner`` (the user's name) the mobile's leg says whose it is, as
    a desk phone's leg does: the user shows busy while talking on it, the
    call is in their call list, and the switch's channel list tells it too.
    """
    legs = device_legs(sip_users, domain, seconds)
    if one_number == "off" or not mobile:
        return legs
    # The mobile shows the caller as a colleague's phone would: the external
    # caller's number, or a colleague's own outside number, never an extension.
    variables: dict[str, str | int] = {
        "leg_timeout": seconds,
        "origination_caller_id_number": "${schakel_external_cli}",
    }
    if owner:
        variables["schakel_user"] = owner
        variables["schakel_side"] = "in"
        if sip_users:
            variables["presence_id"] = f"{sip_users[0]}@{domain}"
    if one_number == "after" and delay > 0:
        # FreeSWITCH adds the delay to the leg's timeout: the mobile stops
        # ringing together with the phones.
        variables["leg_timeout"] = max(seconds - delay, 1)
        variables["leg_delay_start"] = delay
    legs.append(Leg(gateway_endpoint(gateway, mobile), variables))
    return legs


def fork_variables(legs: Sequence[Leg]) -> dict[str, str | int]:
    """What a fork of phones and a mobile needs on the whole originate.

    A mobile network often answers a call with early media (its own ring
    tone, an announcement) before the mobile rings. FreeSWITCH ends a
    bridge on the first leg with early media unless told to ignore it: the
    desk phones would stop ringing at once and the caller stay on the
    mobile's leg. The caller still hears ringing when a leg rings.
    """
    through_trunk = any(leg.endpoint.startswith("sofia/gateway/") for leg in legs)
    if through_trunk and len(legs) > 1:
        return {"ignore_early_media": "true"}
    return {}


def hunt_dial_string(steps: Sequence[HuntStep], domain: str) -> str:
    """One hunt group rotation: each step's members' devices ring together,
    steps one after the other."""
    groups = [
        [
            leg
            for member in step.members
            for leg in device_legs(member.sip_users, domain, step.seconds)
        ]
        for step in steps
    ]
    if len(groups) > 1:
        # Without it FreeSWITCH gives up the failover when a group times out.
        return render(groups, {"originate_continue_on_timeout": "true"})
    return render(groups)


def check_one_number(one_number: str, delay: int, ring_seconds: int) -> None:
    """Raise :class:`DialStringError` for a delay the mobile never reaches."""
    if one_number == "after" and not 0 < delay < ring_seconds:
        raise DialStringError(
            f"the mobile rings {delay} seconds after the phones, so the delay "
            f"must lie between 1 and {ring_seconds - 1} (the ring time)"
        )
