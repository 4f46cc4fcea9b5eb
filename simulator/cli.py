"""``schakel simulator``: the simulated FreeSWITCH as a process.

It listens on the Event Socket like mod_event_socket, fetches dialplan and
directory from the xml_curl endpoint (``--xml-curl URL``) or from a folder
of XML files (``--xml-curl DIR``, files named as docs/scenarios.md says),
and optionally plays a scenario file (``--scenario FILE``) so that a flow
can be watched with any Event Socket client. It runs until interrupted.
"""

from __future__ import annotations

import argparse
import logging
import signal

import gevent
import gevent.event

from simulator.scenario import (
    ScenarioFileError,
    Simulation,
    load_scenario,
    run_scenario,
)
from simulator.xmlcurl import fetcher_for

log = logging.getLogger(__name__)


def default_xml_curl(config: str | None) -> str:
    """The orchestrator's xml_curl endpoint from the settings."""
    from orchestrator import settings

    current = settings.load(config)
    return f"http://{current.http_host}:{current.http_port}/freeswitch/xml"


def default_domain(config: str | None) -> tuple[str, str]:
    """The SIP domain and time zone the orchestrator renders for."""
    from orchestrator import settings

    current = settings.load(config)
    return current.sip_domain, current.timezone


def main(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM; 2 for unusable arguments."""
    config = getattr(args, "config", None)
    source = args.xml_curl or default_xml_curl(config)
    domain, timezone = default_domain(config)
    domain = getattr(args, "domain", None) or domain
    try:
        fetcher = fetcher_for(source)
        script = load_scenario(args.scenario) if args.scenario else None
    except (ValueError, ScenarioFileError) as error:
        log.error("%s", error)
        return 2
    speed = args.speed
    if script is not None and script.speed is not None and speed == 1.0:
        speed = script.speed
    if speed <= 0:
        log.error("--speed must be positive, not %s", speed)
        return 2
    sim = Simulation(
        xml_fetcher=fetcher,
        speed=speed,
        domain=domain,
        timezone=timezone,
        strict=False,
        # Some 16 KB each: about 50 calls' worth for a scenario to look back on.
        keep_events=5_000,
    )
    try:
        host, port = sim.start_esl(args.esl_host, args.esl_port, args.password)
    except OSError as error:
        log.error("cannot listen on %s:%s: %s", args.esl_host, args.esl_port, error)
        sim.close(raise_errors=False)
        return 2
    log.info("simulator: event socket on %s:%s, xml from %s, speed %s",
             host, port, source, speed)  # fmt: skip
    if script is not None:
        run_scenario(sim, script)
        log.info("simulator: playing %s (%d parties, %d calls)", args.scenario,
                 len(script.parties), len(script.calls))  # fmt: skip
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGINT, stop.set)
    gevent.signal_handler(signal.SIGTERM, stop.set)
    stop.wait()
    log.info("simulator: stopping")
    sim.close(raise_errors=False)
    for error in sim.errors:
        log.error("simulation error: %s", error)
    return 1 if sim.errors else 0
