"""The number plan: which number or extension leads where.

Every user is reachable on their own DID and on a short internal extension;
main numbers, group numbers and single numbers are inbound-number rows that
point at a user, hunt group, queue, menu or on-call team; hunt groups,
queues, menus and on-call teams may have a number and an extension of their
own. :func:`NumberPlan.resolve` answers "where does this go" for anything a
caller can dial, in any of the forms people write it (``0317 49 2301``,
``+31317492301``, ``0031317492301`` or ``2301``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import phonenumbers

from orchestrator.domain import numbering

log = logging.getLogger(__name__)


class UnknownNumber(LookupError):
    """A number or extension that leads nowhere in the number plan."""

    def __init__(self, dialled: str) -> None:
        super().__init__(f"{dialled!r} is not a number or extension of ours")
        self.dialled = dialled


class DuplicateNumber(ValueError):
    """Two destinations claim the same number or extension."""

    def __init__(self, number: str, first: str, second: str) -> None:
        super().__init__(f"{number} is used by {first} and by {second}")
        self.number = number
        self.first = first
        self.second = second


@dataclass(frozen=True)
class Destination:
    """Where a dialled number leads.

    ``kind`` is a target type (``user``, ``hunt_group``, ``queue``, ``ivr``,
    ``oncall``, ``voicemail``, ``announcement``, ``external`` ...), ``id`` the
    row it names, ``number`` the external number for ``external``. ``via``
    says how the number was found: ``did``, ``extension`` or ``inbound``.
    """

    kind: str
    id: int | None
    label: str
    via: str
    number: str | None = None
    inbound_id: int | None = None


class _User(Protocol):
    id: int
    name: str
    did: str | None
    extension: str | None
    active: bool


class _Numbered(Protocol):
    id: int
    name: str
    number: str | None
    extension: str | None


class _Inbound(Protocol):
    id: int
    number: str
    label: str | None
    target_type: str
    target_id: int | None
    target_number: str | None


class NumberPlan:
    """A lookup of every number and extension, built from the configuration."""

    def __init__(self, country: str = "NL") -> None:
        self.country = country
        self._numbers: dict[str, Destination] = {}
        self._extensions: dict[str, Destination] = {}

    @classmethod
    def from_config(
        cls,
        *,
        users: Iterable[_User] = (),
        inbound_numbers: Iterable[_Inbound] = (),
        hunt_groups: Iterable[_Numbered] = (),
        queues: Iterable[_Numbered] = (),
        menus: Iterable[_Numbered] = (),
        oncall_groups: Iterable[_Numbered] = (),
        country: str = "NL",
    ) -> NumberPlan:
        """Build the plan; a number used twice raises :class:`DuplicateNumber`.

        An inbound-number row wins over a menu or group that carries the same
        number, because the row is what says how that number is answered
        (schedule, closed target); the pair is therefore not a duplicate.
        """
        plan = cls(country)
        for row in inbound_numbers:
            plan._add_number(
                row.number,
                Destination(
                    kind=row.target_type,
                    id=row.target_id,
                    label=row.label or row.number,
                    via="inbound",
                    number=row.target_number,
                    inbound_id=row.id,
                ),
            )
        inbound = set(plan._numbers)
        for user in users:
            if not user.active:
                continue
            plan._add_own("user", user.id, user.name, user.did, user.extension, inbound)
        for kind, rows in (
            ("hunt_group", hunt_groups),
            ("queue", queues),
            ("ivr", menus),
            ("oncall", oncall_groups),
        ):
            for row in rows:
                plan._add_own(
                    kind, row.id, row.name, row.number, row.extension, inbound
                )
        return plan

    def _add_own(
        self,
        kind: str,
        row_id: int,
        label: str,
        number: str | None,
        extension: str | None,
        inbound: set[str],
    ) -> None:
        if number and number not in inbound:
            self._add_number(number, Destination(kind, row_id, label, "did"))
        if extension:
            self._add_extension(
                extension, Destination(kind, row_id, label, "extension")
            )

    def _add_number(self, number: str, destination: Destination) -> None:
        known = self._numbers.get(number)
        if known is not None:
            raise DuplicateNumber(number, _describe(known), _describe(destination))
        self._numbers[number] = destination

    def _add_extension(self, extension: str, destination: Destination) -> None:
        known = self._extensions.get(extension)
        if known is not None:
            raise DuplicateNumber(extension, _describe(known), _describe(destination))
        self._extensions[extension] = destination

    def resolve(self, dialled: str) -> Destination:
        """Where ``dialled`` leads; raise :class:`UnknownNumber` if nowhere."""
        raw = numbering.clean(dialled)
        if raw in self._extensions:
            return self._extensions[raw]
        e164 = numbering.try_normalise(raw, self.country)
        if e164 is not None and e164 in self._numbers:
            return self._numbers[e164]
        raise UnknownNumber(dialled)

    def try_resolve(self, dialled: str) -> Destination | None:
        try:
            return self.resolve(dialled)
        except UnknownNumber:
            return None

    def is_ours(self, dialled: str) -> bool:
        return self.try_resolve(dialled) is not None

    @property
    def numbers(self) -> dict[str, Destination]:
        return dict(self._numbers)

    @property
    def extensions(self) -> dict[str, Destination]:
        return dict(self._extensions)


def _describe(destination: Destination) -> str:
    return f"{destination.kind.replace('_', ' ')} {destination.label!r}"


def area_prefix(e164: str) -> str | None:
    """The E.164 prefix of a number's geographic area (``+31317``), if any."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    length = phonenumbers.length_of_geographical_area_code(parsed)
    if not length:
        return None
    return f"+{parsed.country_code}{str(parsed.national_number)[:length]}"
