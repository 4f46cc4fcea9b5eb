"""What the switch says is live right now, read after every (re)connect."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

logger = logging.getLogger(__name__)

Row = dict[str, Any]

# The api commands whose JSON lists make up a snapshot.
SHOW_CHANNELS = "show channels as json"
SHOW_CALLS = "show calls as json"
SHOW_REGISTRATIONS = "show registrations as json"


@dataclass
class LiveSnapshot:
    """Rows of ``show channels|calls|registrations as json``.

    A list is None when the switch could not give it (the reason is logged),
    so that a consumer can tell "nothing live" from "not known".
    """

    channels: list[Row] | None = field(default_factory=list)
    calls: list[Row] | None = field(default_factory=list)
    registrations: list[Row] | None = field(default_factory=list)

    def channel_uuids(self) -> set[str]:
        return {row["uuid"] for row in self.channels or () if row.get("uuid")}


def parse_show(text: str) -> list[Row]:
    """Rows of a ``show ... as json`` answer.

    With no rows FreeSWITCH answers ``{"row_count": 0}`` and no ``rows`` key.
    """
    data = orjson.loads(text)
    if not isinstance(data, dict):
        raise ValueError("show output is not a JSON object")
    rows = data.get("rows") or []
    if not isinstance(rows, list):
        raise ValueError("show output has no list of rows")
    return [row for row in rows if isinstance(row, dict)]
