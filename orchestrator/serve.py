"""``schakel serve``: the web app, the switch connection and background services.

One gevent process: the web app and its websockets on gevent's WSGI server,
the Event Socket client and every service of :mod:`orchestrator.runtime`
as greenlets beside it.
"""

from __future__ import annotations

from gevent import monkey

# Sockets, locks and sleeps must be gevent's before redis, psycopg's pool or
# the Event Socket client create any.
monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from orchestrator import live as live_mod  # noqa: E402
from orchestrator import runtime  # noqa: E402
from orchestrator import settings as settings_mod  # noqa: E402
from orchestrator.config import revisions  # noqa: E402
from orchestrator.config.xml_curl import wsgi_handler_class  # noqa: E402
from orchestrator.store.db import Store  # noqa: E402

log = logging.getLogger(__name__)


@dataclass
class Running:
    """A started orchestrator: stop it with :meth:`stop`."""

    ctx: runtime.Context
    server: WSGIServer
    client: Any | None = None
    services: list[gevent.Greenlet] = field(default_factory=list)

    def stop(self) -> None:
        log.info("stopping")
        self.server.stop(timeout=5)
        runtime.stop(self.services)
        if self.client is not None:
            self.client.stop()
        self.ctx.store.dispose()


def start(settings: settings_mod.Settings, *, esl: bool = True) -> Running:
    """Open the store (migrated), live state and switch; start serving."""
    from webui.app import create_app

    store = Store(settings.database_url)
    store.upgrade()
    live = live_mod.connect(settings.redis_url)

    client = gateway = None
    if esl:
        from orchestrator.esl.client import EslClient
        from orchestrator.esl.gateway import EslGateway

        client = EslClient(settings.esl_host, settings.esl_port, settings.esl_password)
        gateway = EslGateway(client)
        client.start()

    # Publishes made anywhere in this process flush the switch (when it has
    # one) and reach the other processes; theirs reach this one.
    revisions.install(settings, live, gateway)
    app = create_app(settings, store=store, live=live, gateway=gateway)
    ctx = runtime.Context(settings, store, live, gateway, app)
    server = WSGIServer(
        (settings.http_host, settings.http_port),
        app,
        handler_class=wsgi_handler_class(),
        log=_AccessLog(),
        error_log=logging.getLogger("orchestrator.serve.wsgi"),
    )
    server.start()
    log.info(
        "serving on http://%s:%s (switch: %s)",
        settings.http_host,
        server.server_port,
        f"{settings.esl_host}:{settings.esl_port}" if esl else "none",
    )
    running = Running(ctx, server, client)
    running.services = runtime.start(ctx)
    return running


class _AccessLog:
    """gevent writes one line per request; send it to the logger at DEBUG."""

    def __init__(self) -> None:
        self._log = logging.getLogger("orchestrator.serve.access")

    def write(self, line: str) -> None:
        self._log.debug("%s", line.rstrip())


def main(args: argparse.Namespace) -> int:
    settings = settings_mod.load(args.config)
    changes = {}
    if args.host:
        changes["http_host"] = args.host
    if args.port:
        changes["http_port"] = args.port
    if changes:
        settings = settings.replace(**changes)

    running = start(settings, esl=not args.no_esl)
    stopped = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopped.set)
    stopped.wait()
    running.stop()
    return 0
