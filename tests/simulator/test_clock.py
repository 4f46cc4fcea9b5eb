"""The discrete-event clock: virtual time moves only when the hub is idle."""

from __future__ import annotations

import gevent
import gevent.event
import pytest

from simulator.clock import TICK, Clock


@pytest.fixture
def clock():
    clock = Clock(speed=1000, start=1_700_000_000.0)
    yield clock
    clock.stop()


def test_sleepers_wake_in_order_at_their_exact_instants(clock):
    woke: list[tuple[str, float]] = []

    def sleeper(name: str, seconds: float) -> None:
        clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    gevent.joinall(
        [gevent.spawn(sleeper, name, s) for name, s in (("c", 5), ("a", 1), ("b", 2.5))]
    )
    assert woke == [("a", 1.0), ("b", 2.5), ("c", 5.0)]
    assert clock.now_us() == 1_700_000_005_000_000


def test_time_stands_still_while_greenlets_work(clock):
    seen: list[float] = []

    def busy() -> None:
        for _ in range(300):
            seen.append(clock.monotonic())
            gevent.sleep(0)

    worker = gevent.spawn(busy)
    clock.sleep(0.001)
    assert worker.dead
    assert set(seen) == {0.0}
    assert clock.monotonic() == pytest.approx(0.001, abs=TICK)


def test_a_deadline_off_the_grid_is_met_exactly(clock):
    deadline = clock.monotonic() + 0.3
    clock.sleep_until(deadline)
    assert clock.monotonic() >= deadline
    assert clock.monotonic() - deadline < TICK


def test_wait_gives_up_after_virtual_seconds(clock):
    event = gevent.event.Event()
    assert clock.wait(event, 2) is False
    assert clock.monotonic() == 2.0


def test_wait_returns_when_the_event_comes_first(clock):
    event = gevent.event.Event()
    clock.spawn_later(1.5, event.set)
    assert clock.wait(event, 10) is True
    assert clock.monotonic() == 1.5
    clock.sleep(20)
    assert clock.monotonic() == 21.5  # the cancelled deadline woke nobody


def test_wait_any_names_the_first_ready(clock):
    first, second = gevent.event.Event(), gevent.event.Event()
    clock.spawn_later(3, second.set)
    assert clock.wait_any([first, second], 5) is second
    assert clock.wait_any([first], 1) is None


def test_a_late_deadline_loses_the_tie(clock):
    event = gevent.event.Event()
    deadline = clock.monotonic() + 4
    clock.spawn_later(4, event.set)
    assert clock.wait_until(event, deadline, late=True) is True
    assert clock.monotonic() == 4.0


def test_time_is_held_while_the_simulation_waits_on_the_network(clock):
    woke: list[float] = []
    gevent.spawn(lambda: (clock.sleep(0.001), woke.append(clock.monotonic())))
    gevent.sleep(0)
    with clock.hold():
        # 20 ms real would be 20 virtual seconds at this speed.
        gevent.sleep(0.02)
        assert woke == []
        assert clock.monotonic() == 0.0
    clock.sleep(1)
    assert woke == [pytest.approx(0.001, abs=TICK)]


def test_time_flows_while_the_switch_is_idle():
    clock = Clock(speed=100)
    try:
        clock.monotonic()
        gevent.sleep(0.05)  # an outside actor, in real time
        # At least 0.05 real seconds have passed: 5 virtual ones.
        assert clock.monotonic() >= 5.0
        frozen = clock.monotonic()
        assert clock.monotonic() == frozen
    finally:
        clock.stop()


def test_speed_must_be_positive():
    with pytest.raises(ValueError):
        Clock(speed=0)
