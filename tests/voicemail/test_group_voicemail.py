"""Messages left in a hunt group's box: kept for each member, mailed once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.calls.records import RecordWriter
from orchestrator.esl.events import Event
from orchestrator.esl.fake import FakeGateway
from orchestrator.mail import Mailer
from orchestrator.store import models as m
from orchestrator.store.db import Store
from orchestrator.voicemail import AUDIO_GRACE_S, VoicemailService

BOX = "2520"
LEFT_AT = 1796315185
SWITCH_FILE = (
    "/usr/local/freeswitch/var/lib/freeswitch/storage/voicemail/default/"
    f"pbx.local/{BOX}/msg_0b7c0e43-2a4c-4f5e-a3f2-3d7c5f1e9a10.wav"
)


@pytest.fixture
def store(settings) -> Store:
    store = Store(settings.database_url)
    m.Base.metadata.create_all(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def group(store) -> dict[str, int]:
    """Servicedesk (box 2520): ulrike (Dutch), vera (English), wim (no mail)."""
    ids = {}
    with store.session() as session:
        members = []
        for n, (username, language, email) in enumerate(
            [
                ("ulrike", "nl", "ulrike@voorbeeld.nl"),
                ("vera", "en", "vera@voorbeeld.nl"),
                ("wim", "nl", None),
            ],
            start=21,
        ):
            user = m.User(
                username=username,
                name=username.capitalize(),
                email=email,
                extension=f"23{n}",
                language=language,
                # A member's own setting is about their own box.
                voicemail_to_email=False,
            )
            user.devices = [m.Device(sip_user=f"23{n}", sip_password="x" * 12)]
            session.add(user)
            members.append(user)
        group = m.HuntGroup(name="Servicedesk", extension=BOX)
        group.members = [
            m.HuntGroupMember(user=user, position=i) for i, user in enumerate(members)
        ]
        session.add(group)
        session.flush()
        ids = {user.username: user.id for user in members}
        ids["group"] = group.id
    return ids


def left(box: str = BOX) -> Event:
    return Event(
        {
            "Event-Name": "CUSTOM",
            "Event-Subclass": "vm::maintenance",
            "VM-Action": "leave-message",
            "VM-User": box,
            "VM-Domain": "pbx.local",
            "VM-Caller-ID-Name": "Beller",
            "VM-Caller-ID-Number": "0201234567",
            "VM-File-Path": SWITCH_FILE,
            "VM-UUID": "0b7c0e43-2a4c-4f5e-a3f2-3d7c5f1e9a10",
            "VM-Message-Len": "7",
            "VM-Timestamp": str(LEFT_AT),
        }
    )


def audio_on_disk(settings) -> Path:
    path = Path(settings.voicemail_dir).joinpath(*Path(SWITCH_FILE).parts[-4:])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")
    return path


def service(store, settings, smtp_port: int, gateway=None) -> VoicemailService:
    writer = RecordWriter(store)
    mailer = Mailer("127.0.0.1", smtp_port, "voicemail@schakel.test", timeout=5)
    vm = VoicemailService(store, writer, settings, mailer=mailer, gateway=gateway,
                          clock=lambda: LEFT_AT + 2 * AUDIO_GRACE_S)  # fmt: skip
    vm.handle(left())
    writer.flush()
    return vm


def test_every_member_sees_the_message(store, group, settings, free_port):
    vm = service(store, settings, free_port)
    for name in ("ulrike", "vera", "wim"):
        (message,) = vm.messages(group[name])
        assert (message.caller_number, message.duration_s) == ("+31201234567", 7)
    with store.session() as session:
        rows = session.scalars(select(m.VoicemailMessage.hunt_group_id)).all()
    assert rows == [group["group"]] * 3


def test_without_a_group_address_each_member_with_one_gets_it(
    store, group, settings, smtp_server
):
    audio_on_disk(settings)
    vm = service(store, settings, smtp_server.port)
    assert vm.mail_pending() == 2
    mails = {mail.rcpt_to[0]: mail.message for mail in smtp_server.wait_for(2)}
    assert set(mails) == {"ulrike@voorbeeld.nl", "vera@voorbeeld.nl"}
    assert mails["ulrike@voorbeeld.nl"]["Subject"].startswith("Nieuw voicemailbericht")
    assert mails["vera@voorbeeld.nl"]["Subject"].startswith("New voicemail")
    assert vm.mail_pending() == 0


def test_a_group_address_gets_one_mail_in_dutch(store, group, settings, smtp_server):
    with store.session() as session:
        session.get(m.HuntGroup, group["group"]).email = "servicedesk@voorbeeld.nl"
    audio_on_disk(settings)
    vm = service(store, settings, smtp_server.port)
    assert vm.mail_pending() == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_to == ["servicedesk@voorbeeld.nl"]
    assert mail.message["Subject"].startswith("Nieuw voicemailbericht")
    assert "Beste Servicedesk" in mail.message.get_body(("plain",)).get_content()
    # Every member's copy went with that one mail.
    assert all(vm.messages(group[name])[0].emailed for name in ("ulrike", "vera"))
    assert vm.mail_pending() == 0


def test_deleting_one_copy_keeps_the_others(store, group, settings, free_port):
    gateway = FakeGateway()
    path = audio_on_disk(settings)
    vm = service(store, settings, free_port, gateway)
    (ulrike,) = vm.messages(group["ulrike"])
    vm.delete(group["ulrike"], ulrike.id)
    assert path.exists() and gateway.sent == []
    assert len(vm.messages(group["vera"])) == 1

    (vera,) = vm.messages(group["vera"])
    vm.delete(group["vera"], vera.id)
    (wim,) = vm.messages(group["wim"])
    vm.delete(group["wim"], wim.id)
    # The last copy: the switch forgets the message, the file goes.
    assert not path.exists()
    assert [s.line for s in gateway.sent if s.line.startswith("vm_delete")] == [
        f"vm_delete {BOX}@pbx.local 0b7c0e43-2a4c-4f5e-a3f2-3d7c5f1e9a10"
    ]


def test_a_phone_with_the_same_id_keeps_its_own_box(store, group, settings):
    # Validation refuses the clash; a message for it still finds the phone.
    with store.session() as session:
        session.get(m.HuntGroup, group["group"]).extension = "2321"
    writer = RecordWriter(store)
    vm = VoicemailService(store, writer, settings)
    vm.handle(left("2321"))
    writer.flush()
    with store.session() as session:
        rows = session.scalars(select(m.VoicemailMessage)).all()
    assert [(row.user_id, row.hunt_group_id) for row in rows] == [
        (group["ulrike"], None)
    ]
