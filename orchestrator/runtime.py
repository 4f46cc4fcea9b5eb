"""Background services of the orchestrator process, started beside the web app.

A service is a function ``run(ctx: Context) -> None`` that works until it
is killed (event handlers feeding call records and presence, timers, the
on-call watchdog ...). Each runs in a greenlet of its own; one that raises
is logged and started again after a pause that doubles up to a minute, so a
bug in one cannot stop the others or the web app.

To add a service, append a :class:`Service` to :data:`SERVICES` naming its
function as ``"module:function"``; the module is imported only when the
service starts. ``needs_switch`` services are skipped when the process runs
without a switch (``schakel serve --no-esl``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gevent
import redis

from orchestrator.settings import Settings
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0


@dataclass
class Context:
    """What every service shares with the others and the web app."""

    settings: Settings
    store: Store
    live: redis.Redis
    gateway: Any | None = None
    app: Any | None = None


@dataclass(frozen=True)
class Service:
    name: str
    target: str
    needs_switch: bool = False


SERVICES: list[Service] = [
    # Call history, presence, transfers and voicemail follow the switch.
    Service("calls", "orchestrator.calls.runtime:run", needs_switch=True),
    # Feature codes dialled on phones (hunt login, do not disturb, forwarding).
    Service("features", "orchestrator.features.parked:run", needs_switch=True),
    # Callers' names (phonebook, colleagues' mobiles) in the switch's memory.
    Service("caller-names", "orchestrator.features.names:run", needs_switch=True),
]


def resolve(target: str) -> Callable[[Context], None]:
    module_name, _, function = target.partition(":")
    run: Callable[[Context], None] = getattr(
        importlib.import_module(module_name), function
    )
    return run


def start(
    ctx: Context, services: Sequence[Service] | None = None
) -> list[gevent.Greenlet]:
    """Start ``services`` (default :data:`SERVICES`) as supervised greenlets."""
    started = []
    for service in SERVICES if services is None else services:
        if service.needs_switch and ctx.gateway is None:
            log.info("service %s not started: no switch", service.name)
            continue
        run = resolve(service.target)
        greenlet = gevent.spawn(supervise, service.name, run, ctx)
        greenlet.name = service.name
        started.append(greenlet)
        log.info("service %s started", service.name)
    return started


def supervise(
    name: str, run: Callable[[Context], None], ctx: Context, *, restarts: int = -1
) -> None:
    """Run ``run(ctx)``; after a crash start it again, ``restarts`` times or
    (-1) always."""
    pause = FIRST_PAUSE
    while True:
        try:
            run(ctx)
            log.info("service %s ended", name)
            return
        except Exception:
            log.exception("service %s failed; restarting in %.0f s", name, pause)
        if restarts == 0:
            return
        restarts -= 1
        gevent.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)


def stop(greenlets: Sequence[gevent.Greenlet], timeout: float = 5.0) -> None:
    gevent.killall(list(greenlets), timeout=timeout)
