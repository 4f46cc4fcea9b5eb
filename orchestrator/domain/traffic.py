"""Traffic classes: which kinds of number a user may call.

A traffic class grants national (including local), mobile, international,
premium-rate (0900/0906/0909) and special (free-phone 0800, shared-cost)
calls. A user's own class overrides their profile's, which overrides the
organisation's default; without any class a user may call internally only.
Emergency numbers are always allowed, whatever the class.

The switch decides natively: each user's channel carries the granted kinds
in one variable (:data:`RIGHTS_VARIABLE`, e.g. ``national,mobile``), and the
dialplan matches the dialled digits against :func:`dial_rules`, the same
classification :func:`orchestrator.domain.numbering.classify` makes, written
as regular expressions.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from orchestrator.domain.numbering import NumberKind, classify

log = logging.getLogger(__name__)

RIGHTS_VARIABLE = "schakel_call_rights"


class Right:
    """The names of the rights a class grants, as the dialplan variable lists them."""

    NATIONAL = "national"
    MOBILE = "mobile"
    INTERNATIONAL = "international"
    PREMIUM = "premium"
    SPECIAL = "special"


# Which right a kind of number needs; None means no right is needed.
_NEEDS: dict[NumberKind, str | None] = {
    NumberKind.INTERNAL: None,
    NumberKind.EMERGENCY: None,
    NumberKind.LOCAL: Right.NATIONAL,
    NumberKind.NATIONAL: Right.NATIONAL,
    NumberKind.MOBILE: Right.MOBILE,
    NumberKind.FREEPHONE: Right.SPECIAL,
    NumberKind.SHARED_COST: Right.SPECIAL,
    NumberKind.PREMIUM: Right.PREMIUM,
    NumberKind.INTERNATIONAL: Right.INTERNATIONAL,
}


class CallBarred(PermissionError):
    """The traffic class does not allow calling this number."""

    def __init__(self, dialled: str, kind: NumberKind, class_name: str) -> None:
        what = kind.value.replace("_", "-")
        super().__init__(
            f"{dialled!r} is a {what} number, which traffic class "
            f"{class_name!r} does not allow"
        )
        self.dialled = dialled
        self.kind = kind
        self.class_name = class_name


class _TrafficClass(Protocol):
    name: str
    allow_national: bool
    allow_mobile: bool
    allow_international: bool
    allow_premium: bool
    allow_special: bool
    max_call_minutes: int


@dataclass(frozen=True)
class Rights:
    """What one user may call, after overrides."""

    name: str
    national: bool = False
    mobile: bool = False
    international: bool = False
    premium: bool = False
    special: bool = False
    max_call_minutes: int = 0

    @classmethod
    def from_class(cls, tc: _TrafficClass) -> Rights:
        return cls(
            name=tc.name,
            national=tc.allow_national,
            mobile=tc.allow_mobile,
            international=tc.allow_international,
            premium=tc.allow_premium,
            special=tc.allow_special,
            max_call_minutes=tc.max_call_minutes or 0,
        )

    def granted(self) -> list[str]:
        """The rights as the dialplan variable lists them, in a fixed order."""
        names = (
            Right.NATIONAL,
            Right.MOBILE,
            Right.INTERNATIONAL,
            Right.PREMIUM,
            Right.SPECIAL,
        )
        return [name for name in names if getattr(self, name)]

    def variable(self) -> str:
        return ",".join(self.granted())

    def allows(self, kind: NumberKind) -> bool:
        if kind not in _NEEDS:
            return False
        need = _NEEDS[kind]
        return need is None or bool(getattr(self, need))


INTERNAL_ONLY = Rights(name="internal only")


def effective_rights(
    user_class: _TrafficClass | None,
    profile_class: _TrafficClass | None,
    default_class: _TrafficClass | None = None,
) -> Rights:
    """The user's class if set, else the profile's, else the default."""
    for tc in (user_class, profile_class, default_class):
        if tc is not None:
            return Rights.from_class(tc)
    return INTERNAL_ONLY


def right_needed(kind: NumberKind) -> str | None:
    """The right a kind of number needs (None: always allowed or unknown)."""
    return _NEEDS.get(kind)


def check_call(
    rights: Rights, dialled: str, *, own_area: str | None = None, country: str = "NL"
) -> NumberKind:
    """The kind of ``dialled`` if ``rights`` allow it; raise :class:`CallBarred`."""
    kind = classify(dialled, country, own_area=own_area)
    if not rights.allows(kind):
        raise CallBarred(dialled, kind, rights.name)
    return kind


@dataclass(frozen=True)
class DialRule:
    """One kind of dialled number as the dialplan recognises it.

    ``pattern`` matches the digits a phone sends (``0``-prefixed national,
    ``00``/``+`` international); ``e164`` is the substitution that turns the
    match into E.164 for the trunk (``$1`` style, as FreeSWITCH writes it).
    """

    kind: NumberKind
    pattern: str
    e164: str
    right: str | None

    def matches(self, dialled: str) -> bool:
        return re.fullmatch(self.pattern.strip("^$"), dialled) is not None

    def to_e164(self, dialled: str) -> str:
        match = re.fullmatch(self.pattern.strip("^$"), dialled)
        if match is None:
            raise ValueError(f"{dialled!r} does not match {self.pattern}")
        return re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))), self.e164)


def dial_rules(own_area: str = "+31317") -> list[DialRule]:
    """The Dutch dialling plan as regular expressions, first match wins.

    ``own_area`` (E.164 prefix of the organisation's area code) tells local
    from national calls. Written for the Netherlands: 0 is the trunk prefix,
    00 the international prefix, 06 mobile, 0800 free-phone, 0900/0906/0909
    premium rate, 112 emergency.
    Anything else starting with 0 that is not a valid length is refused as
    unknown by the dialplan.
    """
    area = re.escape(own_area.removeprefix("+31"))
    nl = r"(?:\+31|0031|0)"
    return [
        DialRule(NumberKind.EMERGENCY, r"^(112|911)$", "$1", None),
        DialRule(NumberKind.MOBILE, rf"^{nl}(6\d{{8}})$", "+31$1", Right.MOBILE),
        DialRule(
            NumberKind.FREEPHONE, rf"^{nl}(800\d{{4,7}})$", "+31$1", Right.SPECIAL
        ),
        DialRule(
            NumberKind.PREMIUM, rf"^{nl}(90[069]\d{{4,7}})$", "+31$1", Right.PREMIUM
        ),
        DialRule(
            NumberKind.LOCAL,
            rf"^{nl}({area}\d{{{9 - len(area)}}})$",
            "+31$1",
            Right.NATIONAL,
        ),
        DialRule(
            NumberKind.NATIONAL, rf"^{nl}([1-57-9]\d{{8}})$", "+31$1", Right.NATIONAL
        ),
        DialRule(
            NumberKind.INTERNATIONAL,
            r"^(?:\+|00)((?!31)[1-9]\d{6,14})$",
            "+$1",
            Right.INTERNATIONAL,
        ),
    ]


def classify_dialled(dialled: str, own_area: str = "+31317") -> NumberKind:
    """Classify like the dialplan does (for tests and the call trace)."""
    for rule in dial_rules(own_area):
        if rule.matches(dialled):
            return rule.kind
    return NumberKind.UNKNOWN
