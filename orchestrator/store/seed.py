"""The demo organisation: a municipality with a contact centre and on-call team.

Modelled on a Dutch municipality: a main number answered by a menu, a DID
block of 7 x 100 numbers, a contact centre queue ("KCC"), departments with
hunt groups, an on-call ("piket") team and some dozens of staff with desk
phones and mobiles. Everything is derived from a fixed random seed so that
every demo and every test sees the same organisation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator import settings as settings_mod
from orchestrator.store import models as m
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

AREA = "+31317"
BLOCK_START = 492300  # 0317 49 2300 - 2999
DEMO_PASSWORD = "schakel-demo"

FIRST_NAMES = [
    "Anna",
    "Bram",
    "Carla",
    "Daan",
    "Eva",
    "Femke",
    "Gijs",
    "Hanneke",
    "Ilse",
    "Jeroen",
    "Karin",
    "Lars",
    "Marieke",
    "Niels",
    "Olga",
    "Pieter",
    "Quinten",
    "Roos",
    "Sander",
    "Tessa",
    "Ulrike",
    "Vincent",
    "Wouter",
    "Xandra",
    "Yara",
    "Zoë",
    "Ahmed",
    "Fatima",
    "Mehmet",
    "Ayşe",
    "Sean",
    "Liam",
]
LAST_NAMES = [
    "de Vries",
    "Jansen",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "Yılmaz",
    "El Amrani",
    "Kaya",
    "O'Brien",
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


DEMO_LOGINS = [
    DemoLogin("beheer", DEMO_PASSWORD, "admin"),
    DemoLogin("supervisor", DEMO_PASSWORD, "supervisor"),
    DemoLogin("anna", DEMO_PASSWORD, "agent"),
    DemoLogin("karin", DEMO_PASSWORD, "user"),
]


def did(n: int) -> str:
    return f"{AREA}{BLOCK_START + n}"


def is_empty(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(m.User)) == 0


def load_demo(session: Session, *, users: int = 48) -> None:
    """Fill an empty store with the demo organisation."""
    rnd = random.Random(3174923)
    hasher = PasswordHasher()

    classes = _traffic_classes(session)
    profiles = _profiles(session, classes)
    session.add(
        m.Organisation(
            name="Gemeente Voorbeeldstad",
            main_number=did(0),
            default_traffic_class_id=classes["nationaal"].id,
            extension_ranges="2000-2999",
        )
    )
    for hundred in range(7):
        session.add(
            m.NumberBlock(
                first=did(hundred * 100), size=100, label=f"DID-blok {hundred + 1}"
            )
        )
    session.add(m.NumberBlock(first="+31317499000", size=1, label="Los nummer Piket"))

    office = _office_hours(session)
    prompts = _announcements(session)
    staff = _users(session, rnd, hasher, profiles, users)
    session.flush()
    supervisor = session.scalars(
        select(m.User).where(m.User.username == "supervisor")
    ).one()

    kcc = m.Queue(
        name="KCC",
        number=did(400),
        extension="2400",
        schedule_id=office.id,
        welcome_announcement_id=prompts["welkom"].id,
        periodic_announcement_id=prompts["wachtrij"].id,
        caller_id_number=did(0),
        display_prefix="KCC",
        # Callers who waited too long leave a message for the supervisor.
        overflow_type=m.TargetType.VOICEMAIL,
        overflow_id=supervisor.id,
    )
    kcc.agents = [m.QueueAgent(user=u, level=1) for u in staff[:10]]
    session.add(kcc)

    departments = [
        ("Burgerzaken", 500, m.HuntStrategy.LINEAR, staff[10:15]),
        ("Vergunningen", 510, m.HuntStrategy.CYCLIC, staff[15:20]),
        ("Servicedesk ICT", 520, m.HuntStrategy.SIMULTANEOUS, staff[20:24]),
        ("Financiën", 530, m.HuntStrategy.SIMULTANEOUS, staff[24:28]),
    ]
    groups = []
    for name, n, strategy, members in departments:
        group = m.HuntGroup(
            name=name,
            number=did(n),
            extension=str(2000 + n),
            strategy=strategy,
            member_ring_seconds=15,
            no_answer_seconds=30,
            caller_id_number=did(n),
            display_prefix=name,
        )
        group.members = [
            m.HuntGroupMember(user=u, position=i, logged_in=True)
            for i, u in enumerate(members)
        ]
        session.add(group)
        groups.append(group)
    session.flush()
    # Unanswered department calls go to the contact centre.
    for group in groups[:2]:
        group.fallback_type = m.TargetType.QUEUE
        group.fallback_id = kcc.id
    groups[2].fallback_type = m.TargetType.VM_OR_QUEUE
    groups[2].fallback_id = kcc.id
    groups[3].fallback_type = m.TargetType.HUNT_GROUP
    groups[3].fallback_id = groups[0].id

    piket = m.OnCallGroup(
        name="Piket Buitendienst",
        number="+31317499000",
        extension="2900",
        ring_seconds=30,
    )
    piket.members = [
        m.OnCallMember(user=u, position=i, logged_in=i == 0)
        for i, u in enumerate(staff[28:32])
    ]
    session.add(piket)

    menu = m.IvrMenu(
        name="Hoofdmenu",
        number=did(0),
        extension="2300",
        greeting_id=prompts["hoofdmenu"].id,
        invalid_id=prompts["ongeldig"].id,
        schedule_id=office.id,
        default_type=m.TargetType.QUEUE,
        default_id=kcc.id,
    )
    session.add(menu)
    session.flush()
    menu.options = [
        m.IvrOption(
            digits="1",
            label="Burgerzaken",
            target_type="hunt_group",
            target_id=groups[0].id,
        ),
        m.IvrOption(
            digits="2",
            label="Vergunningen",
            target_type="hunt_group",
            target_id=groups[1].id,
        ),
        m.IvrOption(
            digits="3", label="Overige vragen", target_type="queue", target_id=kcc.id
        ),
    ]
    session.add(
        m.InboundNumber(
            number=did(0),
            label="Hoofdnummer",
            is_main=True,
            target_type=m.TargetType.IVR,
            target_id=menu.id,
            schedule_id=office.id,
            closed_target_type=m.TargetType.ANNOUNCEMENT,
            closed_target_id=prompts["gesloten"].id,
        )
    )
    _phonebook(session)


def _traffic_classes(session: Session) -> dict[str, m.TrafficClass]:
    classes = {
        "intern": m.TrafficClass(name="Intern", allow_special=False),
        "nationaal": m.TrafficClass(
            name="Nationaal", allow_national=True, allow_mobile=True
        ),
        "internationaal": m.TrafficClass(
            name="Internationaal",
            allow_national=True,
            allow_mobile=True,
            allow_international=True,
        ),
        "alles": m.TrafficClass(
            name="Alles",
            allow_national=True,
            allow_mobile=True,
            allow_international=True,
            allow_premium=True,
        ),
    }
    session.add_all(classes.values())
    session.flush()
    return classes


def _profiles(
    session: Session, classes: dict[str, m.TrafficClass]
) -> dict[str, m.Profile]:
    profiles = {
        "bureau": m.Profile(name="Bureautoestel", traffic_class=classes["intern"]),
        "eindgebruiker": m.Profile(
            name="Eindgebruiker", traffic_class=classes["nationaal"]
        ),
        "piket": m.Profile(name="Piketgebruiker", traffic_class=classes["nationaal"]),
        "cx": m.Profile(name="CX-gebruiker", traffic_class=classes["internationaal"]),
    }
    session.add_all(profiles.values())
    session.flush()
    return profiles


def _office_hours(session: Session) -> m.TimeSchedule:
    schedule = m.TimeSchedule(name="Kantoortijden", holidays_country="NL")
    schedule.rules = [
        m.TimeRule(weekdays="1-4", opens="08:30", closes="17:00"),
        m.TimeRule(weekdays="5", opens="08:30", closes="12:30"),
    ]
    schedule.exceptions = [
        m.TimeException(
            day=dt.date(2026, 12, 24), label="Kerstavond", opens="08:30", closes="15:00"
        ),
    ]
    session.add(schedule)
    session.flush()
    return schedule


def _announcements(session: Session) -> dict[str, m.Announcement]:
    texts = {
        "welkom": "Welkom bij de gemeente. Een ogenblik geduld alstublieft.",
        "wachtrij": "Alle medewerkers zijn in gesprek. U wordt zo spoedig mogelijk geholpen.",
        "hoofdmenu": "Kies 1 voor Burgerzaken, 2 voor Vergunningen, 3 voor overige vragen.",
        "ongeldig": "Deze keuze is niet geldig.",
        "gesloten": "Wij zijn gesloten. Wij zijn op werkdagen bereikbaar van half negen tot vijf uur.",
        "niet-bereikbaar": "Deze medewerker is niet bereikbaar. U wordt doorverbonden met het KCC.",
    }
    prompts = {
        key: m.Announcement(
            name=key,
            path=f"schakel/nl/{key}.wav",
            text=text,
            duration_ms=len(text) * 70,
        )
        for key, text in texts.items()
    }
    session.add_all(prompts.values())
    session.flush()
    return prompts


def _users(
    session: Session,
    rnd: random.Random,
    hasher: PasswordHasher,
    profiles: dict[str, m.Profile],
    count: int,
) -> list[m.User]:
    demo_hash = hasher.hash(DEMO_PASSWORD)
    special = {login.username: login for login in DEMO_LOGINS}
    staff: list[m.User] = []
    used: set[str] = set()
    for i in range(count):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last = LAST_NAMES[rnd.randrange(len(LAST_NAMES))]
        username = first.lower().replace("ë", "e").replace("ş", "s")
        if username in used:
            username = f"{username}{i}"
        used.add(username)
        n = 1 + i
        profile = (
            profiles["cx"]
            if i < 10
            else profiles["piket"]
            if 28 <= i < 32
            else profiles["eindgebruiker"]
        )
        roles = ["agent"] if i < 10 else ["user"]
        user = m.User(
            username=username,
            name=f"{first} {last}",
            email=f"{username}@voorbeeldstad.nl",
            did=did(n),
            extension=str(2300 + n),
            mobile=f"+3161{rnd.randrange(10**7):07d}",
            roles=roles,
            profile=profile,
            voicemail_pin=f"{rnd.randrange(10**4):04d}",
            password_hash=demo_hash if username in special else None,
        )
        user.devices = [
            m.Device(
                kind=m.DeviceKind.DESK,
                sip_user=str(2300 + n),
                sip_password=_secret(rnd),
                label="Bureautoestel",
                pickup_group="kcc" if i < 10 else f"afdeling{i // 5}",
            ),
            m.Device(
                kind=m.DeviceKind.APP,
                sip_user=f"{2300 + n}-app",
                sip_password=_secret(rnd),
                label="Telefonie-app",
            ),
        ]
        staff.append(user)
    session.add_all(staff)

    admin = m.User(
        username="beheer",
        name="Functioneel Beheer",
        email="beheer@voorbeeldstad.nl",
        roles=["admin"],
        password_hash=demo_hash,
    )
    supervisor = m.User(
        username="supervisor",
        name="Sanne Supervisor",
        email="supervisor@voorbeeldstad.nl",
        roles=["supervisor", "agent"],
        extension="2399",
        password_hash=demo_hash,
        profile=profiles["cx"],
    )
    supervisor.devices = [
        m.Device(
            kind="softphone",
            sip_user="2399",
            sip_password=_secret(rnd),
            label="Softphone",
        )
    ]
    session.add_all([admin, supervisor])
    return staff


def _phonebook(session: Session) -> None:
    session.add_all(
        [
            m.PhonebookEntry(
                name="Provincie Gelderland", number="+31263599999", company="Provincie"
            ),
            m.PhonebookEntry(name="Waterschap Vallei en Veluwe", number="+31555272911"),
            m.PhonebookEntry(
                name="Politie niet-spoed", number="+31900884", company="Politie"
            ),
            m.PhonebookEntry(
                name="Jan de Aannemer", number="+31612345678", company="Bouwbedrijf"
            ),
        ]
    )


def _secret(rnd: random.Random) -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(rnd.choice(alphabet) for _ in range(16))


def seed(
    store: Store, *, force: bool = False, settings: settings_mod.Settings | None = None
) -> bool:
    """Load the demo organisation unless the store already has users.

    It is published like any change: validated, and stored as the first
    configuration revision.
    """
    from orchestrator.config.revisions import publish

    with store.session() as session:
        if not is_empty(session) and not force:
            log.info("store already has users; demo organisation not loaded")
            return False
    publish(store, "seed", "Demo organisation loaded", load_demo, settings=settings)
    log.info("demo organisation loaded")
    return True


def cli(args: argparse.Namespace) -> int:
    cfg = settings_mod.load(args.config)
    store = Store(cfg.database_url)
    store.upgrade()
    seed(store, force=args.force, settings=cfg)
    return 0
