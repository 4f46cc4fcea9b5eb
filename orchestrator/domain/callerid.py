"""Caller ID: which number and name a call shows, inside and outside.

Outbound external calls present a number by each user's policy: their own
DID, the organisation's main number, or a group number (a hunt group's or
a queue's). A user may choose the main number for one call with a prefix
code, and their private mobile number only when the organisation allows it.

Forwarded calls and blind transfers keep the original caller's number, with
the forwarding number in a ``Diversion`` header (RFC 5806) and as the
``P-Asserted-Identity``, which is how carriers accept a number the trunk
does not own.

Inside, a call shows the caller's name from the directory (colleagues) or
the phonebook (external contacts, :func:`name_book`), prefixed with the
group it came through, e.g. ``Burgerzaken: Jan de Aannemer``.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from typing import Protocol

log = logging.getLogger(__name__)


class Choice(enum.StrEnum):
    """What the caller asked to present for one call."""

    POLICY = "policy"
    MAIN = "main"
    MOBILE = "mobile"


class CallerIdError(ValueError):
    """A caller ID setting or choice that cannot be honoured."""

    status = 422
    error_id = "invalid-caller-id"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class MobileCliNotAllowed(CallerIdError):
    """The user may not present their private mobile number."""

    error_id = "mobile-cli-not-allowed"


class _User(Protocol):
    id: int
    name: str
    did: str | None
    mobile: str | None
    caller_id_policy: str
    caller_id_group_number: str | None
    private_mobile_cli: bool


def outbound_number(
    user: _User, main_number: str | None, choice: Choice = Choice.POLICY
) -> str | None:
    """The number a user's external call presents (None: withheld/none)."""
    if choice == Choice.MOBILE:
        if not user.private_mobile_cli:
            raise MobileCliNotAllowed(
                "choice", f"{user.name} may not present their mobile number"
            )
        if not user.mobile:
            raise CallerIdError("choice", f"{user.name} has no mobile number")
        return user.mobile
    if choice == Choice.MAIN:
        return main_number or user.did
    policy = user.caller_id_policy
    if policy == "main":
        return main_number or user.did
    if policy == "group":
        return user.caller_id_group_number or user.did or main_number
    return user.did or main_number


def check_policy(user: _User, main_number: str | None) -> None:
    """Raise :class:`CallerIdError` when the policy names a missing number."""
    policy = user.caller_id_policy
    if policy == "did" and not user.did and not main_number:
        raise CallerIdError("caller_id_policy", f"{user.name} has no DID to present")
    if policy == "main" and not main_number:
        raise CallerIdError(
            "caller_id_policy", "the organisation has no main number to present"
        )
    if policy == "group" and not user.caller_id_group_number:
        raise CallerIdError(
            "caller_id_group_number", "give the group number to present"
        )


# RFC 5806 reasons for the forwarding kinds.
DIVERSION_REASONS = {
    "always": "unconditional",
    "busy": "user-busy",
    "no_answer": "no-answer",
    "unreachable": "unavailable",
    "transfer": "deflection",
    "fallback": "no-answer",
}


class _Named(Protocol):
    name: str
    number: str


class _Colleague(Protocol):
    name: str
    did: str | None
    mobile: str | None
    active: bool


def name_book(
    colleagues: Iterable[_Colleague], phonebook: Iterable[_Named]
) -> dict[str, str]:
    """E.164 number -> name, for showing who calls from outside.

    A colleague calling from their mobile or DID shows as the colleague;
    phonebook entries fill in the rest. Colleagues win a clash, since the
    directory is kept by the organisation itself.
    """
    names: dict[str, str] = {}
    for entry in phonebook:
        names[entry.number] = entry.name
    for user in colleagues:
        if not user.active:
            continue
        for number in (user.did, user.mobile):
            if number:
                names[number] = user.name
    return names
