"""Telephone numbers: normalising what people type, showing what we store.

Numbers are stored in E.164 (``+31317492345``) and shown in national format
(``0317 49 2345``). Parsing leans on ``phonenumbers`` (Google's libphonenumber
metadata), which knows every country's trunk and international prefixes, so
``0317...``, ``+31317...`` and ``0031317...`` all come out the same.
"""

from __future__ import annotations

import enum
import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

_SEPARATORS = re.compile(r"[\s\-./()]")


class InvalidNumber(ValueError):
    """Text that is not a telephone number."""

    def __init__(self, text: str, reason: str = "is not a telephone number") -> None:
        super().__init__(f"{text!r} {reason}")
        self.text = text


class NumberKind(enum.StrEnum):
    """What a dialled number is, for traffic classes and caller ID."""

    INTERNAL = "internal"
    EMERGENCY = "emergency"
    LOCAL = "local"
    NATIONAL = "national"
    MOBILE = "mobile"
    FREEPHONE = "freephone"
    PREMIUM = "premium"
    SHARED_COST = "shared_cost"
    INTERNATIONAL = "international"
    UNKNOWN = "unknown"


# Dutch service numbers phonenumbers files under other types; the customer's
# rules are about these prefixes.
_NL_PREMIUM = ("+31900", "+31906", "+31909")
_EMERGENCY = {"112", "911", "999"}


def clean(text: str) -> str:
    return _SEPARATORS.sub("", text or "").strip()


def normalise(text: str, country: str = "NL") -> str:
    """Return ``text`` as E.164, or raise :class:`InvalidNumber`."""
    raw = clean(text)
    if not raw or not re.fullmatch(r"\+?\d+", raw):
        raise InvalidNumber(text)
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        parsed = phonenumbers.parse(raw, country)
    except NumberParseException as exc:
        raise InvalidNumber(text) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(text, "has the wrong length for a telephone number")
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def try_normalise(text: str, country: str = "NL") -> str | None:
    try:
        return normalise(text, country)
    except InvalidNumber:
        return None


def national(e164: str, country: str = "NL") -> str:
    """Show a stored number the way people of ``country`` write it."""
    try:
        parsed = phonenumbers.parse(e164, country)
    except NumberParseException:
        return e164
    region = phonenumbers.region_code_for_number(parsed)
    fmt = (
        PhoneNumberFormat.NATIONAL
        if region == country
        else PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, fmt)


def readable(value: str | None, country: str = "NL") -> str:
    """A number as stored or as the switch gives it, the way people write it:
    E.164 numbers in the national (or international) form, extensions and
    other text as they are."""
    if not value:
        return ""
    if value.startswith("+"):
        return national(value, country)
    return value


def dialable(e164: str, country: str = "NL") -> str:
    """The digits a trunk in ``country`` expects: national form, no spaces."""
    return clean(national(e164, country)).replace("+", "00")


def classify(
    dialled: str, country: str = "NL", *, own_area: str | None = None
) -> NumberKind:
    """Say what kind of number ``dialled`` is, as a traffic class sees it."""
    raw = clean(dialled)
    if raw in _EMERGENCY:
        return NumberKind.EMERGENCY
    if re.fullmatch(r"\d{2,6}", raw) and not raw.startswith("0"):
        return NumberKind.INTERNAL
    e164 = try_normalise(raw, country)
    if e164 is None:
        return NumberKind.UNKNOWN
    parsed = phonenumbers.parse(e164)
    if phonenumbers.region_code_for_number(parsed) != country:
        return NumberKind.INTERNATIONAL
    if e164.startswith(_NL_PREMIUM):
        return NumberKind.PREMIUM
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.MOBILE:
        return NumberKind.MOBILE
    if kind == PhoneNumberType.TOLL_FREE:
        return NumberKind.FREEPHONE
    if kind == PhoneNumberType.PREMIUM_RATE:
        return NumberKind.PREMIUM
    if kind == PhoneNumberType.SHARED_COST:
        return NumberKind.SHARED_COST
    if own_area and e164.startswith(own_area):
        return NumberKind.LOCAL
    return NumberKind.NATIONAL
