"""A read-only picture of the configuration, built once per published revision.

The xml_curl endpoint answers every REGISTER, every call and every voicemail
lookup of the switch; none of them may wait for the database. :func:`build`
reads every configuration row once into plain frozen objects, indexed the
ways the switch asks (SIP user, dialled number, extension, target address).
Templates read these objects and nothing else.

:class:`ViewCache` keeps the current view of a store and replaces it when a
revision is published (in this process through :func:`invalidate_all`, in
others through the ``schakel:config`` channel, and at the latest after a
short re-check interval).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from orchestrator.domain import numbering
from orchestrator.domain.traffic import Rights, effective_rights
from orchestrator.settings import Settings
from orchestrator.store import models as m
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

# Target types the orchestrator takes over: the dialplan parks the call.
PARKED_TARGETS = frozenset({"queue", "ivr", "oncall", "vm_or_queue"})
# A hunt group with one of these fallbacks takes messages in a box of its own.
GROUP_BOX_FALLBACKS = frozenset({"vm_or_queue"})
CONTEXTS = ("public", "default", "targets")
# How many dialled strings a view remembers the route of.
FOUND_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class TargetRef:
    """Where something sends a call: a target type and the row or number."""

    kind: str
    id: int | None = None
    number: str | None = None

    @property
    def address(self) -> str:
        """The destination in the ``targets`` context that reaches this target."""
        if self.kind == "hangup":
            return "hangup"
        if self.kind == "external":
            return f"external-{(self.number or '').lstrip('+')}"
        return f"{self.kind}-{self.id}"


def _ref(
    kind: str | None, row_id: int | None, number: str | None = None
) -> TargetRef | None:
    return TargetRef(kind, row_id, number) if kind else None


@dataclass(frozen=True, slots=True)
class TrafficClassView:
    id: int
    name: str
    allow_national: bool
    allow_mobile: bool
    allow_international: bool
    allow_premium: bool
    allow_special: bool
    max_call_minutes: int


@dataclass(frozen=True, slots=True)
class DeviceView:
    id: int
    user_id: int | None
    kind: str
    sip_user: str
    password: str
    label: str | None
    pickup_group: str | None


@dataclass(frozen=True, slots=True)
class ForwardView:
    id: int
    kind: str
    enabled: bool
    target: TargetRef
    no_answer_seconds: int
    announce: bool


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    username: str
    name: str
    email: str | None
    did: str | None
    extension: str | None
    mobile: str | None
    roles: tuple[str, ...]
    language: str
    active: bool
    dnd: bool
    ring_seconds: int
    one_number: str
    one_number_delay: int
    private_mobile_cli: bool
    caller_id_policy: str
    # The number presented outside, after the caller-ID policy.
    outbound_caller_id_number: str | None
    rights: Rights
    voicemail_enabled: bool
    voicemail_pin: str | None
    voicemail_to_email: bool
    # The voicemail box: the SIP user of the first device.
    mailbox: str | None
    devices: tuple[DeviceView, ...]
    forwards: tuple[ForwardView, ...]

    @property
    def call_rights(self) -> str:
        return self.rights.variable()

    @property
    def max_call_seconds(self) -> int:
        return self.rights.max_call_minutes * 60

    @property
    def pickup_group(self) -> str | None:
        return next((d.pickup_group for d in self.devices if d.pickup_group), None)


@dataclass(frozen=True, slots=True)
class MemberView:
    user: UserView
    position: int
    logged_in: bool


@dataclass(frozen=True, slots=True)
class HuntGroupView:
    id: int
    name: str
    number: str | None
    extension: str | None
    strategy: str
    member_ring_seconds: int
    no_answer_seconds: int
    fallback: TargetRef | None
    caller_id_number: str | None
    display_prefix: str | None
    members: tuple[MemberView, ...]
    email: str | None = None

    @property
    def mailbox(self) -> str | None:
        """The group's voicemail box: its extension, when a fallback records
        messages in it."""
        if self.fallback is not None and self.fallback.kind in GROUP_BOX_FALLBACKS:
            return self.extension
        return None


@dataclass(frozen=True, slots=True)
class QueueAgentView:
    user: UserView
    level: int


@dataclass(frozen=True, slots=True)
class QueueView:
    id: int
    name: str
    number: str | None
    extension: str | None
    strategy: str
    max_wait_seconds: int
    max_callers: int
    service_level_seconds: int
    agent_ring_seconds: int
    wrap_up_seconds: int
    overflow: TargetRef | None
    schedule_id: int | None
    welcome_announcement_id: int | None
    periodic_announcement_id: int | None
    periodic_seconds: int
    music_on_hold: str | None
    caller_id_number: str | None
    display_prefix: str | None
    agents: tuple[QueueAgentView, ...]
    # The queue's name for mod_callcenter: a slug and the SIP domain.
    cc_name: str


@dataclass(frozen=True, slots=True)
class MenuOptionView:
    digits: str
    label: str | None
    target: TargetRef
    enabled: bool


@dataclass(frozen=True, slots=True)
class MenuView:
    id: int
    name: str
    number: str | None
    extension: str | None
    greeting_id: int | None
    invalid_id: int | None
    timeout_seconds: int
    max_failures: int
    default: TargetRef | None
    schedule_id: int | None
    options: tuple[MenuOptionView, ...]


@dataclass(frozen=True, slots=True)
class OnCallView:
    id: int
    name: str
    number: str | None
    extension: str | None
    min_logged_in: int
    ring_seconds: int
    display_prefix: str
    members: tuple[MemberView, ...]


@dataclass(frozen=True, slots=True)
class AnnouncementView:
    id: int
    name: str
    path: str
    text: str | None
    language: str
    duration_ms: int
    active: bool
    # What the switch plays: a tone_stream:// or file path as is, else the
    # file under the sounds directory.
    uri: str


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved target: its reference plus the row it names (if any)."""

    ref: TargetRef
    name: str
    obj: Any = None

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def id(self) -> int | None:
        return self.ref.id

    @property
    def address(self) -> str:
        return self.ref.address

    @property
    def parked(self) -> bool:
        return self.ref.kind in PARKED_TARGETS


@dataclass(frozen=True, slots=True)
class Route:
    """One dialplan extension: what matches and where it leads."""

    key: str
    context: str
    # The regular expression on destination_number (PCRE and Python alike).
    pattern: str
    target: Target
    # The stored E.164 number or extension that was dialled.
    called: str
    label: str
    inbound_number_id: int | None = None
    schedule_id: int | None = None
    closed_target: Target | None = None


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """One directory user: a device, and the user it belongs to (if any)."""

    device: DeviceView
    user: UserView | None
    effective_caller_id_name: str
    effective_caller_id_number: str
    outbound_caller_id_name: str
    outbound_caller_id_number: str
    call_rights: str
    max_call_seconds: int
    language: str
    vm_enabled: bool


@dataclass
class ConfigView:
    """Everything the templates need, indexed; rendered answers are cached."""

    revision_id: int | None
    domain: str
    gateway: str
    country: str
    trunk_did_digits: int
    organisation_name: str
    main_number: str | None
    music_on_hold: str
    own_area: str | None
    default_rights: Rights
    users: dict[int, UserView]
    devices: dict[str, DeviceView]
    directory: dict[str, DirectoryEntry]
    hunt_groups: dict[int, HuntGroupView]
    # Hunt groups' voicemail boxes by box id (the group's extension).
    group_boxes: dict[str, HuntGroupView]
    queues: dict[int, QueueView]
    menus: dict[int, MenuView]
    oncall_groups: dict[int, OnCallView]
    announcements: dict[int, AnnouncementView]
    routes: dict[str, dict[str, Route]]
    # Public numbers by their last trunk_did_digits digits (if unique).
    suffixes: dict[str, Route]
    rendered: dict[tuple[Any, ...], str | None] = field(default_factory=dict)
    found: dict[tuple[str, str], Route | None] = field(default_factory=dict)

    def target(self, ref: TargetRef | None) -> Target | None:
        """Resolve a reference; None if it names nothing that exists."""
        if ref is None:
            return None
        table = {
            "user": self.users,
            "voicemail": self.users,
            "hunt_group": self.hunt_groups,
            "queue": self.queues,
            "vm_or_queue": self.queues,
            "ivr": self.menus,
            "oncall": self.oncall_groups,
            "announcement": self.announcements,
        }.get(ref.kind)
        if table is not None:
            obj = table.get(ref.id) if ref.id is not None else None
            if obj is None:
                return None
            return Target(ref, obj.name, obj)
        if ref.kind == "external":
            return Target(ref, ref.number or "", None) if ref.number else None
        if ref.kind == "hangup":
            return Target(ref, "hangup", None)
        return None

    def route(self, context: str, dialled: str) -> Route | None:
        """The route a destination_number hits in ``context``, if any."""
        key = (context, dialled)
        if key in self.found:
            return self.found[key]
        route = self._route(context, dialled)
        # Bounded: a flood of made-up numbers must not grow it for ever.
        if len(self.found) < FOUND_LIMIT:
            self.found[key] = route
        return route

    def _route(self, context: str, dialled: str) -> Route | None:
        routes = self.routes.get(context)
        if routes is None or not dialled:
            return None
        found = routes.get(dialled)
        if found is not None or context == "targets":
            return found
        e164 = self.normalise(dialled)
        if e164 is not None and e164 in routes:
            return routes[e164]
        if context == "public" and self.trunk_did_digits:
            return self.suffixes.get(dialled)
        return None

    def normalise(self, dialled: str) -> str | None:
        digits = numbering.clean(dialled)
        e164 = numbering.try_normalise(digits, self.country)
        if e164 is None and digits.isdigit() and not digits.startswith("0"):
            # Some trunks send the country code without "+" or "00".
            e164 = numbering.try_normalise("+" + digits, self.country)
        return e164


# --- building -----------------------------------------------------------------


def build(session: Session, settings: Settings, revision_id: int | None) -> ConfigView:
    """Read every configuration row once and index it."""
    org = session.scalars(select(m.Organisation).order_by(m.Organisation.id)).first()
    classes = {
        tc.id: _traffic_class(tc) for tc in session.scalars(select(m.TrafficClass))
    }
    profiles = {p.id: p.traffic_class_id for p in session.scalars(select(m.Profile))}
    default_class = classes.get(org.default_traffic_class_id) if org else None
    main_number = org.main_number if org else None

    users = {
        u.id: _user(u, classes, profiles, default_class, main_number)
        for u in session.scalars(
            select(m.User)
            .options(selectinload(m.User.devices), selectinload(m.User.forwards))
            .order_by(m.User.id)
        )
    }
    loose = [
        _device(d)
        for d in session.scalars(
            select(m.Device).where(m.Device.user_id.is_(None)).order_by(m.Device.id)
        )
    ]
    announcements = {
        a.id: _announcement(a, settings)
        for a in session.scalars(select(m.Announcement).order_by(m.Announcement.id))
    }
    view = ConfigView(
        revision_id=revision_id,
        domain=settings.sip_domain,
        gateway=settings.gateway,
        country=settings.country,
        trunk_did_digits=settings.trunk_did_digits,
        organisation_name=org.name if org else "",
        main_number=main_number,
        music_on_hold=org.music_on_hold if org else "local_stream://moh",
        own_area=_area_of(main_number),
        default_rights=effective_rights(None, None, default_class),
        users=users,
        devices={},
        directory={},
        hunt_groups=_hunt_groups(session, users),
        group_boxes={},
        queues=_queues(session, users, settings.sip_domain),
        menus=_menus(session),
        oncall_groups=_oncall_groups(session, users),
        announcements=announcements,
        routes={},
        suffixes={},
    )
    _index_directory(view, loose)
    _index_routes(view, session)
    return view


def _traffic_class(tc: m.TrafficClass) -> TrafficClassView:
    return TrafficClassView(
        tc.id,
        tc.name,
        tc.allow_national,
        tc.allow_mobile,
        tc.allow_international,
        tc.allow_premium,
        tc.allow_special,
        tc.max_call_minutes or 0,
    )


def _device(d: m.Device) -> DeviceView:
    return DeviceView(
        d.id, d.user_id, d.kind, d.sip_user, d.sip_password, d.label, d.pickup_group
    )


def _user(
    u: m.User,
    classes: dict[int, TrafficClassView],
    profiles: dict[int, int | None],
    default_class: TrafficClassView | None,
    main_number: str | None,
) -> UserView:
    profile_class_id = profiles.get(u.profile_id) if u.profile_id else None
    rights = effective_rights(
        classes.get(u.traffic_class_id) if u.traffic_class_id else None,
        classes.get(profile_class_id) if profile_class_id else None,
        default_class,
    )
    devices = tuple(_device(d) for d in u.devices)
    forwards = tuple(
        ForwardView(
            f.id,
            f.kind,
            f.enabled,
            TargetRef(f.target_type, f.target_id, f.target_number),
            f.no_answer_seconds,
            f.announce,
        )
        for f in u.forwards
    )
    return UserView(
        id=u.id,
        username=u.username,
        name=u.name,
        email=u.email,
        did=u.did,
        extension=u.extension,
        mobile=u.mobile,
        roles=tuple(u.roles or ()),
        language=u.language or "nl",
        active=u.active,
        dnd=u.dnd,
        ring_seconds=u.ring_seconds,
        one_number=u.one_number,
        one_number_delay=u.one_number_delay,
        private_mobile_cli=u.private_mobile_cli,
        caller_id_policy=u.caller_id_policy,
        outbound_caller_id_number=_outbound_number(u, main_number),
        rights=rights,
        voicemail_enabled=bool(u.voicemail_enabled and devices),
        voicemail_pin=u.voicemail_pin,
        voicemail_to_email=bool(u.voicemail_to_email and u.email),
        mailbox=devices[0].sip_user if devices else None,
        devices=devices,
        forwards=forwards,
    )


def _outbound_number(u: m.User, main_number: str | None) -> str | None:
    if u.caller_id_policy == m.CallerIdPolicy.GROUP and u.caller_id_group_number:
        return u.caller_id_group_number
    if u.caller_id_policy == m.CallerIdPolicy.MAIN:
        return main_number or u.did
    return u.did or main_number


def _announcement(a: m.Announcement, settings: Settings) -> AnnouncementView:
    if "://" in a.path or a.path.startswith("/"):
        uri = a.path
    else:
        uri = f"{settings.sounds_dir.rstrip('/')}/{a.path}"
    return AnnouncementView(
        a.id, a.name, a.path, a.text, a.language, a.duration_ms, a.active, uri
    )


def sound_lengths(view: ConfigView) -> dict[str, float]:
    """Seconds each announcement's sound lasts, by the URI the switch plays.

    A switch (or the simulator, which cannot read the files) times a
    playback by them; announcements of unknown length are left out.
    """
    return {
        a.uri: a.duration_ms / 1000
        for a in view.announcements.values()
        if a.duration_ms > 0
    }


def _members(rows: Iterable[Any], users: dict[int, UserView]) -> tuple[MemberView, ...]:
    return tuple(
        MemberView(users[r.user_id], r.position, r.logged_in)
        for r in rows
        if r.user_id in users
    )


def _hunt_groups(
    session: Session, users: dict[int, UserView]
) -> dict[int, HuntGroupView]:
    return {
        g.id: HuntGroupView(
            g.id,
            g.name,
            g.number,
            g.extension,
            g.strategy,
            g.member_ring_seconds,
            g.no_answer_seconds,
            _ref(g.fallback_type, g.fallback_id, g.fallback_number),
            g.caller_id_number,
            g.display_prefix,
            _members(g.members, users),
            g.email,
        )
        for g in session.scalars(
            select(m.HuntGroup)
            .options(selectinload(m.HuntGroup.members))
            .order_by(m.HuntGroup.id)
        )
    }


def _queues(
    session: Session, users: dict[int, UserView], domain: str
) -> dict[int, QueueView]:
    queues: dict[int, QueueView] = {}
    for q in session.scalars(
        select(m.Queue).options(selectinload(m.Queue.agents)).order_by(m.Queue.id)
    ):
        agents = tuple(
            QueueAgentView(users[a.user_id], a.level)
            for a in q.agents
            if a.user_id in users
        )
        queues[q.id] = QueueView(
            q.id,
            q.name,
            q.number,
            q.extension,
            q.strategy,
            q.max_wait_seconds,
            q.max_callers,
            q.service_level_seconds,
            q.agent_ring_seconds,
            q.wrap_up_seconds,
            _ref(q.overflow_type, q.overflow_id, q.overflow_number),
            q.schedule_id,
            q.welcome_announcement_id,
            q.periodic_announcement_id,
            q.periodic_seconds,
            q.music_on_hold,
            q.caller_id_number,
            q.display_prefix,
            agents,
            f"{slug(q.name)}@{domain}",
        )
    return queues


def _menus(session: Session) -> dict[int, MenuView]:
    return {
        menu.id: MenuView(
            menu.id,
            menu.name,
            menu.number,
            menu.extension,
            menu.greeting_id,
            menu.invalid_id,
            menu.timeout_seconds,
            menu.max_failures,
            _ref(menu.default_type, menu.default_id),
            menu.schedule_id,
            tuple(
                MenuOptionView(
                    o.digits,
                    o.label,
                    TargetRef(o.target_type, o.target_id, o.target_number),
                    o.enabled,
                )
                for o in menu.options
            ),
        )
        for menu in session.scalars(
            select(m.IvrMenu)
            .options(selectinload(m.IvrMenu.options))
            .order_by(m.IvrMenu.id)
        )
    }


def _oncall_groups(
    session: Session, users: dict[int, UserView]
) -> dict[int, OnCallView]:
    return {
        g.id: OnCallView(
            g.id,
            g.name,
            g.number,
            g.extension,
            g.min_logged_in,
            g.ring_seconds,
            g.display_prefix,
            _members(g.members, users),
        )
        for g in session.scalars(
            select(m.OnCallGroup)
            .options(selectinload(m.OnCallGroup.members))
            .order_by(m.OnCallGroup.id)
        )
    }


def _index_directory(view: ConfigView, loose: list[DeviceView]) -> None:
    for user in view.users.values():
        if not user.active:
            continue
        for device in user.devices:
            view.devices[device.sip_user] = device
            view.directory[device.sip_user] = _entry(view, device, user)
    for device in loose:
        view.devices[device.sip_user] = device
        view.directory[device.sip_user] = _entry(view, device, None)
    for group in view.hunt_groups.values():
        box = group.mailbox
        # A phone registered as the same id keeps it (validation refuses
        # the clash; an unpublished one must not take over a phone).
        if box and box not in view.directory:
            view.group_boxes[box] = group


def _entry(
    view: ConfigView, device: DeviceView, user: UserView | None
) -> DirectoryEntry:
    if user is None:
        return DirectoryEntry(
            device=device,
            user=None,
            effective_caller_id_name=device.label or device.sip_user,
            effective_caller_id_number=device.sip_user,
            outbound_caller_id_name=view.organisation_name,
            outbound_caller_id_number=view.main_number or "",
            call_rights=view.default_rights.variable(),
            max_call_seconds=view.default_rights.max_call_minutes * 60,
            language="nl",
            vm_enabled=False,
        )
    return DirectoryEntry(
        device=device,
        user=user,
        effective_caller_id_name=user.name,
        effective_caller_id_number=user.extension or device.sip_user,
        outbound_caller_id_name=user.name,
        outbound_caller_id_number=user.outbound_caller_id_number or "",
        call_rights=user.call_rights,
        max_call_seconds=user.max_call_seconds,
        language=user.language,
        vm_enabled=user.voicemail_enabled,
    )


def _index_routes(view: ConfigView, session: Session) -> None:
    public: dict[str, Route] = {}
    internal: dict[str, Route] = {}
    inbound = list(
        session.scalars(select(m.InboundNumber).order_by(m.InboundNumber.id))
    )
    # An inbound-number row says how its number is answered, even when a
    # menu or group carries the same number.
    inbound_numbers = {row.number for row in inbound}

    for number, extension, ref, label in _own_numbers(view):
        target = view.target(ref)
        if target is None:
            continue
        if number and number not in inbound_numbers:
            _add(view, public, internal, number, target, label)
        if extension:
            internal[extension] = Route(
                f"default:{extension}",
                "default",
                rf"^{re.escape(extension)}$",
                target,
                extension,
                label,
            )
    for row in inbound:
        _add_inbound(view, public, internal, row)

    view.routes = {
        "public": public,
        "default": internal,
        "targets": _target_routes(view),
    }
    view.suffixes = _suffixes(public, view.trunk_did_digits)


def _own_numbers(
    view: ConfigView,
) -> Iterator[tuple[str | None, str | None, TargetRef, str]]:
    """(number, extension, target, label) of everything that has its own."""
    for u in view.users.values():
        if u.active:
            yield u.did, u.extension, TargetRef("user", u.id), u.name
    for kind, rows in (
        ("hunt_group", view.hunt_groups),
        ("queue", view.queues),
        ("ivr", view.menus),
        ("oncall", view.oncall_groups),
    ):
        for row in rows.values():
            yield row.number, row.extension, TargetRef(kind, row.id), row.name


def _add_inbound(
    view: ConfigView,
    public: dict[str, Route],
    internal: dict[str, Route],
    row: m.InboundNumber,
) -> None:
    target = view.target(TargetRef(row.target_type, row.target_id, row.target_number))
    if target is None:
        return
    _add(
        view,
        public,
        internal,
        row.number,
        target,
        row.label or row.number,
        inbound_number_id=row.id,
        schedule_id=row.schedule_id,
        closed_target=view.target(_ref(row.closed_target_type, row.closed_target_id)),
    )


def _target_routes(view: ConfigView) -> dict[str, Route]:
    routes = {}
    for ref in _all_target_refs(view):
        target = view.target(ref)
        if target is not None:
            address = ref.address
            routes[address] = Route(
                f"targets:{address}",
                "targets",
                rf"^{re.escape(address)}$",
                target,
                address,
                target.name,
            )
    return routes


def _add(
    view: ConfigView,
    public: dict[str, Route],
    internal: dict[str, Route],
    number: str,
    target: Target,
    label: str,
    **extra: Any,
) -> None:
    for context, table in (("public", public), ("default", internal)):
        table[number] = Route(
            f"{context}:{number}",
            context,
            number_pattern(number, view.trunk_did_digits if context == "public" else 0),
            target,
            number,
            label,
            **extra,
        )


def _all_target_refs(view: ConfigView) -> Iterable[TargetRef]:
    for u in view.users.values():
        yield TargetRef("user", u.id)
        if u.voicemail_enabled:
            yield TargetRef("voicemail", u.id)
    for kind, rows in (
        ("hunt_group", view.hunt_groups),
        ("queue", view.queues),
        ("vm_or_queue", view.queues),
        ("ivr", view.menus),
        ("oncall", view.oncall_groups),
        ("announcement", view.announcements),
    ):
        for row_id in rows:
            yield TargetRef(kind, row_id)
    yield TargetRef("hangup")


def _suffixes(public: dict[str, Route], digits: int) -> dict[str, Route]:
    if not digits:
        return {}
    found: dict[str, Route | None] = {}
    for number, route in public.items():
        tail = number[-digits:]
        # Two numbers with the same tail cannot be told apart: neither is
        # reachable by its tail alone.
        found[tail] = None if tail in found else route
    return {tail: route for tail, route in found.items() if route is not None}


# --- helpers ------------------------------------------------------------------


def number_pattern(e164: str, suffix_digits: int = 0) -> str:
    """A regular expression matching ``e164`` in every form a trunk sends it.

    ``+31317492345`` matches ``+31317492345``, ``0031317492345``,
    ``31317492345``, ``0317492345`` and ``317492345``; with ``suffix_digits``
    also the last that many digits, for trunks that deliver only those.
    """
    parsed = phonenumbers.parse(e164, None)
    country = str(parsed.country_code)
    national = e164[1 + len(country) :]
    region = phonenumbers.region_code_for_number(parsed)
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    trunk = (meta.national_prefix if meta else None) or ""
    prefixes = (
        rf"(?:(?:\+|00)?{country}|{re.escape(trunk)})?"
        if trunk
        else (rf"(?:(?:\+|00)?{country})?")
    )
    if 0 < suffix_digits < len(national):
        head, tail = national[:-suffix_digits], national[-suffix_digits:]
        return rf"^(?:{prefixes}{re.escape(head)})?{re.escape(tail)}$"
    return rf"^{prefixes}{re.escape(national)}$"


def slug(text: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned or "queue"


def _area_of(number: str | None) -> str | None:
    """The E.164 prefix of a number's geographic area (``+31317``)."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    length = phonenumbers.length_of_geographical_area_code(parsed)
    if not length:
        return None
    national = str(parsed.national_number)
    return f"+{parsed.country_code}{national[:length]}"


# --- the cache ----------------------------------------------------------------

_CACHES: weakref.WeakSet[ViewCache] = weakref.WeakSet()


def invalidate_all() -> None:
    """Drop every cached view of this process (after a publish)."""
    for cache in list(_CACHES):
        cache.invalidate()


class ViewCache:
    """The current :class:`ConfigView` of a store, rebuilt after a publish.

    ``recheck_seconds`` bounds how long a process that missed the
    notification keeps answering from an older revision: after that the
    latest revision id is read again (one small query) and compared.
    """

    def __init__(
        self, store: Store, settings: Settings, *, recheck_seconds: float = 5.0
    ) -> None:
        self.store = store
        self.settings = settings
        self.recheck_seconds = recheck_seconds
        self._view: ConfigView | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        _CACHES.add(self)

    def current(self) -> ConfigView:
        view = self._view
        if view is not None and time.monotonic() - self._checked_at < (
            self.recheck_seconds
        ):
            return view
        with self._lock:
            return self._refresh()

    def _refresh(self) -> ConfigView:
        view = self._view
        now = time.monotonic()
        if view is not None and now - self._checked_at < self.recheck_seconds:
            return view
        with self.store.session() as session:
            latest = latest_revision_id(session)
            if view is None or view.revision_id != latest:
                view = build(session, self.settings, latest)
                log.info("configuration view loaded at revision %s", latest)
        self._view = view
        self._checked_at = now
        return view

    def invalidate(self) -> None:
        self._checked_at = 0.0
        self._view = None


def latest_revision_id(session: Session) -> int | None:
    return session.scalar(select(func.max(m.ConfigRevision.id)))
