"""Feature codes: what users dial on their phone to change a setting.

Codes that only concern the call at hand (pickup, voicemail, presenting
the main number) are done by the switch on its own. Codes that change the
stored configuration (log in to a hunt group, do not disturb, forwarding)
cannot be, since the switch does not write our database: the dialplan
answers the call, sets :data:`ACTION_VARIABLE` (and
:data:`ARGUMENT_VARIABLE`) and parks it; the orchestrator sees the parked
call, makes the change, publishes the new configuration and sends the call
to the confirmation (or refusal) tone.

:data:`FEATURE_CODES` is the single list; the dialplan, the README table
and the parked-call handler are all read from it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

ACTION_VARIABLE = "schakel_action"
ARGUMENT_VARIABLE = "schakel_action_arg"


class FeatureAction(enum.StrEnum):
    HUNT_LOGIN = "hunt_login"
    HUNT_LOGOUT = "hunt_logout"
    DND_ON = "dnd_on"
    DND_OFF = "dnd_off"
    FORWARD_ON = "forward_always_on"
    FORWARD_OFF = "forward_always_off"
    GROUP_PICKUP = "group_pickup"
    DIRECTED_PICKUP = "directed_pickup"
    VOICEMAIL = "voicemail"
    CALL_AS_MAIN = "call_as_main"
    CALL_AS_MOBILE = "call_as_mobile"
    BLIND_TRANSFER = "blind_transfer"
    ATTENDED_TRANSFER = "attended_transfer"


@dataclass(frozen=True)
class FeatureCode:
    """One code: what is dialled (``pattern`` captures the argument), what it
    does, and whether the orchestrator must act on it (``parks``).

    An ``in_call`` code is pressed during a call rather than dialled: the
    switch's meta key (``*``) and :attr:`meta_key`, then the argument.
    """

    code: str
    pattern: str
    action: FeatureAction
    parks: bool
    description: str
    in_call: bool = False

    @property
    def meta_key(self) -> str:
        """The key after ``*`` of an in-call code (bind_meta_app's KEY)."""
        return self.code[1]

    def match(self, dialled: str) -> re.Match[str] | None:
        return re.fullmatch(self.pattern.strip("^$"), dialled)


FEATURE_CODES: tuple[FeatureCode, ...] = (
    FeatureCode(
        "*60[group]",
        r"^\*60(\d*)$",
        FeatureAction.HUNT_LOGIN,
        True,
        "log in to a hunt group (its extension), or to all your groups",
    ),
    FeatureCode(
        "*61[group]",
        r"^\*61(\d*)$",
        FeatureAction.HUNT_LOGOUT,
        True,
        "log out of a hunt group (its extension), or of all your groups",
    ),
    FeatureCode("*78", r"^\*78$", FeatureAction.DND_ON, True, "do not disturb on"),
    FeatureCode("*79", r"^\*79$", FeatureAction.DND_OFF, True, "do not disturb off"),
    FeatureCode(
        "*21<number>",
        r"^\*21(\+?\d{2,16})$",
        FeatureAction.FORWARD_ON,
        True,
        "forward all your calls to an extension or number",
    ),
    FeatureCode(
        "*20", r"^\*20$", FeatureAction.FORWARD_OFF, True, "stop forwarding all calls"
    ),
    FeatureCode(
        "*8",
        r"^\*8$",
        FeatureAction.GROUP_PICKUP,
        False,
        "answer a call ringing in your pickup group",
    ),
    FeatureCode(
        "**<extension>",
        r"^\*\*(\d{2,6})$",
        FeatureAction.DIRECTED_PICKUP,
        False,
        "answer the call ringing on that extension",
    ),
    FeatureCode(
        "*97",
        r"^\*97$",
        FeatureAction.VOICEMAIL,
        False,
        "listen to your voicemail",
    ),
    FeatureCode(
        "*31<number>",
        r"^\*31(\+?\d{3,16})$",
        FeatureAction.CALL_AS_MAIN,
        False,
        "call that number presenting the main number (this call only)",
    ),
    FeatureCode(
        "*32<number>",
        r"^\*32(\+?\d{3,16})$",
        FeatureAction.CALL_AS_MOBILE,
        False,
        "call that number presenting your mobile number, where allowed",
    ),
    FeatureCode(
        "*1<number>",
        r"^\*1(\+?\d{2,16})$",
        FeatureAction.BLIND_TRANSFER,
        False,
        "during a call: transfer the other party to that extension or number",
        in_call=True,
    ),
    FeatureCode(
        "*2<number>",
        r"^\*2(\+?\d{2,16})$",
        FeatureAction.ATTENDED_TRANSFER,
        False,
        "during a call: call that extension or number first, then `*` hands "
        "the call over and `#` returns to it",
        in_call=True,
    ),
)


def parse(dialled: str) -> tuple[FeatureCode, str] | None:
    """The code ``dialled`` is, with its argument (``""`` if none)."""
    for fc in FEATURE_CODES:
        if fc.in_call:
            continue
        match = fc.match(dialled)
        if match:
            return fc, (match.group(1) if match.groups() else "") or ""
    return None


def readme_table() -> str:
    """The README's feature code table (kept in step by a test)."""
    lines = ["| code | what it does |", "| --- | --- |"]
    for fc in FEATURE_CODES:
        lines.append(f"| `{fc.code}` | {fc.description} |")
    return "\n".join(lines)
