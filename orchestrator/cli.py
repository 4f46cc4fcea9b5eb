"""The ``schakel`` command line.

Each subcommand lives in the module that owns the work; this file only parses
arguments and hands them over, importing lazily so that ``schakel render`` does
not pay for the web stack and ``schakel simulator`` not for the database.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

DESCRIPTION = (
    "Schakel: a programmable switch for an organisation's telephony and "
    "contact centre, with FreeSWITCH doing the SIP and media work."
)

# name -> ("module:function", help text, argument adder)
Adder = Callable[[argparse.ArgumentParser], None]
_COMMANDS: dict[str, tuple[str, str, Adder]] = {}


def command(name: str, target: str, help_text: str) -> Callable[[Adder], Adder]:
    def register(adder: Adder) -> Adder:
        _COMMANDS[name] = (target, help_text, adder)
        return adder

    return register


@command("serve", "orchestrator.serve:main", "run the orchestrator and the web app")
def _serve(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="address to listen on")
    p.add_argument("--port", type=int, default=None, help="port to listen on")
    p.add_argument("--no-esl", action="store_true", help="do not connect to a switch")


@command("demo", "orchestrator.demo:main", "run simulator, orchestrator and web app")
def _demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="web app address (127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="web app port (8080)")
    p.add_argument("--no-traffic", action="store_true", help="no background calls")
    p.add_argument("--scenario", default=None, help="also play this scenario file")


@command("db", "orchestrator.store.db:cli", "database maintenance")
def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["upgrade", "current", "downgrade"])
    p.add_argument("revision", nargs="?", default=None)


@command("seed", "orchestrator.store.seed:cli", "load the demo organisation")
def _seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="seed even if not empty")


@command("render", "orchestrator.config.render:cli", "print the XML the switch gets")
def _render(p: argparse.ArgumentParser) -> None:
    p.add_argument("section", choices=["dialplan", "directory", "configuration"])
    p.add_argument("args", nargs="*", help="context and number, user, or file name")


@command("simulator", "simulator.cli:main", "run the FreeSWITCH simulator")
def _simulator(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--esl-host", default="127.0.0.1", help="Event Socket address (127.0.0.1)"
    )
    p.add_argument(
        "--esl-port", type=int, default=8021, help="Event Socket port (8021)"
    )
    p.add_argument(
        "--password", default="ClueCon", help="Event Socket password (ClueCon)"
    )
    p.add_argument("--xml-curl", default=None, help="URL of the xml_curl endpoint")
    p.add_argument("--scenario", default=None, help="YAML or JSON scenario file")
    p.add_argument("--speed", type=float, default=1.0, help="virtual clock speed")
    p.add_argument("--domain", default=None, help="SIP domain (default: sip_domain)")


@command("trace", "orchestrator.trace:cli", "show where a call would go")
def _trace(p: argparse.ArgumentParser) -> None:
    p.add_argument("caller")
    p.add_argument("destination")
    p.add_argument("--at", default=None, help="date and time, ISO 8601")
    p.add_argument("--json", action="store_true", help="steps as JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="schakel", description=DESCRIPTION)
    parser.add_argument("--config", default=None, help="settings file (TOML)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_target, help_text, adder) in _COMMANDS.items():
        adder(sub.add_parser(name, help=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from orchestrator.logs import setup_logging

    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    module_name, func_name = _COMMANDS[args.command][0].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
