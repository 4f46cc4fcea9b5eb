"""Timing-sensitive flows give the same virtual timings on a loaded machine.

Each flow runs several times while a thread and another process burn CPU;
every event's virtual time (relative to the call's first event) and the
billing variables must come out identical each time, and equal to what
FreeSWITCH's timers say.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from xml.sax.saxutils import quoteattr

import pytest

from simulator.scenario import Call, Simulation
from simulator.xmlcurl import StaticFetcher

RUNS = 3
START = 1_800_000_000.25
TONE_1S = "tone_stream://%(1000,0,440)"
TONE_HALF_S = "tone_stream://%(500,0,480)"
DESK = "+31201111111"
MOBILE = "+31612222222"

EXTENSIONS = {
    "5": [
        ("set", "continue_on_fail=true"),
        ("bridge", f"{{leg_timeout=5}}sofia/gateway/trunk/{DESK}"),
        ("playback", TONE_1S),
        ("hangup", ""),
    ],
    "6": [
        (
            "bridge",
            f"[leg_timeout=10]sofia/gateway/trunk/{DESK},"
            f"[leg_timeout=10,leg_delay_start=3]sofia/gateway/trunk/{MOBILE}",
        ),
    ],
    "7": [
        ("answer", ""),
        (
            "play_and_get_digits",
            f"2 4 2 3000 # {TONE_1S} {TONE_HALF_S} choice \\d+ 1500",
        ),
        ("playback", TONE_1S),
        ("hangup", ""),
    ],
}

BILLING = (
    "duration",
    "mduration",
    "billsec",
    "billmsec",
    "answersec",
    "answermsec",
    "progresssec",
    "progressmsec",
    "waitsec",
    "waitmsec",
    "progress_mediamsec",
)


def dialplan() -> str:
    parts = []
    for number, actions in EXTENSIONS.items():
        rows = "".join(
            f"<action application={quoteattr(app)} data={quoteattr(data)}/>"
            for app, data in actions
        )
        parts.append(
            f'<extension name="x{number}"><condition field="destination_number" '
            f'expression="^{number}$">{rows}</condition></extension>'
        )
    return (
        '<document type="freeswitch/xml"><section name="dialplan">'
        f'<context name="public">{"".join(parts)}</context></section></document>'
    )


@pytest.fixture(scope="module")
def cpu_hog() -> Iterator[None]:
    """A busy thread in this process and a busy process beside it."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(2000))

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    other = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        stop.set()
        other.kill()
        other.wait()
        thread.join()


def simulation() -> Simulation:
    fetcher = StaticFetcher(documents={"dialplan.public.xml": dialplan()})
    return Simulation(fetcher, speed=50, start=START)


def fingerprint(sim: Simulation, call: Call) -> tuple[list[tuple], dict]:
    """(leg, event, µs since the call's first event) and the A leg's billing."""
    records = [r for r in sim.log.records if r.get("Unique-ID")]
    first = int(call.events()[0].get("Event-Date-Timestamp"))
    timings = []
    for record in records:
        leg = sim.leg(record.get("Unique-ID"))
        name = leg.name if leg is not None else "?"
        stamp = int(record.get("Event-Date-Timestamp")) - first
        timings.append((name, record.name, stamp))
    complete = call.events("CHANNEL_HANGUP_COMPLETE")[-1]
    billing = {name: complete.get(f"variable_{name}") for name in BILLING}
    return sorted(timings), billing


def leg_timeout_then_on(sim: Simulation) -> Call:
    sim.mobile("desk", DESK, answers=False)
    call = sim.dial("0201234567", "5")
    call.expect_hangup(within=30)
    sim.wait_idle(within=10)
    return call


def delayed_leg(sim: Simulation) -> Call:
    sim.mobile("desk", DESK, answers=False)
    sim.mobile("mobile", MOBILE, answers_after=2, talks_for=4)
    call = sim.dial("0201234567", "6")
    call.expect_hangup(within=30)
    sim.wait_idle(within=10)
    return call


def digit_timeouts(sim: Simulation) -> Call:
    call = sim.dial("0201234567", "7")
    # First try: nothing pressed (1 s prompt, 3 s timeout, 0.5 s invalid
    # prompt); second try: 1 and 2 a second apart, then the digit timeout.
    call.wait(5.0)
    call.press("12", gap=1.0)
    call.expect_hangup(within=30)
    sim.wait_idle(within=10)
    return call


FLOWS = {
    "leg_timeout": leg_timeout_then_on,
    "leg_delay_start": delayed_leg,
    "digit_timeouts": digit_timeouts,
}


def run(flow) -> tuple[list[tuple], dict, Simulation, Call]:
    with simulation() as sim:
        call = flow(sim)
        timings, billing = fingerprint(sim, call)
    return timings, billing, sim, call


def at(timings: list[tuple], leg: str, event: str) -> list[int]:
    return [stamp for name, ev, stamp in timings if leg in name and ev == event]


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_the_same_virtual_timings_every_time(cpu_hog, name):
    results = [run(FLOWS[name])[:2] for _ in range(RUNS)]
    first = results[0]
    for other in results[1:]:
        assert other[0] == first[0]
        assert other[1] == first[1]


def test_leg_timeout_ends_the_leg_after_exactly_five_seconds(cpu_hog):
    timings, billing, sim, call = run(leg_timeout_then_on)
    created = at(timings, DESK, "CHANNEL_CREATE")[0]
    hangup = at(timings, DESK, "CHANNEL_HANGUP")[0]
    assert hangup - created == 5_000_000
    # The leg's own limit: ALLOTTED_TIMEOUT (check_per_channel_timeouts).
    assert call.variable("originate_disposition") == "ALLOTTED_TIMEOUT"
    # The A leg ran on: one second of tone, then the hangup.
    stops = at(timings, "external", "PLAYBACK_STOP")
    starts = at(timings, "external", "PLAYBACK_START")
    assert stops[0] - starts[0] == 1_000_000
    assert billing["billsec"] == "0"


def test_delayed_leg_is_called_three_seconds_later(cpu_hog):
    timings, billing, sim, call = run(delayed_leg)
    desk_rings = at(timings, DESK, "CHANNEL_PROGRESS")[0]
    mobile_rings = at(timings, MOBILE, "CHANNEL_PROGRESS")[0]
    assert mobile_rings - desk_rings == 3_000_000
    answered = at(timings, MOBILE, "CHANNEL_ANSWER")[0]
    assert answered - mobile_rings == 2_000_000
    assert billing["billmsec"] == "4000"


def test_digit_timeouts_are_counted_in_virtual_time(cpu_hog):
    timings, billing, sim, call = run(digit_timeouts)
    assert call.variable("choice") == "12"
    done = [
        r
        for r in call.events("CHANNEL_EXECUTE_COMPLETE")
        if r.get("Application") == "play_and_get_digits"
    ][0]
    first = int(call.events()[0].get("Event-Date-Timestamp"))
    # Prompt 1 s, timeout 3 s, invalid prompt 0.5 s, the second prompt cut
    # by the key at 5 s, the next key at 6 s, then the 1.5 s digit timeout.
    finished = int(done.get("Event-Date-Timestamp")) - first
    assert finished == 7_500_000
    assert billing["billmsec"] == "8500"
