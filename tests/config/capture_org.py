"""An organisation matching what the FreeSWITCH captures asked for.

Domain 127.0.0.1; users 1001-1003 with the captures' passwords; the trunk
delivers the last four digits of a DID (the captures dialled 3100, 3800 ...),
each of which leads where the capture's own dialplan sent the call.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from orchestrator.store import models as m

CAPTURE_SETTINGS = {"sip_domain": "127.0.0.1", "trunk_did_digits": 4}
BLOCK = "+31317493000"

# What the capture's xml_curl server served for each user.
PASSWORDS = {"1001": "cap1001-Q7vLr2", "1002": "cap1002-M4xTz8", "1003": "cap1003-Z9"}
VM_PINS = {"1001": "860142", "1002": "860242", "1003": "860342"}


def number(tail: str) -> str:
    """The DID whose last four digits the trunk sends as ``tail``."""
    return f"+3131749{tail}"


def load_capture_org(session: Session) -> None:
    session.add(
        m.Organisation(
            name="Captures", main_number=number("3100"), extension_ranges="1000-1999"
        )
    )
    session.add(m.NumberBlock(first=BLOCK, size=1000, label="captures"))
    users = {}
    for ext, did in (("1001", "3100"), ("1002", "3800"), ("1003", None)):
        user = m.User(
            username=f"capture{ext}",
            name=f"Capture {ext}",
            email=f"capture{ext}@example.org",
            did=number(did) if did else None,
            extension=ext,
            voicemail_pin=VM_PINS[ext],
        )
        user.devices = [
            m.Device(sip_user=ext, sip_password=PASSWORDS[ext], pickup_group="captures")
        ]
        users[ext] = user
    session.add_all(users.values())
    session.flush()

    capq = m.Queue(name="capq", number=number("3600"), extension="1600")
    capq.agents = [m.QueueAgent(user=users["1001"], level=1)]
    park = m.Queue(name="Park", number=number("3299"), extension="1299")
    menu = m.IvrMenu(name="Capture menu", number=number("3400"), extension="1400")
    piket = m.OnCallGroup(name="Capture piket", number=number("3301"))
    piket.members = [m.OnCallMember(user=users["1003"], logged_in=True)]
    session.add_all([capq, park, menu, piket])
    session.flush()

    for tail, member in (("3200", "1001"), ("3201", "1001")):
        group = m.HuntGroup(
            name=f"Capture group {tail}",
            number=number(tail),
            no_answer_seconds=5,
            fallback_type="queue",
            fallback_id=park.id,
        )
        group.members = [m.HuntGroupMember(user=users[member], position=0)]
        session.add(group)
    inbound = [
        ("3202", "user", users["1002"].id),
        ("3300", "queue", park.id),
        ("3500", "user", users["1001"].id),
        ("3700", "voicemail", users["1001"].id),
    ]
    for tail, kind, target_id in inbound:
        session.add(
            m.InboundNumber(
                number=number(tail), label=tail, target_type=kind, target_id=target_id
            )
        )
