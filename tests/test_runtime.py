"""The registry of background services: started, supervised, skipped."""

from __future__ import annotations

from typing import Any

import gevent
import pytest

from orchestrator import runtime

CALLS: list[str] = []


def flaky(ctx: runtime.Context) -> None:
    CALLS.append("run")
    if len(CALLS) == 1:
        raise RuntimeError("first run fails")


def forever(ctx: runtime.Context) -> None:
    CALLS.append("forever")
    gevent.sleep(3600)


@pytest.fixture
def ctx(settings: Any) -> runtime.Context:
    CALLS.clear()
    # Neither store nor live state is touched by these services.
    return runtime.Context(settings, store=None, live=None)  # type: ignore[arg-type]


def test_a_crashed_service_is_started_again(
    ctx: runtime.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "FIRST_PAUSE", 0.0)
    runtime.supervise("flaky", flaky, ctx, restarts=3)
    assert CALLS == ["run", "run"]


def test_restarts_are_bounded_when_asked(
    ctx: runtime.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "FIRST_PAUSE", 0.0)
    runtime.supervise("flaky", flaky, ctx, restarts=0)
    assert CALLS == ["run"]


def test_switch_services_are_skipped_without_a_switch(ctx: runtime.Context) -> None:
    services = [
        runtime.Service("plain", f"{__name__}:forever"),
        runtime.Service("switch", f"{__name__}:forever", needs_switch=True),
    ]
    started = runtime.start(ctx, services)
    gevent.sleep(0)
    assert [g.name for g in started] == ["plain"]
    assert CALLS == ["forever"]
    runtime.stop(started)
    assert all(g.dead for g in started)


def test_registered_targets_resolve() -> None:
    for service in runtime.SERVICES:
        assert callable(runtime.resolve(service.target)), service.name
