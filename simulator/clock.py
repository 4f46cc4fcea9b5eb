"""Virtual time for the simulated switch: a discrete-event clock.

Virtual time stands still while the simulation works. Every wait in the
simulator (ring timers, prompt lengths, digit timeouts, heartbeats, the
scripted parties, a test's ``within=``) registers a deadline with the
clock; a driver greenlet advances virtual time to the earliest deadline
only when the gevent hub has nothing else to do, and then wakes the
sleepers due. So a flow's virtual timings depend on nothing but the flow:
a loaded machine makes it take longer, never makes it take a different
virtual time.

Time is still paced by real time, ``speed`` times as fast: before a jump
the driver waits until ``(deadline - now) / speed`` real seconds have
passed since virtual time last moved. While it waits the switch is idle
and virtual time flows with real time, so that actors outside the
simulation (an orchestrator on the Event Socket) get real time to react
and see sensible times; the first thing the simulation does on their
behalf freezes time again at that moment. With ``speed=1.0`` the clock
keeps to the wall clock as long as the machine keeps up.

Virtual instants lie on a grid of 2**-20 s, on which sums and differences
of floats are exact: a deadline computed as ``monotonic() + 5`` is met
exactly, and a deadline off the grid is rounded up to it.

Public interface:

- ``Clock(speed=1.0, start=None)``: ``start`` is the virtual epoch at
  creation (defaults to the real time).
- ``now() -> float``, ``now_us() -> int``: virtual epoch (FreeSWITCH's
  event times are microseconds).
- ``monotonic() -> float``: virtual seconds since creation.
- ``sleep(seconds)``; ``sleep_until(deadline)`` (a ``monotonic()`` value).
- ``wait(waitable, timeout=None) -> bool`` and ``wait_until(waitable,
  deadline)``: wait for a gevent ``Event`` (anything with ``rawlink`` and
  ``ready()``) at most ``timeout`` virtual seconds; True if it is ready.
- ``wait_any(waitables, timeout=None)`` and ``wait_any_until(waitables,
  deadline)``: the same for the first of several.
- ``spawn_later(seconds, function, *args) -> Greenlet``.
- ``hold()``: a context manager; virtual time does not move inside it (an
  xml_curl fetch the simulation waits for over the network).
- ``real(seconds) -> float``: the real duration of a virtual one at this
  speed, for pacing outside the simulation only.
- ``stop()``: forget every deadline and stop the driver.

A clock belongs to the gevent hub (thread) that first waits on it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import gevent
import gevent.event

log = logging.getLogger(__name__)

# Virtual instants are multiples of TICK (exact in binary floating point).
TICK = 1.0 / (1 << 20)

# libev's lowest priority: the driver's idle watcher runs only when nothing
# else at all is pending.
_LOWEST = -2


class Waitable(Protocol):
    def rawlink(self, callback: Callable[[Any], None]) -> None: ...

    def unlink(self, callback: Callable[[Any], None]) -> None: ...

    def ready(self) -> bool: ...


class _Timer:
    """One deadline: ``late`` ones lose ties against the others."""

    __slots__ = ("deadline", "late", "wake", "cancelled")

    def __init__(self, deadline: float, late: bool, wake: Callable[[], None]):
        self.deadline = deadline
        self.late = late
        self.wake = wake
        self.cancelled = False

    def cancel(self) -> bool:
        """Cancel; False when it had already fired or been cancelled."""
        live = not self.cancelled
        self.cancelled = True
        return live


class Clock:
    """Discrete-event virtual time, paced at ``speed`` times real time."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, not {speed!r}")
        self.speed = float(speed)
        origin = time.time() if start is None else float(start)
        self._origin_us = int(round(origin * 1_000_000))
        self._now = 0.0
        self._real_mark = time.monotonic()
        self._heap: list[tuple[float, bool, int, _Timer]] = []
        self._order = itertools.count()
        self._cancelled = 0
        self._holds = 0
        self._released = gevent.event.Event()
        self._released.set()
        self._changed = gevent.event.Event()
        # While the driver paces (the switch idle), time flows up to this.
        self._flowing = False
        self._flow_limit = math.inf
        self._driver: gevent.Greenlet | None = None

    # ------------------------------------------------------------- reading

    def monotonic(self) -> float:
        """Virtual seconds since the clock was made."""
        if self._flowing:
            self._freeze()
        elif self._driver is None:
            self._start_driver()
        return self._now

    def now(self) -> float:
        """Virtual epoch seconds."""
        return self.now_us() / 1_000_000

    def now_us(self) -> int:
        """Virtual epoch microseconds, as FreeSWITCH stamps its events."""
        return self._origin_us + int(self.monotonic() * 1_000_000)

    def real(self, seconds: float) -> float:
        """How long ``seconds`` of virtual time take in real time (pacing)."""
        return max(0.0, seconds) / self.speed

    def _freeze(self) -> None:
        """Something outside woke the idle switch: time stops where it is."""
        real = time.monotonic()
        flowed = self._now + (real - self._real_mark) * self.speed
        self._now = max(self._now, _floor(min(flowed, self._flow_limit)))
        self._real_mark = real
        self._flowing = False
        self._changed.set()

    # ------------------------------------------------------------- waiting

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass (0 or less: just yield)."""
        if seconds <= 0:
            gevent.sleep(0)
            return
        self.sleep_until(self.monotonic() + seconds)

    def sleep_until(self, deadline: float) -> None:
        self.wait_until(gevent.event.Event(), deadline)

    def wait(self, waitable: Waitable, timeout: float | None = None) -> bool:
        """Wait for ``waitable`` at most ``timeout`` virtual seconds."""
        return self.wait_any([waitable], timeout) is not None

    def wait_until(
        self, waitable: Waitable, deadline: float | None, *, late: bool = False
    ) -> bool:
        return self.wait_any_until([waitable], deadline, late=late) is not None

    def wait_any(
        self, waitables: Iterable[Waitable], timeout: float | None = None
    ) -> Waitable | None:
        """The first of ``waitables`` to be ready, or None after ``timeout``."""
        deadline = None if timeout is None else self.monotonic() + max(timeout, 0)
        return self.wait_any_until(waitables, deadline)

    def wait_any_until(
        self,
        waitables: Iterable[Waitable],
        deadline: float | None,
        *,
        late: bool = False,
    ) -> Waitable | None:
        """As ``wait_any`` up to a ``monotonic()`` instant.

        ``late``: at the deadline itself, everything else due at that
        instant happens first (an expectation's time limit).
        """
        watched = list(waitables)
        for waitable in watched:
            if waitable.ready():
                return waitable
        if deadline is None:
            done = gevent.wait(watched, count=1)
            return done[0] if done else None
        expired = gevent.event.Event()
        timer = self._schedule(deadline, late, expired.set)
        try:
            gevent.wait([*watched, expired], count=1)
        finally:
            if timer.cancel():
                self._cancelled += 1
        return next((w for w in watched if w.ready()), None)

    def spawn_later(
        self, seconds: float, function: Callable[..., Any], *args: Any
    ) -> gevent.Greenlet:
        """Run ``function(*args)`` in a new greenlet after ``seconds``."""

        def later() -> None:
            self.sleep(seconds)
            function(*args)

        return gevent.spawn(later)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep virtual time still while the simulation waits on the network."""
        if self._flowing:
            self._freeze()
        self._holds += 1
        self._released.clear()
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds:
                self._released.set()

    def stop(self) -> None:
        """Forget every deadline (their sleepers never wake) and the driver."""
        self._heap.clear()
        self._cancelled = 0
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.kill(block=False)

    # -------------------------------------------------------------- driver

    def _schedule(
        self, deadline: float, late: bool, wake: Callable[[], None]
    ) -> _Timer:
        now = self.monotonic()
        at = _ceil(deadline)
        if at <= now and deadline > now:
            at = now + TICK
        timer = _Timer(max(at, now), late, wake)
        heapq.heappush(self._heap, (timer.deadline, late, next(self._order), timer))
        if self._cancelled > 64 and self._cancelled > len(self._heap) // 2:
            self._compact()
        self._changed.set()
        if self._driver is None or self._driver.dead:
            self._start_driver()
        return timer

    def _start_driver(self) -> None:
        self._real_mark = time.monotonic()
        self._driver = gevent.spawn(self._drive)

    def _compact(self) -> None:
        self._heap = [entry for entry in self._heap if not entry[3].cancelled]
        heapq.heapify(self._heap)
        self._cancelled = 0

    def _head(self) -> tuple[float, bool] | None:
        heap = self._heap
        while heap and heap[0][3].cancelled:
            heapq.heappop(heap)
            self._cancelled = max(0, self._cancelled - 1)
        return (heap[0][0], heap[0][1]) if heap else None

    def _drive(self) -> None:
        while True:
            self._settle()
            self._changed.clear()
            head = self._head()
            if head is None:
                self._flow(math.inf, None)
                continue
            deadline, late = head
            if deadline > self._now:
                real_left = (deadline - self._now) / self.speed - (
                    time.monotonic() - self._real_mark
                )
                if real_left > 0 and not self._flow(deadline, real_left):
                    continue
                self._now = deadline
                self._real_mark = time.monotonic()
            self._fire(deadline, late)

    def _settle(self) -> None:
        """Until nothing is held and the hub has nothing else to run."""
        while True:
            self._released.wait()
            gevent.idle(_LOWEST)
            if not self._holds:
                return

    def _flow(self, limit: float, real_seconds: float | None) -> bool:
        """Let time flow up to ``limit`` for that long; False if disturbed."""
        self._flow_limit = limit
        self._flowing = True
        disturbed = self._changed.wait(real_seconds)
        if self._flowing:
            self._flowing = False
        return not disturbed

    def _fire(self, deadline: float, late: bool) -> None:
        """Wake every sleeper due at this instant (the late ones apart)."""
        heap = self._heap
        while heap and heap[0][0] <= deadline and heap[0][1] == late:
            timer = heapq.heappop(heap)[3]
            if timer.cancelled:
                self._cancelled = max(0, self._cancelled - 1)
                continue
            timer.cancelled = True
            try:
                timer.wake()
            except Exception:
                log.exception("clock: a wake-up failed")


def _ceil(seconds: float) -> float:
    return math.ceil(seconds / TICK) * TICK


def _floor(seconds: float) -> float:
    return math.floor(seconds / TICK) * TICK
