"""The organisation's telephony configuration, and the records kept about calls.

Configuration tables (users, numbers, groups, queues, menus, schedules ...)
are what an admin edits and what a revision snapshots; they all derive from
:class:`ConfigBase` so that the revision code can find them. Records (the event
log, call history, voicemail messages) derive from :class:`Base` only and are
never part of a revision.

Numbers are stored normalised to E.164 (``+31317492345``); internal short
extensions are stored as plain digits. Validation that needs more than one row
(a DID used twice, a reference that does not resolve) lives in
:mod:`orchestrator.config.validate`; what a single column must look like is
checked here by ``@validates`` so that no code path can store garbage.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    validates,
)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SHORT = re.compile(r"^\d{2,6}$")


class StoreError(ValueError):
    """A value that the store refuses, with the field it concerns."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class ConfigBase(Base):
    """Tables that make up the published configuration."""

    __abstract__ = True

    # A human label used in messages, e.g. "hunt group 'Burgerzaken'".
    kind_label = "item"


def _check_e164(field: str, value: str | None, *, optional: bool = True) -> str | None:
    if value is None or value == "":
        if optional:
            return None
        raise StoreError(field, "a number is required")
    if not E164.match(value):
        raise StoreError(field, f"{value!r} is not a normalised (E.164) number")
    return value


def _check_short(field: str, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not SHORT.match(value):
        raise StoreError(field, f"{value!r} is not an internal extension (2-6 digits)")
    return value


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    USER = "user"


class Organisation(ConfigBase):
    """The one organisation this installation serves."""

    __tablename__ = "organisation"
    kind_label = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The main number callers know; routed like any other inbound number.
    main_number: Mapped[str | None] = mapped_column(String(16))
    # Presented on outbound calls when a policy says "main number".
    default_traffic_class_id: Mapped[int | None] = mapped_column(
        ForeignKey("traffic_classes.id", ondelete="SET NULL")
    )
    music_on_hold: Mapped[str] = mapped_column(
        String(200), default="local_stream://moh"
    )
    # Internal extensions allowed, e.g. "2000-2999,7000-7099"; empty: any.
    extension_ranges: Mapped[str] = mapped_column(String(200), default="")

    @validates("main_number")
    def _v_main(self, key: str, value: str | None) -> str | None:
        return _check_e164(key, value)

    @validates("extension_ranges")
    def _v_ranges(self, key: str, value: str | None) -> str:
        parse_ranges(value or "", key)
        return value or ""

    def extension_allowed(self, extension: str) -> bool:
        ranges = parse_ranges(self.extension_ranges or "")
        if not ranges:
            return True
        return any(
            len(low) == len(extension) and int(low) <= int(extension) <= int(high)
            for low, high in ranges
        )


def parse_ranges(text: str, field: str = "extension_ranges") -> list[tuple[str, str]]:
    """``"2000-2999,7000"`` as pairs of equally long digit strings."""
    ranges = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        low, _, high = item.partition("-")
        high = high or low
        if not (SHORT.match(low) and SHORT.match(high)) or len(low) != len(high):
            raise StoreError(field, f"{item!r} is not a range like 2000-2999")
        if int(low) > int(high):
            raise StoreError(field, f"{item!r} ends before it starts")
        ranges.append((low, high))
    return ranges


class TrafficClass(ConfigBase):
    """Which kinds of external number a profile or user may call."""

    __tablename__ = "traffic_classes"
    kind_label = "traffic class"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    allow_national: Mapped[bool] = mapped_column(default=False)
    allow_mobile: Mapped[bool] = mapped_column(default=False)
    allow_international: Mapped[bool] = mapped_column(default=False)
    allow_premium: Mapped[bool] = mapped_column(default=False)
    # Free-phone (0800) and service numbers; emergency numbers are always allowed.
    allow_special: Mapped[bool] = mapped_column(default=True)
    # Toll-fraud bound: longest external call in minutes, 0 for no limit.
    max_call_minutes: Mapped[int] = mapped_column(default=0)


class Profile(ConfigBase):
    """A kind of user (desk phone, end user, on-call, CX agent) with its rights."""

    __tablename__ = "profiles"
    kind_label = "profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    traffic_class_id: Mapped[int | None] = mapped_column(
        ForeignKey("traffic_classes.id", ondelete="RESTRICT")
    )
    traffic_class: Mapped[TrafficClass | None] = relationship()


class CallerIdPolicy(enum.StrEnum):
    DID = "did"
    MAIN = "main"
    GROUP = "group"


class User(ConfigBase):
    __tablename__ = "users"
    kind_label = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    did: Mapped[str | None] = mapped_column(String(16), unique=True)
    extension: Mapped[str | None] = mapped_column(String(6), unique=True)
    mobile: Mapped[str | None] = mapped_column(String(16))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    entra_object_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="RESTRICT")
    )
    # Overrides the profile's class when set.
    traffic_class_id: Mapped[int | None] = mapped_column(
        ForeignKey("traffic_classes.id", ondelete="RESTRICT")
    )
    caller_id_policy: Mapped[str] = mapped_column(String(8), default=CallerIdPolicy.DID)
    # The group number presented when the policy is "group".
    caller_id_group_number: Mapped[str | None] = mapped_column(String(16))
    # May present the private mobile number on calls from the mobile.
    private_mobile_cli: Mapped[bool] = mapped_column(default=False)
    # Ring the mobile with the desk phone ("one number"): off, together, after N s.
    one_number: Mapped[str] = mapped_column(String(12), default="off")
    one_number_delay: Mapped[int] = mapped_column(default=0)
    ring_seconds: Mapped[int] = mapped_column(default=20)
    voicemail_enabled: Mapped[bool] = mapped_column(default=True)
    voicemail_pin: Mapped[str | None] = mapped_column(String(12))
    voicemail_to_email: Mapped[bool] = mapped_column(default=True)
    dnd: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(String(5), default="nl")
    # Local sign-in for installations without Entra ID (argon2 hash).
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)

    profile: Mapped[Profile | None] = relationship()
    traffic_class: Mapped[TrafficClass | None] = relationship()
    devices: Mapped[list[Device]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Device.id"
    )
    forwards: Mapped[list[CallForward]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="CallForward.id"
    )

    @validates("did", "mobile", "caller_id_group_number")
    def _v_numbers(self, key: str, value: str | None) -> str | None:
        return _check_e164(key, value)

    @validates("extension")
    def _v_ext(self, key: str, value: str | None) -> str | None:
        return _check_short(key, value)

    @validates("caller_id_policy")
    def _v_policy(self, key: str, value: str) -> str:
        if value not in {p.value for p in CallerIdPolicy}:
            raise StoreError(key, f"{value!r} is not one of did, main, group")
        return value

    @validates("one_number")
    def _v_one_number(self, key: str, value: str) -> str:
        if value not in {"off", "together", "after"}:
            raise StoreError(key, f"{value!r} is not one of off, together, after")
        return value

    @validates("roles")
    def _v_roles(self, key: str, value: list[str]) -> list[str]:
        known = {r.value for r in Role}
        for role in value:
            if role not in known:
                raise StoreError(key, f"unknown role {role!r}")
        return list(value)

    def has_role(self, role: str) -> bool:
        return role in (self.roles or [])


class DeviceKind(enum.StrEnum):
    DESK = "desk"
    SOFTPHONE = "softphone"
    APP = "app"


class Device(ConfigBase):
    """A SIP endpoint that registers: desk phone, softphone or smartphone app."""

    __tablename__ = "devices"
    kind_label = "device"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(12), default=DeviceKind.DESK)
    # The directory user id the device registers as.
    sip_user: Mapped[str] = mapped_column(String(40), unique=True)
    sip_password: Mapped[str] = mapped_column(String(80))
    label: Mapped[str | None] = mapped_column(String(80))
    mac: Mapped[str | None] = mapped_column(String(17), unique=True)
    model: Mapped[str | None] = mapped_column(String(80))
    # Desk phones in the same pickup group can answer each other's calls.
    pickup_group: Mapped[str | None] = mapped_column(String(40))

    user: Mapped[User | None] = relationship(back_populates="devices")

    @validates("sip_user")
    def _v_sip_user(self, key: str, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_.-]{2,40}$", value or ""):
            raise StoreError(key, f"{value!r} is not a valid SIP user name")
        return value

    @validates("kind")
    def _v_kind(self, key: str, value: str) -> str:
        if value not in {k.value for k in DeviceKind}:
            raise StoreError(key, f"{value!r} is not one of desk, softphone, app")
        return value


class NumberBlock(ConfigBase):
    """Numbers the carrier delivers: a contiguous block, or a single number."""

    __tablename__ = "number_blocks"
    kind_label = "number block"

    id: Mapped[int] = mapped_column(primary_key=True)
    first: Mapped[str] = mapped_column(String(16), unique=True)
    size: Mapped[int] = mapped_column(default=1)
    label: Mapped[str | None] = mapped_column(String(120))

    @validates("first")
    def _v_first(self, key: str, value: str) -> str:
        return _check_e164(key, value, optional=False) or value

    @validates("size")
    def _v_size(self, key: str, value: int) -> int:
        if not isinstance(value, int) or value < 1 or value > 10000:
            raise StoreError(key, f"{value!r} is not a block size (1 to 10000)")
        return value

    @property
    def last(self) -> str:
        return "+" + str(int(self.first[1:]) + self.size - 1)

    def __contains__(self, number: str) -> bool:
        if not number or not number.startswith("+"):
            return False
        start = int(self.first[1:])
        return (
            len(number) == len(self.first)
            and start <= int(number[1:]) < start + self.size
        )


class TargetType(enum.StrEnum):
    """Where a number, a fallback or a menu option can send a call."""

    USER = "user"
    HUNT_GROUP = "hunt_group"
    QUEUE = "queue"
    IVR = "ivr"
    ONCALL = "oncall"
    VOICEMAIL = "voicemail"
    # The menu "leave a voicemail or be put through to the contact centre".
    VM_OR_QUEUE = "vm_or_queue"
    ANNOUNCEMENT = "announcement"
    EXTERNAL = "external"
    HANGUP = "hangup"


def _check_target(
    field: str, value: str | None, *, optional: bool = True
) -> str | None:
    if value is None and optional:
        return None
    if value not in {t.value for t in TargetType}:
        raise StoreError(field, f"{value!r} is not a kind of destination")
    return value


class InboundNumber(ConfigBase):
    """A main number, group number or single number and where it leads.

    Users' own DIDs live on the user; every other number that callers dial
    from outside is a row here.
    """

    __tablename__ = "inbound_numbers"
    kind_label = "inbound number"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    label: Mapped[str | None] = mapped_column(String(120))
    is_main: Mapped[bool] = mapped_column(default=False)
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_number: Mapped[str | None] = mapped_column(String(16))
    # Outside the schedule's open hours, calls go to the closed target.
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("time_schedules.id", ondelete="RESTRICT")
    )
    closed_target_type: Mapped[str | None] = mapped_column(String(16))
    closed_target_id: Mapped[int | None] = mapped_column(Integer)

    @validates("number", "target_number")
    def _v_number(self, key: str, value: str | None) -> str | None:
        return _check_e164(key, value, optional=key != "number")

    @validates("target_type", "closed_target_type")
    def _v_target(self, key: str, value: str | None) -> str | None:
        return _check_target(key, value, optional=key != "target_type")


class HuntStrategy(enum.StrEnum):
    LINEAR = "linear"
    CYCLIC = "cyclic"
    SIMULTANEOUS = "simultaneous"


class HuntGroup(ConfigBase):
    """A department number that rings its members (not an ACD queue)."""

    __tablename__ = "hunt_groups"
    kind_label = "hunt group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    number: Mapped[str | None] = mapped_column(String(16), unique=True)
    extension: Mapped[str | None] = mapped_column(String(6), unique=True)
    strategy: Mapped[str] = mapped_column(String(12), default=HuntStrategy.SIMULTANEOUS)
    # How long each member rings (linear/cyclic), and the whole group's wait.
    member_ring_seconds: Mapped[int] = mapped_column(default=15)
    no_answer_seconds: Mapped[int] = mapped_column(default=30)
    fallback_type: Mapped[str | None] = mapped_column(String(16))
    fallback_id: Mapped[int | None] = mapped_column(Integer)
    fallback_number: Mapped[str | None] = mapped_column(String(16))
    caller_id_number: Mapped[str | None] = mapped_column(String(16))
    # Shown to members before the caller's name, e.g. "Burgerzaken".
    display_prefix: Mapped[str | None] = mapped_column(String(40))
    # Where messages left in the group's voicemail box (its extension) are
    # mailed; without one each member with an address gets them.
    email: Mapped[str | None] = mapped_column(String(200))

    members: Mapped[list[HuntGroupMember]] = relationship(
        back_populates="group",
        cascade="all, delete-orphan",
        order_by="HuntGroupMember.position",
    )

    @validates("number", "fallback_number", "caller_id_number")
    def _v_numbers(self, key: str, value: str | None) -> str | None:
        return _check_e164(key, value)

    @validates("extension")
    def _v_ext(self, key: str, value: str | None) -> str | None:
        return _check_short(key, value)

    @validates("strategy")
    def _v_strategy(self, key: str, value: str) -> str:
        if value not in {s.value for s in HuntStrategy}:
            raise StoreError(
                key, f"{value!r} is not one of linear, cyclic, simultaneous"
            )
        return value

    @validates("fallback_type")
    def _v_fallback(self, key: str, value: str | None) -> str | None:
        return _check_target(key, value)

    @validates("member_ring_seconds", "no_answer_seconds")
    def _v_seconds(self, key: str, value: int) -> int:
        if not isinstance(value, int) or not 1 <= value <= 600:
            raise StoreError(key, f"{value!r} is not a number of seconds (1 to 600)")
        return value


class HuntGroupMember(ConfigBase):
    __tablename__ = "hunt_group_members"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)
    kind_label = "hunt group member"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("hunt_groups.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    logged_in: Mapped[bool] = mapped_column(default=True)

    group: Mapped[HuntGroup] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class Queue(ConfigBase):
    """An ACD queue; the orchestrator distributes its calls over agents."""

    __tablename__ = "queues"
    kind_label = "queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    number: Mapped[str | None] = mapped_column(String(16), unique=True)
    extension: Mapped[str | None] = mapped_column(String(6), unique=True)
    strategy: Mapped[str] = mapped_column(String(24), default="longest-idle")
    max_wait_seconds: Mapped[int] = mapped_column(default=600)
    max_callers: Mapped[int] = mapped_column(default=0)
    service_level_seconds: Mapped[int] = mapped_column(default=30)
    agent_ring_seconds: Mapped[int] = mapped_column(default=15)
    wrap_up_seconds: Mapped[int] = mapped_column(default=10)
    overflow_type: Mapped[str | None] = mapped_column(String(16))
    overflow_id: Mapped[int | None] = mapped_column(Integer)
    overflow_number: Mapped[str | None] = mapped_column(String(16))
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("time_schedules.id", ondelete="RESTRICT")
    )
    welcome_announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="RESTRICT")
    )
    periodic_announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="RESTRICT")
    )
    periodic_seconds: Mapped[int] = mapped_column(default=45)
    music_on_hold: Mapped[str | None] = mapped_column(String(200))
    caller_id_number: Mapped[str | None] = mapped_column(String(16))
    # Shown to the agent before the caller's name, e.g. "KCC".
    display_prefix: Mapped[str | None] = mapped_column(String(40))

    agents: Mapped[list[QueueAgent]] = relationship(
        back_populates="queue", cascade="all, delete-orphan", order_by="QueueAgent.id"
    )

    @validates("number", "overflow_number", "caller_id_number")
    def _v_numbers(self, key: str, value: str | None) -> str | None:
        return _check_e164(key, value)

    @validates("extension")
    def _v_ext(self, key: str, value: str | None) -> str | None:
        return _check_short(key, value)

    @validates("overflow_type")
    def _v_overflow(self, key: str, value: str | None) -> str | None:
        return _check_target(key, value)


class QueueAgent(ConfigBase):
    """Which users may take a queue's calls, and at what skill level."""

    __tablename__ = "queue_agents"
    __table_args__ = (UniqueConstraint("queue_id", "user_id"),)
    kind_label = "queue agent"

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(default=1)

    queue: Mapped[Queue] = relationship(back_populates="agents")
    user: Mapped[User] = relationship()


class IvrMenu(ConfigBase):
    __tablename__ = "ivr_menus"
    kind_label = "menu"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    number: Mapped[str | None] = mapped_column(String(16), unique=True)
    extension: Mapped[str | None] = mapped_column(String(6), unique=True)
    greeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="RESTRICT")
    )
    invalid_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="RESTRICT")
    )
    timeout_seconds: Mapped[int] = mapped_column(default=5)
    max_failures: Mapped[int] = mapped_column(default=3)
    # Where the caller goes after too many failures or no choice at all.
    default_type: Mapped[str | None] = mapped_column(String(16))
    default_id: Mapped[int | None] = mapped_column(Integer)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("time_schedules.id", ondelete="RESTRICT")
    )

    options: Mapped[list[IvrOption]] = relationship(
        back_populates="menu", cascade="all, delete-orphan", order_by="IvrOption.digits"
    )

    @validates("number")
    def _v_number(self, key: str, value: str | None) -> str | None:
        return _check_e164(key, value)

    @validates("extension")
    def _v_ext(self, key: str, value: str | None) -> str | None:
        return _check_short(key, value)

    @validates("default_type")
    def _v_default(self, key: str, value: str | None) -> str | None:
        return _check_target(key, value)


class IvrOption(ConfigBase):
    __tablename__ = "ivr_options"
    __table_args__ = (UniqueConstraint("menu_id", "digits"),)
    kind_label = "menu option"

    id: Mapped[int] = mapped_column(primary_key=True)
    menu_id: Mapped[int] = mapped_column(ForeignKey("ivr_menus.id", ondelete="CASCADE"))
    digits: Mapped[str] = mapped_column(String(4))
    label: Mapped[str | None] = mapped_column(String(120))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_number: Mapped[str | None] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=True)

    menu: Mapped[IvrMenu] = relationship(back_populates="options")

    @validates("digits")
    def _v_digits(self, key: str, value: str) -> str:
        if not re.match(r"^[0-9*#]{1,4}$", value or ""):
            raise StoreError(key, f"{value!r} is not a menu choice (1-4 of 0-9 * #)")
        return value

    @validates("target_type")
    def _v_target(self, key: str, value: str) -> str | None:
        return _check_target(key, value, optional=False)

    @validates("target_number")
    def _v_number(self, key: str, value: str | None) -> str | None:
        return _check_e164(key, value)


class TimeSchedule(ConfigBase):
    """Opening hours: weekly rules, public holidays and one-off exceptions."""

    __tablename__ = "time_schedules"
    kind_label = "time schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(40), default="Europe/Amsterdam")
    # Closed on the public holidays of this country (ISO code), if set.
    holidays_country: Mapped[str | None] = mapped_column(String(2))

    rules: Mapped[list[TimeRule]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan", order_by="TimeRule.id"
    )
    exceptions: Mapped[list[TimeException]] = relationship(
        back_populates="schedule",
        cascade="all, delete-orphan",
        order_by="TimeException.day",
    )


class TimeRule(ConfigBase):
    __tablename__ = "time_rules"
    kind_label = "opening hours rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("time_schedules.id", ondelete="CASCADE")
    )
    # ISO weekdays 1 (Monday) to 7, e.g. "1-5" or "1,3,5".
    weekdays: Mapped[str] = mapped_column(String(20))
    opens: Mapped[str] = mapped_column(String(5))
    closes: Mapped[str] = mapped_column(String(5))

    schedule: Mapped[TimeSchedule] = relationship(back_populates="rules")

    @validates("opens", "closes")
    def _v_time(self, key: str, value: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", value or ""):
            raise StoreError(key, f"{value!r} is not a time of day (HH:MM)")
        return value

    @validates("weekdays")
    def _v_weekdays(self, key: str, value: str) -> str:
        if not re.match(r"^[1-7](-[1-7])?(,[1-7](-[1-7])?)*$", value or ""):
            raise StoreError(key, f"{value!r} is not a list of weekdays 1-7")
        return value


class TimeException(ConfigBase):
    __tablename__ = "time_exceptions"
    kind_label = "opening hours exception"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("time_schedules.id", ondelete="CASCADE")
    )
    day: Mapped[dt.date]
    label: Mapped[str | None] = mapped_column(String(120))
    # Empty means closed all day.
    opens: Mapped[str | None] = mapped_column(String(5))
    closes: Mapped[str | None] = mapped_column(String(5))

    schedule: Mapped[TimeSchedule] = relationship(back_populates="exceptions")


class Announcement(ConfigBase):
    __tablename__ = "announcements"
    kind_label = "announcement"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # A sound file name under the sounds directory, or a tone_stream:// spec.
    path: Mapped[str] = mapped_column(String(300))
    text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(5), default="nl")
    duration_ms: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class OnCallGroup(ConfigBase):
    """A piket team reachable on one number; at least one member stays logged in."""

    __tablename__ = "oncall_groups"
    kind_label = "on-call group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    number: Mapped[str | None] = mapped_column(String(16), unique=True)
    extension: Mapped[str | None] = mapped_column(String(6), unique=True)
    min_logged_in: Mapped[int] = mapped_column(default=1)
    ring_seconds: Mapped[int] = mapped_column(default=30)
    # Prefix on the caller's name so the phone shows it is an on-call call.
    display_prefix: Mapped[str] = mapped_column(String(40), default="PIKET")

    members: Mapped[list[OnCallMember]] = relationship(
        back_populates="group",
        cascade="all, delete-orphan",
        order_by="OnCallMember.position",
    )

    @validates("number")
    def _v_number(self, key: str, value: str | None) -> str | None:
        return _check_e164(key, value)

    @validates("extension")
    def _v_ext(self, key: str, value: str | None) -> str | None:
        return _check_short(key, value)


class OnCallMember(ConfigBase):
    __tablename__ = "oncall_members"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)
    kind_label = "on-call member"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("oncall_groups.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    logged_in: Mapped[bool] = mapped_column(default=False)

    group: Mapped[OnCallGroup] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class ForwardKind(enum.StrEnum):
    ALWAYS = "always"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNREACHABLE = "unreachable"


class CallForward(ConfigBase):
    """A user's forwarding rule for their own number."""

    __tablename__ = "call_forwards"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)
    kind_label = "forwarding"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    enabled: Mapped[bool] = mapped_column(default=True)
    # user (internal), external, mobile, voicemail, vm_or_queue
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_number: Mapped[str | None] = mapped_column(String(16))
    no_answer_seconds: Mapped[int] = mapped_column(default=20)
    # Tell the caller "not available, you are put through" first.
    announce: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(back_populates="forwards")

    @validates("kind")
    def _v_kind(self, key: str, value: str) -> str:
        if value not in {k.value for k in ForwardKind}:
            raise StoreError(
                key, f"{value!r} is not one of always, busy, no_answer, unreachable"
            )
        return value

    @validates("target_type")
    def _v_target(self, key: str, value: str) -> str | None:
        return _check_target(key, value, optional=False)

    @validates("target_number")
    def _v_number(self, key: str, value: str | None) -> str | None:
        return _check_e164(key, value)


class PhonebookEntry(ConfigBase):
    """An external contact, shown by name when they call or are called."""

    __tablename__ = "phonebook"
    kind_label = "phonebook entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(16), unique=True)
    company: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)

    @validates("number")
    def _v_number(self, key: str, value: str) -> str | None:
        return _check_e164(key, value, optional=False)


# --- records, never part of a revision -------------------------------------


class ConfigRevision(Base):
    """A published configuration: who, when, what, and the diff to the last."""

    __tablename__ = "config_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=_utcnow)
    author: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(500))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    diff: Mapped[str] = mapped_column(Text, default="")
    # Set when this revision restored an earlier one.
    restored_from: Mapped[int | None] = mapped_column(Integer)


class EventLog(Base):
    """Append-only log of what happened: calls, agents, on-call, configuration."""

    __tablename__ = "event_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=_utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    call_uuid: Mapped[str | None] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    queue_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str | None] = mapped_column(String(120))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CallRecord(Base):
    """One leg's history as a user sees it: placed, answered or missed."""

    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_uuid: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    direction: Mapped[str] = mapped_column(String(8))
    result: Mapped[str] = mapped_column(String(12))
    caller_number: Mapped[str | None] = mapped_column(String(32))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    callee_number: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[dt.datetime] = mapped_column(index=True)
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    duration_s: Mapped[int] = mapped_column(default=0)
    billsec: Mapped[int] = mapped_column(default=0)
    hangup_cause: Mapped[str | None] = mapped_column(String(40))


class VoicemailMessage(Base):
    __tablename__ = "voicemail_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # A message left in a hunt group's box: one row per member, each with
    # the group, so every member sees it and the group's mail goes once.
    hunt_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("hunt_groups.id", ondelete="SET NULL"), index=True
    )
    call_uuid: Mapped[str | None] = mapped_column(String(64))
    caller_number: Mapped[str | None] = mapped_column(String(32))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(400))
    duration_s: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=_utcnow)
    heard: Mapped[bool] = mapped_column(default=False)
    emailed: Mapped[bool] = mapped_column(default=False)


class AppendOnlyError(RuntimeError):
    """Something tried to change or remove an event log entry."""


@event.listens_for(Session, "before_flush")
def _event_log_is_append_only(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, EventLog) and (
            obj in session.deleted or session.is_modified(obj)
        ):
            raise AppendOnlyError("the event log is append-only")


def config_tables() -> list[type[ConfigBase]]:
    """Configuration models in dependency order (parents first)."""
    return [
        mapper.class_
        for table in Base.metadata.sorted_tables
        for mapper in Base.registry.mappers
        if mapper.local_table is table and issubclass(mapper.class_, ConfigBase)
    ]
