"""A hunt group's own voicemail box, end to end through the simulated switch.

Servicedesk ICT (extension 2520, members ulrike .. xandra) falls back to
"voicemail or contact centre". Nobody answers; the caller presses 1 and
leaves a message in the group's box (2520): the orchestrator keeps it for
every member and mails it, to the group's address when it has one, else to
each member. Pressing 2 still reaches the contact centre's queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.calls.records import RecordWriter
from orchestrator.config.render import Renderer
from orchestrator.config.view import ViewCache
from orchestrator.config.xml_curl import XmlCurl
from orchestrator.esl.events import decode_json
from orchestrator.mail import Mailer
from orchestrator.store import models as m
from orchestrator.voicemail import VoicemailService
from simulator.scenario import Simulation
from simulator.xmlcurl import FunctionFetcher

CALLER = "0201234567"
GROUP = "Servicedesk ICT"


@pytest.fixture
def switch(store, demo_settings) -> Iterator[Any]:
    """The demo's switch, keeping recordings where the orchestrator reads
    them (the shared voicemail directory)."""
    views = ViewCache(store, demo_settings, recheck_seconds=0)
    xml_curl = XmlCurl(Renderer(demo_settings, views), "", "", ())

    def answer(form: list[tuple[str, str]]) -> str | None:
        return xml_curl.answer(dict(reversed(form)))

    with Simulation(
        FunctionFetcher(answer),
        domain=demo_settings.sip_domain,
        speed=20,
        voicemail_storage=Path(demo_settings.voicemail_dir),
    ) as simulation:
        simulation.gateway(demo_settings.gateway)
        yield simulation


@pytest.fixture
def voicemail(store, demo_settings, smtp_server) -> Iterator[Any]:
    writer = RecordWriter(store)
    mailer = Mailer("127.0.0.1", smtp_server.port, "voicemail@schakel.test", timeout=5)
    yield VoicemailService(store, writer, demo_settings, mailer=mailer), writer


def ring_out(switch, demo) -> tuple[Any, Any]:
    group = demo.group(GROUP)
    for name in group.member_names:
        switch.phone(name, demo.user(name).extension, answers=False)
    call = switch.dial(CALLER, group.number)
    call.expect_variable("schakel_target", "vm_or_queue", within=60)
    return group, call


def leave_message(switch, demo, voicemail) -> tuple[Any, Any]:
    """Nobody answers, the caller presses 1 and talks; the switch's
    leave-message event goes to the orchestrator's voicemail service."""
    group, call = ring_out(switch, demo)
    call.talks(duration=4)
    call.press("1")
    call.expect_event(
        "CHANNEL_EXECUTE",
        within=30,
        Application="voicemail",
        Application_Data=f"default pbx.local {group.extension}",
    )
    start = call.expect_event("RECORD_START", within=60)
    assert f"/pbx.local/{group.extension}/" in start.get("Record-File-Path")
    call.wait(6)
    call.hangup()
    left = switch.expect_event(
        "CUSTOM vm::maintenance", within=30, VM_Action="leave-message"
    )
    service, writer = voicemail
    service.handle(decode_json(left.event.to_json().encode()))
    writer.flush()
    return group, left


def test_the_voicemail_choice_records_in_the_groups_box(switch, demo, voicemail):
    group, left = leave_message(switch, demo, voicemail)
    assert left.get("VM-User") == group.extension
    switch.expect_event(
        "MESSAGE_WAITING",
        within=30,
        MWI_Messages_Waiting="yes",
        MWI_Message_Account=f"{group.extension}@pbx.local",
    )
    service, _writer = voicemail
    # Every member sees the message in their own list.
    for name in group.member_names:
        (message,) = service.messages(demo.user(name).id)
        assert message.caller_number == "+31201234567"
        assert message.duration_s >= 4


def test_the_message_is_mailed_to_each_member(
    switch, demo, voicemail, store, smtp_server
):
    group, _left = leave_message(switch, demo, voicemail)
    service, _writer = voicemail
    assert service.mail_pending() == len(group.member_names)
    mails = smtp_server.wait_for(len(group.member_names))
    assert sorted(to for mail in mails for to in mail.rcpt_to) == sorted(
        f"{name}@voorbeeldstad.nl" for name in group.member_names
    )
    message = mails[0].message
    assert message["Subject"].startswith("Nieuw voicemailbericht van")
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_maintype() == "audio"
    with store.session() as session:
        rows = session.scalars(select(m.VoicemailMessage)).all()
    assert {(row.hunt_group_id, row.emailed) for row in rows} == {(group.id, True)}
    assert service.mail_pending() == 0


def test_a_group_address_gets_one_mail(switch, demo, voicemail, smtp_server):
    def give_address(session):
        row = session.scalars(select(m.HuntGroup).where(m.HuntGroup.name == GROUP))
        row.one().email = "servicedesk@voorbeeldstad.nl"

    demo.change(give_address)
    leave_message(switch, demo, voicemail)
    service, _writer = voicemail
    assert service.mail_pending() == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_to == ["servicedesk@voorbeeldstad.nl"]
    body = mail.message.get_body(("plain",)).get_content()
    assert "Beste Servicedesk ICT" in body
    assert service.mail_pending() == 0


def test_the_queue_choice_still_reaches_the_queue(switch, demo):
    group, call = ring_out(switch, demo)
    call.press("2")
    call.expect_parked(within=20)
    assert call.variable("schakel_target") == "queue"
    assert call.variable("schakel_queue_id") == str(group.fallback_id)
