"""``schakel demo``: simulator, orchestrator and web app in one process.

The demo runs on the embedded defaults (SQLite, in-process live state) and the
FreeSWITCH simulator in place of a switch. The simulator fetches its dialplan
and directory from the orchestrator's own xml_curl endpoint, exactly as a
real FreeSWITCH would, and the orchestrator drives it over the Event Socket.
Every desk phone of the demo organisation registers, and scripted callers
ring users, departments and the main number so that the live pages move.
"""

from __future__ import annotations

import argparse
import logging
import random
import secrets
import signal
from dataclasses import dataclass, field

import gevent
import gevent.event
from sqlalchemy import select

from orchestrator import serve  # patches sockets for gevent on import
from orchestrator import settings as settings_mod
from orchestrator.config.view import ViewCache, sound_lengths
from orchestrator.store import models as m
from orchestrator.store.db import Store
from orchestrator.store.seed import DEMO_LOGINS, seed

log = logging.getLogger(__name__)

# Events the demo's switch remembers (about 20 calls' worth).
DEMO_KEEP_EVENTS = 2_000

# Outside callers of the demo traffic: plausible Dutch numbers, none real.
CALLERS = [f"+3161{n:07d}" for n in (1234501, 2345602, 3456703, 4567804, 5678905)]


@dataclass
class DemoTraffic:
    """Scripted calls from outside, one every few seconds."""

    sim: object
    destinations: list[str]
    rnd: random.Random = field(default_factory=lambda: random.Random(2300))
    placed: int = 0

    def run(self, stop: gevent.event.Event) -> None:
        while not stop.wait(self.rnd.uniform(4, 10)):
            try:
                self.place_one()
            except Exception:  # a scripted caller must never stop the demo
                log.exception("demo call failed")

    def place_one(self) -> None:
        caller = self.rnd.choice(CALLERS)
        destination = self.rnd.choice(self.destinations)
        call = self.sim.dial(caller, destination, name=f"beller {self.placed}")
        self.placed += 1
        log.info("demo call %s from %s to %s", call.uuid, caller, destination)
        gevent.spawn(self._hang_up_later, call, self.rnd.uniform(20, 70))

    def _hang_up_later(self, call: object, seconds: float) -> None:
        gevent.sleep(seconds)
        if not call.hungup:
            call.hangup()


def _demo_settings(args: argparse.Namespace) -> settings_mod.Settings:
    settings = settings_mod.load(args.config)
    settings = settings.replace(http_host=args.host, http_port=args.port)
    if settings.secret_key == settings_mod.DEFAULT_SECRET_KEY:
        # A key of this run's own: sign-ins last until the demo stops.
        settings = settings.replace(secret_key=secrets.token_urlsafe(32))
    return settings


def _register_phones(sim: object, store: Store, rnd: random.Random) -> int:
    """Every desk phone and softphone registers; they answer after a few seconds."""
    with store.session() as session:
        devices = session.scalars(
            select(m.Device).where(m.Device.kind != m.DeviceKind.APP)
        ).all()
        rows = [
            (d.sip_user, d.user.username if d.user else d.sip_user) for d in devices
        ]
    for sip_user, username in rows:
        sim.phone(
            f"{username} ({sip_user})",
            sip_user,
            answers_after=rnd.uniform(2, 9),
            talks_for=rnd.uniform(15, 60),
        )
    return len(rows)


def _destinations(store: Store) -> list[str]:
    with store.session() as session:
        dids = session.scalars(select(m.User.did).where(m.User.did.is_not(None))).all()
        groups = session.scalars(
            select(m.HuntGroup.number).where(m.HuntGroup.number.is_not(None))
        ).all()
    # Department numbers come up more often than any one person.
    return [*dids[:12], *groups, *groups]


def main(args: argparse.Namespace) -> int:
    from simulator.scenario import Simulation
    from simulator.xmlcurl import HttpFetcher

    settings = _demo_settings(args)
    store = Store(settings.database_url)
    store.upgrade()
    seed(store)

    # The switch listens before the orchestrator dials it, as in production;
    # it asks the web app for configuration once that one is serving.
    sim = Simulation(
        speed=1.0,
        domain=settings.sip_domain,
        timezone=settings.timezone,
        strict=False,
        # A recorded event holds some 16 KB; the demo runs for hours and
        # only a scenario's expectations look back, at its recent events.
        keep_events=DEMO_KEEP_EVENTS,
    )
    sim.start_esl(settings.esl_host, settings.esl_port, settings.esl_password)
    running = serve.start(settings)
    url = f"http://{settings.http_host}:{running.server.server_port}"
    sim.switch.xml_fetcher = HttpFetcher(f"{url}/freeswitch/xml")
    # Prompts last as long as the recordings they stand for.
    sim.switch.sounds.update(sound_lengths(ViewCache(store, settings).current()))
    sim.gateway(settings.gateway)

    rnd = random.Random(3174)
    phones = _register_phones(sim, store, rnd)
    stop = gevent.event.Event()
    workers = []
    if not args.no_traffic:
        traffic = DemoTraffic(sim, _destinations(store))
        workers.append(gevent.spawn(traffic.run, stop))
    if args.scenario:
        from simulator.scenario import load_scenario, run_scenario

        workers.extend(run_scenario(sim, load_scenario(args.scenario)))
        log.info("playing scenario %s", args.scenario)

    _print_welcome(url, phones)
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop.set)
    stop.wait()

    gevent.killall(workers, timeout=2)
    sim.close(raise_errors=False)
    running.stop()
    return 0


def _print_welcome(url: str, phones: int) -> None:
    lines = [
        "",
        f"Schakel demo draait op {url}",
        f"  {phones} toestellen aangemeld bij de simulator; er komen gesprekken binnen.",
        "  Aanmelden (gebruiker / wachtwoord, rol):",
        *(f"    {d.username:<11} {d.password}  ({d.role})" for d in DEMO_LOGINS),
        "  Stoppen: Ctrl-C",
        "",
    ]
    print("\n".join(lines), flush=True)
