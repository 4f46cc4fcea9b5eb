"""Virtual time for the simulated switch.

The simulator runs on a virtual clock so that a demo or a test can run
faster than real time: with ``speed=10`` a 20 s ring timeout takes 2 s.
Everything in the simulator that waits (ring timers, playback lengths,
heartbeats, scripted parties) waits through ``Clock.sleep``; every time
stamp on an event comes from ``Clock.now``.

Public interface:

- ``Clock(speed=1.0, start=None)``: ``start`` is the virtual epoch at
  creation (defaults to the real time).
- ``now() -> float``: virtual epoch seconds.
- ``now_us() -> int``: virtual epoch microseconds (FreeSWITCH's unit).
- ``monotonic() -> float``: virtual seconds since creation, never jumps.
- ``sleep(seconds)``: a gevent sleep of ``seconds / speed`` real seconds.
- ``real(seconds) -> float``: the real duration of a virtual one, for
  gevent timeouts.
"""

from __future__ import annotations

import time

import gevent


class Clock:
    """Virtual time running ``speed`` times as fast as real time."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, not {speed!r}")
        self.speed = float(speed)
        self._real_origin = time.monotonic()
        self._virtual_origin = time.time() if start is None else float(start)

    def monotonic(self) -> float:
        """Virtual seconds since the clock was made."""
        return (time.monotonic() - self._real_origin) * self.speed

    def now(self) -> float:
        """Virtual epoch seconds."""
        return self._virtual_origin + self.monotonic()

    def now_us(self) -> int:
        """Virtual epoch microseconds, as FreeSWITCH stamps its events."""
        return int(self.now() * 1_000_000)

    def real(self, seconds: float) -> float:
        """How long ``seconds`` of virtual time take in real time."""
        return max(0.0, seconds) / self.speed

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass (cooperatively)."""
        gevent.sleep(self.real(seconds))
