"""Callers' names for the phones' displays, kept in the switch's memory.

An outside caller who is in the phonebook (or a colleague calling from
their mobile) should show by name on the desk phone. The dialplan looks the
caller's number up in mod_hash (realm :data:`REALM`) when the call comes in
(context ``public``), so the switch needs no round trip per call; this
module keeps that table equal to the directory and phonebook: in full after
every (re)connect to the switch, and as a difference after every published
configuration change.

Each number is stored under every form a carrier may send it in
(``+31612345678``, ``31612345678``, ``0031612345678``, ``0612345678``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import select

from orchestrator.domain import numbering
from orchestrator.domain.callerid import name_book
from orchestrator.domain.routing import CALLER_NAMES_REALM
from orchestrator.esl.errors import ConnectionLost, EslError, NotConnected
from orchestrator.esl.gateway import Gateway
from orchestrator.store import models as m
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

REALM = CALLER_NAMES_REALM
# A name goes into a dialplan variable: nothing the switch would expand.
_UNSAFE = re.compile(r"[${}\r\n]")


def number_forms(e164: str, country: str = "NL") -> list[str]:
    """The forms a trunk may send ``e164`` in (the dialplan looks up as sent)."""
    digits = e164.lstrip("+")
    forms = [e164, digits, "00" + digits]
    local = numbering.dialable(e164, country)
    if local not in forms:
        forms.append(local)
    return forms


def name_table(store: Store, country: str = "NL") -> dict[str, str]:
    """Every key the switch should hold, with the name it shows."""
    with store.session() as session:
        users = session.scalars(select(m.User)).all()
        entries = session.scalars(select(m.PhonebookEntry)).all()
        names = name_book(users, entries)
    table = {}
    for e164, name in names.items():
        clean = _UNSAFE.sub("", name).strip()
        if not clean:
            continue
        for form in number_forms(e164, country):
            table[form] = clean
    return table


class CallerNames:
    """Keeps the switch's name table in step with the store."""

    def __init__(self, store: Store, gateway: Gateway, country: str = "NL") -> None:
        self.store = store
        self.gateway = gateway
        self.country = country
        self._loaded: dict[str, str] = {}

    def sync(self) -> int:
        """Send what changed since the last sync; the number of commands sent."""
        wanted = name_table(self.store, self.country)
        sent = 0
        try:
            for key in set(self._loaded) - set(wanted):
                self._api(f"hash delete/{REALM}/{key}")
                sent += 1
            for key, name in wanted.items():
                if self._loaded.get(key) != name:
                    self._api(f"hash insert/{REALM}/{key}/{name}")
                    sent += 1
        except (NotConnected, ConnectionLost) as exc:
            # One line, not one per number: the resync after the next
            # connect sends the whole table again.
            log.warning(
                "caller names: switch not reachable (%s); sent on reconnect", exc
            )
            self._loaded = {}
            return sent
        self._loaded = wanted
        log.info("caller names: %s numbers known, %s updates sent", len(wanted), sent)
        return sent

    def reload(self, _snapshot: Any = None) -> None:
        """After a (re)connect: the switch may have restarted with an empty
        table, so everything is sent again."""
        self._loaded = {}
        self.sync()

    def _api(self, line: str) -> None:
        try:
            reply = self.gateway.api(line)
        except (NotConnected, ConnectionLost):
            raise
        except EslError as exc:
            log.warning("caller names: %s failed: %s", line.split("/", 1)[0], exc)
            return
        if reply.startswith("-ERR") and not reply.startswith("-ERR Not found"):
            log.warning("caller names: %s answered %s", line, reply.strip())


def run(ctx: Any) -> None:
    """The orchestrator service: load the names, then follow every publish."""
    names = CallerNames(ctx.store, ctx.gateway, ctx.settings.country)
    # Sends the whole table now if the switch answers, else once it does.
    ctx.gateway.on_resync(names.reload)
    pubsub = ctx.live.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("schakel:config")
    for _message in pubsub.listen():
        names.sync()
