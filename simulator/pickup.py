"""mod_dptools' pickup groups: legs of ``pickup/<key>`` waiting to be taken.

An originate to ``pickup/<key>`` makes a leg that rings nobody: it waits in
the group ``<key>`` (``<key>@<domain>`` when the key has no domain, the
switch's global ``domain``) until a channel runs the ``pickup <key>``
application, which takes the oldest. Every change of a group's size is
announced with a PRESENCE_IN of proto ``pickup`` (``Active (N calls)`` or
``Idle``), as ``pickup_send_presence`` does.

Public interface:

- ``PickupEntry(uuid, take)``: ``take(picker)`` is called with the picking
  channel; the originate that rang the leg hands the call over there.
- ``PickupGroups(switch)``: ``add(key, entry)``, ``pop(key) -> entry | None``
  (the oldest), ``remove(key, uuid)``, ``count(key)``, ``key_of(key)``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.events import CallSite, Event

if TYPE_CHECKING:
    from simulator.channel import Channel
    from simulator.switch import Switch

log = logging.getLogger(__name__)

_ACTIVE = CallSite("mod_dptools.c", "pickup_send_presence", 3749)
_IDLE = CallSite("mod_dptools.c", "pickup_send_presence", 3767)


@dataclass
class PickupEntry:
    """A waiting ``pickup/<key>`` leg that a ``pickup <key>`` may take."""

    uuid: str
    take: Callable[[Channel], None]


class PickupGroups:
    """The pickup hash: per key, the waiting legs, oldest first."""

    def __init__(self, switch: Switch) -> None:
        self.switch = switch
        self._groups: dict[str, list[PickupEntry]] = {}
        # FreeSWITCH counts these presence events module-wide.
        self._event_count = itertools.count()

    def key_of(self, key: str) -> str:
        """``key@domain``: a key without a domain is in the switch's own."""
        if "@" in key:
            return key
        domain = self.switch.global_vars.get("domain") or self.switch.domain
        return f"{key}@{domain}"

    def add(self, key: str, entry: PickupEntry) -> None:
        key = self.key_of(key)
        self._groups.setdefault(key, []).append(entry)
        log.debug("pickup %s: leg %s waits", key, entry.uuid)
        self._announce(key)

    def pop(self, key: str) -> PickupEntry | None:
        """The oldest waiting leg of the group, taken out of it."""
        key = self.key_of(key)
        entries = self._groups.get(key)
        if not entries:
            return None
        entry = entries.pop(0)
        if not entries:
            del self._groups[key]
        self._announce(key)
        return entry

    def remove(self, key: str, uuid: str) -> None:
        """A waiting leg went away (hung up, or the originate ended)."""
        key = self.key_of(key)
        entries = self._groups.get(key, [])
        left = [entry for entry in entries if entry.uuid != uuid]
        if len(left) == len(entries):
            return
        if left:
            self._groups[key] = left
        else:
            del self._groups[key]
        self._announce(key)

    def count(self, key: str) -> int:
        return len(self._groups.get(self.key_of(key), []))

    def _announce(self, key: str) -> None:
        """PRESENCE_IN for the group, as pickup_send_presence sends it."""
        count = self.count(key)
        name = key.split("@", 1)[0]
        event = Event("PRESENCE_IN", origin=_ACTIVE if count else _IDLE)
        event.add("proto", "pickup")
        event.add("login", key)
        event.add("from", key)
        if count:
            calls = "call" if count == 1 else "calls"
            event.add("force-status", f"Active ({count} {calls})")
            event.add("rpid", "active")
        else:
            event.add("force-status", "Idle")
            event.add("rpid", "unknown")
        event.add("event_type", "presence")
        event.add("alt_event_type", "dialog")
        event.add("event_count", str(next(self._event_count)))
        # The active form names the bare key, the idle one key@domain.
        event.add("unique-id", name if count else key)
        event.add("channel-state", "CS_ROUTING" if count else "CS_HANGUP")
        event.add("answer-state", "confirmed" if count else "terminated")
        event.add("call-direction", "inbound")
        self.switch.fire(event)
