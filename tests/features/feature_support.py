"""Helpers shared by the feature scenarios (importable by module name)."""

from __future__ import annotations

from typing import Any


def rang(sim: Any, party: Any) -> int:
    """How many legs were made to ``party`` (its phone rang, or its mobile);
    calls the party placed itself do not count."""
    return sum(
        1
        for channel in sim.legs.values()
        if party.owns(channel) and channel.direction == "outbound"
    )
