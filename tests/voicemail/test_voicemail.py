"""Voicemail: messages from the switch's events, listed and mailed."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.calls.history import call_list
from orchestrator.calls.records import RecordWriter
from orchestrator.esl.events import Event, decode_json
from orchestrator.esl.fake import FakeGateway
from orchestrator.mail import Mailer, MailUnavailable
from orchestrator.store import models as m
from orchestrator.store.db import Store
from orchestrator.voicemail import (
    AUDIO_GRACE_S,
    GreetingInvalid,
    MessageNotFound,
    SwitchUnavailable,
    VoicemailService,
)

MESSAGE_UUID = "6497e200-7e4e-46ed-89a0-c1e04439a2b4"
SWITCH_FILE = (
    "/usr/local/freeswitch/var/lib/freeswitch/storage/voicemail/default/"
    "127.0.0.1/1001/msg_832a69a0-5932-45bf-ac9d-08198619a659.wav"
)
# VM-Timestamp of the capture, and a moment well after it.
LEFT_AT = 1796315185
LATER = LEFT_AT + 2 * AUDIO_GRACE_S


def tone_wav(seconds: float = 0.5, hz: int = 440) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        frames = int(8000 * seconds)
        wav.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / 8000)))
                for i in range(frames)
            )
        )
    return out.getvalue()


@pytest.fixture
def store(settings) -> Store:
    store = Store(settings.database_url)
    m.Base.metadata.create_all(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def users(store) -> dict[str, int]:
    """anna's box is 1001 (Dutch), carla's 1003 (English); bram has no e-mail."""
    ids = {}
    with store.session() as session:
        for n, (username, language, email) in enumerate(
            [
                ("anna", "nl", "anna@voorbeeld.nl"),
                ("bram", "nl", None),
                ("carla", "en", "carla@voorbeeld.nl"),
            ],
            start=1,
        ):
            user = m.User(
                username=username,
                name=username.capitalize() + " de Vries",
                email=email,
                extension=f"20{n:02d}",
                language=language,
            )
            user.devices = [m.Device(sip_user=f"100{n}", sip_password="x" * 12)]
            session.add(user)
            session.flush()
            ids[username] = user.id
    return ids


@pytest.fixture
def left_message(captures_dir: Path) -> Event:
    """The switch's ``vm::maintenance`` leave-message event of capture 09."""
    lines = (captures_dir / "09-voicemail" / "events.jsonl").read_bytes().splitlines()
    events = [decode_json(line) for line in lines]
    (event,) = [
        e
        for e in events
        if e.key == "vm::maintenance" and e.get("VM-Action") == "leave-message"
    ]
    return event


def for_box(event: Event, box: str) -> Event:
    headers = dict(event.headers)
    headers["VM-User"] = box
    headers["VM-File-Path"] = SWITCH_FILE.replace("/1001/", f"/{box}/")
    return Event(headers)


def audio_on_disk(settings, box: str = "1001") -> bytes:
    """The recording where the switch left it, as the orchestrator sees it."""
    data = tone_wav()
    relative = Path(SWITCH_FILE.replace("/1001/", f"/{box}/")).parts[-4:]
    path = Path(settings.voicemail_dir).joinpath(*relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


def service(store, settings, smtp_port: int, gateway=None, now=LATER):
    writer = RecordWriter(store)
    mailer = Mailer("127.0.0.1", smtp_port, "voicemail@schakel.test", timeout=5)
    vm = VoicemailService(
        store, writer, settings, mailer=mailer, gateway=gateway, clock=lambda: now
    )
    return vm, writer


def test_left_message_is_stored_and_counts_as_missed(
    store, users, settings, left_message, free_port
):
    vm, writer = service(store, settings, free_port)
    vm.handle(left_message)
    writer.flush()

    (message,) = vm.messages(users["anna"])
    assert message.caller_number == "+31201234567"
    assert message.caller_name == "Capture Caller"
    assert message.duration_s == 4
    assert (message.heard, message.emailed) == (False, False)
    assert message.created_at.timestamp() == LEFT_AT
    with store.session() as session:
        (missed,) = call_list(session, users["anna"], kind="missed")
        logged = session.scalars(select(m.EventLog.kind)).all()
    assert missed.call_uuid == MESSAGE_UUID
    assert missed.number == "+31201234567"
    assert logged == ["voicemail.left"]


def test_the_same_event_twice_is_one_message(
    store, users, settings, left_message, free_port
):
    vm, writer = service(store, settings, free_port)
    vm.handle(left_message)
    vm.handle(left_message)
    writer.flush()
    assert len(vm.messages(users["anna"])) == 1


def test_message_is_mailed_in_dutch_with_the_audio(
    store, users, settings, left_message, smtp_server
):
    audio = audio_on_disk(settings)
    vm, writer = service(store, settings, smtp_server.port)
    vm.handle(left_message)
    writer.flush()

    assert vm.mail_pending() == 1

    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_to == ["anna@voorbeeld.nl"]
    message = mail.message
    assert message["Subject"] == (
        "Nieuw voicemailbericht van Capture Caller (020 123 4567)"
    )
    body = message.get_body(("plain",)).get_content()
    assert "Beste Anna de Vries" in body
    assert "3 december 2026 om 17:26" in body  # Amsterdam time
    assert "(4 seconden)" in body
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == Path(SWITCH_FILE).name
    assert attachment.get_content_maintype() == "audio"
    assert attachment.get_content() == audio
    (listed,) = vm.messages(users["anna"])
    assert listed.emailed is True
    assert vm.mail_pending() == 0


def test_english_for_a_user_who_chose_english(
    store, users, settings, left_message, smtp_server
):
    audio = audio_on_disk(settings, "1003")
    vm, writer = service(store, settings, smtp_server.port)
    vm.handle(for_box(left_message, "1003"))
    writer.flush()
    vm.mail_pending()

    (mail,) = smtp_server.wait_for(1)
    assert mail.message["Subject"] == "New voicemail from Capture Caller (020 123 4567)"
    body = mail.message.get_body(("plain",)).get_content()
    assert "Dear Carla de Vries" in body
    assert "3 December 2026 at 17:26" in body
    (attachment,) = list(mail.message.iter_attachments())
    assert attachment.get_content() == audio


def test_no_mail_for_a_user_without_an_address(
    store, users, settings, left_message, smtp_server
):
    audio_on_disk(settings, "1002")
    vm, writer = service(store, settings, smtp_server.port)
    vm.handle(for_box(left_message, "1002"))
    writer.flush()
    assert vm.mail_pending() == 0
    assert len(vm.messages(users["bram"])) == 1


def test_mail_server_down_then_back(
    store, users, settings, left_message, smtp_server, free_port
):
    audio_on_disk(settings)
    vm, writer = service(store, settings, free_port)
    vm.handle(left_message)
    writer.flush()

    with pytest.raises(MailUnavailable):
        vm.mail_pending()
    assert vm.messages(users["anna"])[0].emailed is False

    vm.mailer = Mailer("127.0.0.1", smtp_server.port, "voicemail@schakel.test")
    assert vm.mail_pending() == 1
    assert len(smtp_server.wait_for(1)) == 1


def test_audio_not_there_yet_waits_then_mails_without_it(
    store, users, settings, left_message, smtp_server
):
    vm, writer = service(store, settings, smtp_server.port, now=LEFT_AT + 5)
    vm.handle(left_message)
    writer.flush()
    assert vm.mail_pending() == 0

    vm._clock = lambda: LATER
    assert vm.mail_pending() == 1
    (mail,) = smtp_server.wait_for(1)
    assert list(mail.message.iter_attachments()) == []
    assert "kon niet worden bijgevoegd" in mail.message.get_body().get_content()


def test_mail_thread_sends_once_the_record_is_written(
    store, users, settings, left_message, smtp_server
):
    audio_on_disk(settings)
    vm, writer = service(store, settings, smtp_server.port)
    writer.add_listener(vm.written)
    vm.start()
    writer.start()
    try:
        vm.handle(left_message)
        (mail,) = smtp_server.wait_for(1)
    finally:
        writer.stop()
        vm.stop()
    assert mail.rcpt_to == ["anna@voorbeeld.nl"]


def test_heard_and_deleted_messages_tell_the_switch(
    store, users, settings, left_message, gateway, free_port
):
    audio_on_disk(settings)
    vm, writer = service(store, settings, free_port, gateway=gateway)
    vm.handle(left_message)
    writer.flush()
    (message,) = vm.messages(users["anna"])

    vm.mark_heard(users["anna"], message.id)
    assert vm.messages(users["anna"])[0].heard is True
    data, name = vm.audio(users["anna"], message.id)
    assert data[:4] == b"RIFF" and name.startswith("msg_")

    vm.delete(users["anna"], message.id)

    assert gateway.lines() == [
        f"vm_read 1001@127.0.0.1 read {MESSAGE_UUID}",
        f"vm_delete 1001@127.0.0.1 {MESSAGE_UUID}",
    ]
    assert vm.messages(users["anna"]) == []
    assert vm.local_path(SWITCH_FILE) is None


def test_another_users_message_is_not_found(
    store, users, settings, left_message, gateway, free_port
):
    vm, writer = service(store, settings, free_port, gateway=gateway)
    vm.handle(left_message)
    writer.flush()
    (message,) = vm.messages(users["anna"])

    with pytest.raises(MessageNotFound):
        vm.delete(users["bram"], message.id)
    with pytest.raises(MessageNotFound):
        vm.audio(users["bram"], message.id)
    assert gateway.lines() == []
    assert len(vm.messages(users["anna"])) == 1


def test_switch_unreachable_changes_nothing(
    store, users, settings, left_message, gateway, free_port
):
    from orchestrator.esl.errors import NotConnected

    vm, writer = service(store, settings, free_port, gateway=gateway)
    vm.handle(left_message)
    writer.flush()
    (message,) = vm.messages(users["anna"])

    def down(line: str) -> str:
        raise NotConnected("no switch")

    gateway.reply("vm_delete", down)
    with pytest.raises(SwitchUnavailable):
        vm.delete(users["anna"], message.id)
    assert len(vm.messages(users["anna"])) == 1


def test_greeting(store, users, settings, gateway, free_port):
    gateway.reply("vm_fsdb_pref_greeting_set", "-OK\n")
    vm, _ = service(store, settings, free_port, gateway=gateway)
    greeting = tone_wav(1.0, 523)

    vm.set_greeting(users["anna"], greeting)

    (line,) = gateway.lines()
    command, profile, domain, box, slot, path = line.split(" ")
    assert (command, profile, domain, box, slot) == (
        "vm_fsdb_pref_greeting_set",
        "default",
        settings.sip_domain,
        "2001",
        "1",
    )
    assert path.startswith(settings.voicemail_dir)
    assert vm.greeting("anna") == greeting


def test_greeting_must_be_a_wav_file(store, users, settings, gateway, free_port):
    vm, _ = service(store, settings, free_port, gateway=gateway)
    with pytest.raises(GreetingInvalid):
        vm.set_greeting(users["anna"], b"ID3 this is an mp3")
    assert gateway.lines() == []
    assert vm.greeting("anna") is None


def test_greeting_refused_by_the_switch_is_not_kept(
    store, users, settings, gateway, free_port
):
    gateway.reply("vm_fsdb_pref_greeting_set", "-ERR Profile not found\n")
    vm, _ = service(store, settings, free_port, gateway=gateway)
    with pytest.raises(SwitchUnavailable):
        vm.set_greeting(users["anna"], tone_wav())
    assert vm.greeting("anna") is None
    assert list((Path(settings.voicemail_dir) / "incoming").iterdir()) == []
