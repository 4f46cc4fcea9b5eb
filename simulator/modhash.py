"""mod_hash: the switch's in-memory key/value store (``hash`` app and api).

Dialplans keep small run-time state in it (the last call to ring an
extension, a round-robin pointer). As in FreeSWITCH:

- the data is split on ``/`` into at most four fields: command, realm, key
  and the rest as value (so a value may hold ``/``);
- realm and key are joined as ``<realm>_<key>``, so ``a_b/c`` and ``a/b_c``
  name the same entry;
- the application knows ``insert``, ``insert_ifempty``, ``delete`` and
  ``delete_ifmatch``, says nothing back and only logs a usage warning on
  bad data; it runs without media and on hung-up channels;
- the api also knows ``select`` (the bare value, or nothing), and answers
  ``+OK``, ``-ERR key already exists``, ``-ERR Not found``,
  ``-ERR Doesn't match`` or the usage line.

The table belongs to one switch (`table_of`).
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.apps import AppCall

log = logging.getLogger(__name__)

APP_USAGE = "[insert|insert_ifempty|delete|delete_ifmatch]/<realm>/<key>/<val>"
API_USAGE = "insert|insert_ifempty|select|delete|delete_ifmatch/realm/key[/value]"

_TABLES: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def table_of(switch: Any) -> dict[str, str]:
    """The hash table of one switch (created on first use)."""
    table = _TABLES.get(switch)
    if table is None:
        table = _TABLES[switch] = {}
    return table


def _fields(data: str) -> list[str] | None:
    parts = data.split("/", 3) if data else []
    if len(parts) < 3 or not parts[0]:
        return None
    return parts


def app_hash(call: AppCall) -> None:
    """The ``hash`` dialplan application."""
    parts = _fields(call.data)
    command = parts[0].lower() if parts else ""
    needs_value = command in ("insert", "insert_ifempty", "delete_ifmatch")
    if (
        parts is None
        or command
        not in (
            "insert",
            "insert_ifempty",
            "delete",
            "delete_ifmatch",
        )
        or (needs_value and len(parts) < 4)
    ):
        log.warning("channel %s: USAGE: hash %s", call.channel.uuid, APP_USAGE)
        return
    table = table_of(call.switch)
    key = f"{parts[1]}_{parts[2]}"
    if command == "insert":
        table[key] = parts[3]
    elif command == "insert_ifempty":
        table.setdefault(key, parts[3])
    elif command == "delete":
        table.pop(key, None)
    elif table.get(key) == parts[3]:
        del table[key]


def api_hash(switch: Any, args: str) -> str:
    """The ``hash`` api command."""
    parts = _fields(args.strip())
    usage = f"-ERR Usage: hash {API_USAGE}\n"
    if parts is None:
        return usage
    command = parts[0].lower()
    table = table_of(switch)
    key = f"{parts[1]}_{parts[2]}"
    if command == "select":
        return table.get(key, "")
    if command == "delete":
        if table.pop(key, None) is None:
            return "-ERR Not found\n"
        return "+OK\n"
    if command not in ("insert", "insert_ifempty", "delete_ifmatch"):
        return usage
    if len(parts) < 4:
        return usage
    value = parts[3]
    if command == "insert":
        table[key] = value
        return "+OK\n"
    if command == "insert_ifempty":
        if key in table:
            return "-ERR key already exists\n"
        table[key] = value
        return "+OK\n"
    if key not in table:
        return "-ERR Not found\n"
    if table[key] != value:
        return "-ERR Doesn't match\n"
    del table[key]
    return "+OK\n"
