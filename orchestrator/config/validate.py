"""Checks a configuration must pass before it is published.

A single column is checked by the model itself (``@validates``); here are
the checks that need more than one row: a number or extension claimed
twice, a number outside every block the carrier delivers, a reference that
names nothing, forwarding or fallback that goes round in a circle. Last,
everything is rendered and the XML parsed, as the switch would.

Exceptions, one class per failure, each naming the field::

    ValidationError                 invalid-configuration
     ├── InvalidValue               invalid-value
     ├── InvalidCharacters          invalid-characters
     ├── NumberInUse                number-in-use
     ├── ExtensionInUse             extension-in-use
     ├── ExtensionReserved          extension-reserved
     ├── ExtensionOutOfRange        extension-out-of-range
     ├── NumberOutsideBlocks        number-outside-blocks
     ├── UnresolvedReference        unresolved-reference
     ├── ForwardingLoop             forwarding-loop
     ├── FallbackLoop               fallback-loop
     ├── Conflict                   conflict (the database refused)
     └── RenderFailed               render-failed (a template or its XML)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from lxml import etree
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Session

from orchestrator.config.render import FixedView, Renderer
from orchestrator.config.view import ConfigView, build
from orchestrator.domain import numbering
from orchestrator.features.checks import check_telephony
from orchestrator.settings import Settings
from orchestrator.store import models as m

log = logging.getLogger(__name__)

T = TypeVar("T", bound=m.ConfigBase)

# Characters XML 1.0 cannot carry, escaped or not.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_RESERVED_EXTENSIONS = frozenset({"112", "911", "999"})


class ValidationError(ValueError):
    """A configuration that cannot be published; ``field`` says where."""

    status = 422
    error_id = "invalid-configuration"

    def __init__(self, field: str, message: str, *, item: str | None = None) -> None:
        super().__init__(f"{item + ': ' if item else ''}{field}: {message}")
        self.field = field
        self.message = message
        self.item = item

    def details(self) -> dict[str, Any]:
        return {"field": self.field, "item": self.item}


class InvalidValue(ValidationError):
    error_id = "invalid-value"


class InvalidCharacters(ValidationError):
    error_id = "invalid-characters"


class NumberInUse(ValidationError):
    error_id = "number-in-use"


class ExtensionInUse(ValidationError):
    error_id = "extension-in-use"


class ExtensionReserved(ValidationError):
    error_id = "extension-reserved"


class ExtensionOutOfRange(ValidationError):
    error_id = "extension-out-of-range"


class NumberOutsideBlocks(ValidationError):
    error_id = "number-outside-blocks"


class UnresolvedReference(ValidationError):
    error_id = "unresolved-reference"


class ForwardingLoop(ValidationError):
    error_id = "forwarding-loop"


class FallbackLoop(ValidationError):
    error_id = "fallback-loop"


class Conflict(ValidationError):
    error_id = "conflict"


class RenderFailed(ValidationError):
    error_id = "render-failed"


# --- the rows as they will be after the change --------------------------------


class Rows:
    """Every configuration row of a session: stored, changed and new, not deleted."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[type, list[Any]] = {}
        self._ids: dict[type, set[int]] = {}

    def __call__(self, model: type[T]) -> list[T]:
        if model not in self._cache:
            self._cache[model] = list(self._load(model))
        return self._cache[model]

    def _load(self, model: type[T]) -> Iterator[T]:
        deleted = set(map(id, self.session.deleted))
        seen: set[int] = set()
        with self.session.no_autoflush:
            stored = list(self.session.scalars(select(model)))
        for obj in [*stored, *(o for o in self.session.new if isinstance(o, model))]:
            if id(obj) not in deleted and id(obj) not in seen:
                seen.add(id(obj))
                yield obj

    def ids(self, model: type[m.ConfigBase]) -> set[int]:
        if model not in self._ids:
            self._ids[model] = {o.id for o in self(model) if o.id is not None}
        return self._ids[model]

    def changed(self, obj: Any) -> bool:
        return obj in self.session.new or obj in self.session.dirty


def describe(obj: Any) -> str:
    """How a message names a row: "user 'Anna de Vries'", "queue 3"."""
    label = getattr(obj, "kind_label", type(obj).__name__)
    name = getattr(obj, "name", None) or getattr(obj, "number", None)
    if name is None and isinstance(obj, m.Device):
        name = obj.sip_user
    if name:
        return f"{label} {name!r}"
    return f"{label} {obj.id}" if getattr(obj, "id", None) else f"new {label}"


# --- the checks ---------------------------------------------------------------


def check(session: Session) -> None:
    """Every cross-row check; raise the first failure found."""
    rows = Rows(session)
    _check_characters(rows)
    _check_numbers(rows)
    _check_extensions(rows)
    _check_blocks(rows)
    _check_references(rows)
    _check_forwarding_loops(rows)
    _check_fallback_loops(rows)
    check_telephony(rows)


def validate(session: Session, settings: Settings) -> ConfigView:
    """Check, write to the database (unflushed so far) and render everything.

    The view that was rendered is returned: it is what the switch will get.
    """
    check(session)
    flush(session)
    view = build(session, settings, None)
    check_rendering(view, settings)
    return view


def flush(session: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    try:
        session.flush()
    except IntegrityError as exc:
        # The checks above name most conflicts; this is the database's word
        # on the rest (a constraint no check knows about).
        text = str(exc.orig or exc)
        raise Conflict(_constraint_field(text), text.splitlines()[0]) from exc


def _constraint_field(text: str) -> str:
    # PostgreSQL: "Key (did)=(...) already exists"; SQLite: "failed: users.did".
    found = re.search(r"Key \((\w+)", text) or re.search(r"failed: \w+\.(\w+)", text)
    return found.group(1) if found else "configuration"


def _check_characters(rows: Rows) -> None:
    for model in m.config_tables():
        columns = [
            c.key for c in model.__table__.columns if isinstance(c.type, String | Text)
        ]
        for obj in rows(model):
            if not rows.changed(obj):
                continue
            for column in columns:
                value = getattr(obj, column, None)
                if isinstance(value, str) and _XML_ILLEGAL.search(value):
                    raise InvalidCharacters(
                        column,
                        "contains a control character that cannot be stored",
                        item=describe(obj),
                    )


@dataclass(frozen=True)
class _Claim:
    number: str
    field: str
    obj: Any
    # (target type, id) the number leads to; for an owner, itself.
    target: tuple[str, Any]
    inbound: bool


_OWNERS: tuple[tuple[str, type[m.ConfigBase]], ...] = (
    ("user", m.User),
    ("hunt_group", m.HuntGroup),
    ("queue", m.Queue),
    ("ivr", m.IvrMenu),
    ("oncall", m.OnCallGroup),
)


def _owner_claims(rows: Rows, attr: str) -> Iterator[_Claim]:
    """Numbers (``attr="number"``) or extensions that rows claim for themselves."""
    for kind, model in _OWNERS:
        field = "did" if kind == "user" and attr == "number" else attr
        for obj in rows(model):
            value = getattr(obj, field)
            if value:
                yield _Claim(value, field, obj, (kind, _key(obj)), inbound=False)


def _key(obj: Any) -> Any:
    return obj.id if obj.id is not None else id(obj)


def _number_claims(rows: Rows) -> list[_Claim]:
    claims = list(_owner_claims(rows, "number"))
    claims += [
        _Claim(row.number, "number", row, (row.target_type, row.target_id), True)
        for row in rows(m.InboundNumber)
    ]
    return claims


def _check_numbers(rows: Rows) -> None:
    seen: dict[str, _Claim] = {}
    for claim in _number_claims(rows):
        other = seen.get(claim.number)
        if other is None:
            seen[claim.number] = claim
            continue
        # An inbound-number row for the very menu or group that carries the
        # number says how that number is answered: not a second claim.
        if claim.inbound != other.inbound and claim.target == other.target:
            continue
        first, second = _blame(rows, other, claim)
        raise NumberInUse(
            second.field,
            f"{claim.number} is already the number of {describe(first.obj)}",
            item=describe(second.obj),
        )


def _blame(rows: Rows, a: _Claim, b: _Claim) -> tuple[_Claim, _Claim]:
    """(the claim that was there, the one that is new or changed)."""
    if rows.changed(a.obj) and not rows.changed(b.obj):
        return b, a
    return a, b


def _check_extensions(rows: Rows) -> None:
    org = next(iter(rows(m.Organisation)), None)
    seen: dict[str, _Claim] = {}
    for claim in _owner_claims(rows, "extension"):
        ext = claim.number
        if ext in _RESERVED_EXTENSIONS or ext.startswith("0"):
            raise ExtensionReserved(
                "extension",
                f"{ext} is an emergency number or starts with the trunk prefix",
                item=describe(claim.obj),
            )
        if org is not None and not org.extension_allowed(ext):
            raise ExtensionOutOfRange(
                "extension",
                f"{ext} is outside the extension ranges {org.extension_ranges}",
                item=describe(claim.obj),
            )
        other = seen.get(ext)
        if other is not None:
            first, second = _blame(rows, other, claim)
            raise ExtensionInUse(
                "extension",
                f"{ext} is already the extension of {describe(first.obj)}",
                item=describe(second.obj),
            )
        seen[ext] = claim
    _check_sip_users(rows, seen)


def _check_sip_users(rows: Rows, extensions: dict[str, _Claim]) -> None:
    # A device registering as another user's extension would take that
    # user's calls (the dialplan rings user/<extension>).
    for device in rows(m.Device):
        owner = extensions.get(device.sip_user)
        if owner is None:
            continue
        if owner.target[0] == "user" and device.user is owner.obj:
            continue
        raise ExtensionInUse(
            "sip_user",
            f"{device.sip_user} is the extension of {describe(owner.obj)}",
            item=describe(device),
        )


def _check_blocks(rows: Rows) -> None:
    blocks = rows(m.NumberBlock)
    claims = _number_claims(rows)
    org = next(iter(rows(m.Organisation)), None)
    if org is not None and org.main_number:
        claims.append(_Claim(org.main_number, "main_number", org, ("", None), False))
    for claim in claims:
        if not any(claim.number in block for block in blocks):
            raise NumberOutsideBlocks(
                claim.field,
                f"{numbering.national(claim.number)} is not in any number block "
                "the carrier delivers",
                item=describe(claim.obj),
            )


# --- references ---------------------------------------------------------------

_TARGET_MODELS: dict[str, type[m.ConfigBase]] = {
    "user": m.User,
    "voicemail": m.User,
    "hunt_group": m.HuntGroup,
    "queue": m.Queue,
    "vm_or_queue": m.Queue,
    "ivr": m.IvrMenu,
    "oncall": m.OnCallGroup,
    "announcement": m.Announcement,
}


def _ids(rows: Rows, model: type[m.ConfigBase]) -> set[int]:
    return rows.ids(model)


def _target_problem(
    rows: Rows, kind: str | None, target_id: int | None, number: str | None
) -> str | None:
    """Why a (type, id, number) target does not resolve, or None if it does."""
    if kind is None:
        return None
    if kind == "external":
        return None if number else "an external destination needs a number"
    if kind == "hangup":
        return None
    model = _TARGET_MODELS.get(kind)
    if model is None:
        return f"{kind!r} is not a kind of destination"
    if target_id is None or target_id not in _ids(rows, model):
        return f"there is no {kind.replace('_', ' ')} {target_id}"
    if kind == "voicemail":
        user = next(u for u in rows(m.User) if u.id == target_id)
        if not user.voicemail_enabled:
            return f"user {user.name!r} has no voicemail"
    return None


def _targets(rows: Rows) -> Iterator[tuple[Any, str, str | None, int | None, Any]]:
    """(row, field, type, id, number) for every target reference."""
    for q in rows(m.Queue):
        yield q, "overflow_type", q.overflow_type, q.overflow_id, q.overflow_number
    for g in rows(m.HuntGroup):
        yield g, "fallback_type", g.fallback_type, g.fallback_id, g.fallback_number
    for menu in rows(m.IvrMenu):
        yield menu, "default_type", menu.default_type, menu.default_id, None
    for o in rows(m.IvrOption):
        yield o, "target_type", o.target_type, o.target_id, o.target_number
    for n in rows(m.InboundNumber):
        yield n, "target_type", n.target_type, n.target_id, n.target_number
        yield n, "closed_target_type", n.closed_target_type, n.closed_target_id, None
    for f in rows(m.CallForward):
        yield f, "target_type", f.target_type, f.target_id, f.target_number


def _plain_references(rows: Rows) -> Iterator[tuple[Any, str, Any, int | None]]:
    """(row, field, model referred to, id) for plain foreign keys."""
    for n in rows(m.InboundNumber):
        yield n, "schedule_id", m.TimeSchedule, n.schedule_id
        if n.closed_target_type is None and n.schedule_id is not None:
            yield n, "closed_target_type", None, None
    for q in rows(m.Queue):
        yield q, "schedule_id", m.TimeSchedule, q.schedule_id
        yield q, "welcome_announcement_id", m.Announcement, q.welcome_announcement_id
        yield q, "periodic_announcement_id", m.Announcement, q.periodic_announcement_id
    for menu in rows(m.IvrMenu):
        yield menu, "schedule_id", m.TimeSchedule, menu.schedule_id
        yield menu, "greeting_id", m.Announcement, menu.greeting_id
        yield menu, "invalid_id", m.Announcement, menu.invalid_id


def _check_references(rows: Rows) -> None:
    for obj, field, kind, target_id, number in _targets(rows):
        problem = _target_problem(rows, kind, target_id, number)
        if problem:
            raise UnresolvedReference(field, problem, item=describe(obj))
    for obj, field, model, ref_id in _plain_references(rows):
        if model is None:
            raise UnresolvedReference(
                field,
                "a number with opening hours needs a destination for closed hours",
                item=describe(obj),
            )
        if ref_id is not None and ref_id not in _ids(rows, model):
            raise UnresolvedReference(
                field,
                f"there is no {model.kind_label} {ref_id}",
                item=describe(obj),
            )


def _check_forwarding_loops(rows: Rows) -> None:
    users_by_did = {u.did: u.id for u in rows(m.User) if u.did}
    names = {u.id: u.name for u in rows(m.User)}
    edges: dict[int, int] = {}
    for f in rows(m.CallForward):
        if not f.enabled or f.kind != m.ForwardKind.ALWAYS or f.user_id is None:
            continue
        if f.target_type == "user" and f.target_id is not None:
            edges[f.user_id] = f.target_id
        elif f.target_type == "external" and f.target_number in users_by_did:
            edges[f.user_id] = users_by_did[f.target_number]
    cycle = _find_cycle(edges)
    if cycle:
        path = " -> ".join(repr(names.get(u, u)) for u in cycle)
        raise ForwardingLoop("target_id", f"forwarding goes round in a circle: {path}")


def _check_fallback_loops(rows: Rows) -> None:
    # A hunt group that falls back to a queue that overflows to the same
    # hunt group would keep a caller ringing round for ever.
    edges: dict[tuple[str, int], tuple[str, int]] = {}
    names: dict[tuple[str, int], str] = {}
    for g in rows(m.HuntGroup):
        names[("hunt_group", g.id)] = f"hunt group {g.name!r}"
        if g.fallback_type in ("hunt_group", "queue") and g.fallback_id is not None:
            edges[("hunt_group", g.id)] = (g.fallback_type, g.fallback_id)
    for q in rows(m.Queue):
        names[("queue", q.id)] = f"queue {q.name!r}"
        if q.overflow_type in ("hunt_group", "queue") and q.overflow_id is not None:
            edges[("queue", q.id)] = (q.overflow_type, q.overflow_id)
    cycle = _find_cycle(edges)
    if cycle:
        field = "fallback_type" if cycle[0][0] == "hunt_group" else "overflow_type"
        path = " -> ".join(names.get(node, str(node)) for node in cycle)
        raise FallbackLoop(field, f"unanswered calls go round in a circle: {path}")


def _find_cycle(edges: dict[Any, Any]) -> list[Any] | None:
    """The first cycle in a graph where each node has at most one edge."""
    done: set[Any] = set()
    for start in edges:
        path: list[Any] = []
        node = start
        while node in edges and node not in done and node not in path:
            path.append(node)
            node = edges[node]
        if node in path:
            return [*path[path.index(node) :], node]
        done.update(path)
    return None


# --- rendering ----------------------------------------------------------------


def check_rendering(view: ConfigView, settings: Settings) -> None:
    """Render every context, the whole directory and every configuration file."""
    renderer = Renderer(settings, FixedView(view))
    documents: list[tuple[str, str | None]] = []
    try:
        for context in view.routes:
            documents.append((f"dialplan {context}", renderer.render_dialplan(context)))
        documents.append(("directory", renderer.render_whole_directory()))
        for name in configuration_names(settings):
            documents.append((name, renderer.render_configuration(name)))
    except Exception as exc:  # noqa: BLE001 - any template failure refuses the change
        log.exception("rendering the new configuration failed")
        raise RenderFailed("template", f"rendering failed: {exc}") from exc
    for what, xml in documents:
        if xml is None:
            continue
        try:
            etree.fromstring(xml.encode("utf-8"))
        except etree.XMLSyntaxError as exc:
            raise RenderFailed(what, f"the rendered XML does not parse: {exc}") from exc


def configuration_names(settings: Settings) -> Iterable[str]:
    """The configuration files Schakel renders (one template each)."""
    from pathlib import Path

    folder = Path(settings.templates_root) / "freeswitch-conf" / "configuration"
    return sorted(p.name.removesuffix(".j2") for p in folder.glob("*.conf.j2"))
