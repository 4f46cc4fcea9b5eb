"""Command lines for the switch, built from checked arguments.

Every function returns the text of one ``api`` command (or the headers of
one ``sendmsg``) and refuses, with `InvalidArgument`, anything that would
change its meaning on the wire: a newline ends an ESL command, a space
separates api arguments, a comma or brace ends a channel variable.
Nothing here talks to the switch; see `orchestrator.esl.gateway`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.esl.errors import InvalidArgument

_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_APP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_:\-]*\Z")
_CAUSE = re.compile(r"[A-Z][A-Z_]*\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

DEFAULT_CAUSE = "NORMAL_CLEARING"


def check_uuid(value: str, what: str = "uuid") -> str:
    """A channel UUID in FreeSWITCH's 8-4-4-4-12 form."""
    if not isinstance(value, str) or not _UUID.match(value):
        raise InvalidArgument(f"{what} is not a UUID: {value!r}")
    return value


def check_text(value: str, what: str) -> str:
    """Free text on one line: spaces allowed, no newline or control byte."""
    if not isinstance(value, str) or _CONTROL.search(value):
        raise InvalidArgument(f"{what} must be one line of text: {value!r}")
    return value


def check_token(value: str, what: str) -> str:
    """One api argument: non-empty, no space, no control byte."""
    check_text(value, what)
    if not value or " " in value:
        raise InvalidArgument(f"{what} must be one word without spaces: {value!r}")
    return value


def check_var_name(name: str) -> str:
    if not isinstance(name, str) or not _VAR_NAME.match(name):
        raise InvalidArgument(f"not a channel variable name: {name!r}")
    return name


def check_app_name(name: str) -> str:
    if not isinstance(name, str) or not _APP_NAME.match(name):
        raise InvalidArgument(f"not an application name: {name!r}")
    return name


def check_cause(cause: str) -> str:
    if not isinstance(cause, str) or not _CAUSE.match(cause):
        raise InvalidArgument(f"not a hangup cause: {cause!r}")
    return cause


def channel_variables(variables: Mapping[str, str]) -> str:
    """``{a=1,b='two words'}`` for originate; "" when there are none.

    In this block a comma separates variables (escaped as ``\\,``), and a
    value with spaces goes in single quotes, so a quote or brace inside a
    value cannot be written safely and is refused.
    """
    if not variables:
        return ""
    parts = []
    for name, value in variables.items():
        check_var_name(name)
        check_text(str(value), f"value of {name}")
        value = str(value)
        if any(char in value for char in "'{}[]"):
            raise InvalidArgument(f"value of {name} cannot hold quotes or braces")
        value = value.replace(",", "\\,")
        if " " in value:
            value = f"'{value}'"
        parts.append(f"{name}={value}")
    return "{" + ",".join(parts) + "}"


@dataclass(frozen=True)
class Application:
    """Originate into an application: ``&park()``, ``&eavesdrop(<uuid>)``."""

    name: str
    arg: str = ""

    def render(self) -> str:
        check_app_name(self.name)
        check_text(self.arg, "application argument")
        if ")" in self.arg and not self.arg.endswith(")"):
            raise InvalidArgument(f"unbalanced argument for {self.name}")
        return f"&{self.name}({self.arg})"


@dataclass(frozen=True)
class Extension:
    """Originate into the dialplan: ``<number> <dialplan> <context>``."""

    number: str
    dialplan: str = "XML"
    context: str = "default"

    def render(self) -> str:
        check_token(self.number, "extension")
        check_token(self.dialplan, "dialplan")
        check_token(self.context, "context")
        return f"{self.number} {self.dialplan} {self.context}"


def originate(
    endpoint: str,
    destination: Application | Extension,
    variables: Mapping[str, str] | None = None,
) -> str:
    """``originate {vars}<endpoint> <destination>``."""
    check_token(endpoint, "endpoint")
    if endpoint[0] in "{[<":
        raise InvalidArgument("pass channel variables separately, not in endpoint")
    prefix = channel_variables(variables or {})
    return f"originate {prefix}{endpoint} {destination.render()}"


def eavesdrop(
    endpoint: str, target_uuid: str, variables: Mapping[str, str] | None = None
) -> str:
    """Ring ``endpoint`` and let it listen in on channel ``target_uuid``."""
    target = Application("eavesdrop", check_uuid(target_uuid, "target uuid"))
    return originate(endpoint, target, variables)


def uuid_bridge(uuid: str, other_uuid: str) -> str:
    return f"uuid_bridge {check_uuid(uuid)} {check_uuid(other_uuid, 'other uuid')}"


_TRANSFER_LEGS = {"": "", "aleg": "", "bleg": "-bleg ", "both": "-both "}


def uuid_transfer(
    uuid: str,
    destination: str,
    dialplan: str = "XML",
    context: str = "default",
    leg: str = "",
) -> str:
    """Send a channel (or its bridged leg, or both) to another extension."""
    if leg not in _TRANSFER_LEGS:
        raise InvalidArgument(f"leg must be aleg, bleg or both, not {leg!r}")
    check_token(destination, "destination")
    if destination.startswith("-"):
        # uuid_transfer would read it as its -bleg/-both flag.
        raise InvalidArgument(f"destination cannot start with '-': {destination!r}")
    check_token(dialplan, "dialplan")
    check_token(context, "context")
    flag = _TRANSFER_LEGS[leg]
    return f"uuid_transfer {check_uuid(uuid)} {flag}{destination} {dialplan} {context}"


_BROADCAST_LEGS = ("aleg", "bleg", "both")


def uuid_broadcast(uuid: str, path: str, leg: str = "aleg") -> str:
    """Play a file (or ``app::arg``) to a channel without stopping its app."""
    if leg not in _BROADCAST_LEGS:
        raise InvalidArgument(f"leg must be aleg, bleg or both, not {leg!r}")
    return f"uuid_broadcast {check_uuid(uuid)} {check_token(path, 'path')} {leg}"


def uuid_break(uuid: str, everything: bool = False) -> str:
    """Stop the current playback (with ``everything``, the queued ones too)."""
    suffix = " all" if everything else ""
    return f"uuid_break {check_uuid(uuid)}{suffix}"


def uuid_hold(uuid: str, on: bool = True) -> str:
    """Put a channel on hold (music on hold to its peer) or take it off."""
    check_uuid(uuid)
    return f"uuid_hold {uuid}" if on else f"uuid_hold off {uuid}"


def uuid_kill(uuid: str, cause: str = DEFAULT_CAUSE) -> str:
    return f"uuid_kill {check_uuid(uuid)} {check_cause(cause)}"


def uuid_setvar(uuid: str, name: str, value: str) -> str:
    """Set a channel variable; an empty value unsets it (as FreeSWITCH does)."""
    check_text(value, f"value of {name}")
    line = f"uuid_setvar {check_uuid(uuid)} {check_var_name(name)}"
    return f"{line} {value}" if value else line


def uuid_getvar(uuid: str, name: str) -> str:
    return f"uuid_getvar {check_uuid(uuid)} {check_var_name(name)}"


_RECORD_ACTIONS = ("start", "stop", "mask", "unmask")


def uuid_record(uuid: str, action: str, path: str, limit_s: int | None = None) -> str:
    """Start or stop recording a channel to ``path`` (``stop all`` stops all)."""
    if action not in _RECORD_ACTIONS:
        raise InvalidArgument(f"record action must be one of {_RECORD_ACTIONS}")
    line = f"uuid_record {check_uuid(uuid)} {action} {check_token(path, 'path')}"
    if limit_s is not None:
        line += f" {_positive(limit_s, 'limit')}"
    return line


def uuid_displace(
    uuid: str,
    action: str,
    path: str,
    limit_s: int | None = None,
    mux: bool = False,
) -> str:
    """Play a file into a channel, replacing (or with ``mux`` mixing) its audio."""
    if action not in ("start", "stop"):
        raise InvalidArgument("displace action must be start or stop")
    line = f"uuid_displace {check_uuid(uuid)} {action} {check_token(path, 'path')}"
    if action == "start":
        line += f" {_positive(limit_s or 0, 'limit', allow_zero=True)}"
        if mux:
            line += " mux"
    return line


def reloadxml() -> str:
    return "reloadxml"


def xml_flush_cache() -> str:
    return "xml_flush_cache"


def execute(
    app: str, arg: str = "", *, lock: bool = False, loops: int = 1
) -> list[tuple[str, str]]:
    """The headers of ``sendmsg`` that make a channel run an application."""
    headers = [("call-command", "execute"), ("execute-app-name", check_app_name(app))]
    if arg:
        headers.append(("execute-app-arg", check_text(arg, "application argument")))
    if loops != 1:
        headers.append(("loops", str(_positive(loops, "loops"))))
    if lock:
        # Makes the switch run queued messages one after another.
        headers.append(("event-lock", "true"))
    return headers


def hangup(cause: str = DEFAULT_CAUSE) -> list[tuple[str, str]]:
    """The headers of ``sendmsg`` that hang a channel up."""
    return [("call-command", "hangup"), ("hangup-cause", check_cause(cause))]


def _positive(value: int, what: str, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InvalidArgument(f"{what} must be a whole number >= {low}: {value!r}")
    return value
