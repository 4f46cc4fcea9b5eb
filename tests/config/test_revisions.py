"""Publishing: validation refuses and changes nothing, revisions, restore, notify."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import live
from orchestrator.config import revisions, validate
from orchestrator.config.notifier import CHANNEL, Notifier
from orchestrator.config.render import Renderer
from orchestrator.config.view import ViewCache
from orchestrator.store import models as m


def _user(session: Session, username: str) -> m.User:
    return session.scalars(select(m.User).where(m.User.username == username)).one()


def _state(store) -> list[str]:
    with store.session() as session:
        return revisions.snapshot_lines(revisions.snapshot(session))


def _revision_count(store) -> int:
    with store.session() as session:
        return len(session.scalars(select(m.ConfigRevision)).all())


class RecordingSwitch:
    def __init__(self, fail: bool = False) -> None:
        self.flushes = 0
        self.fail = fail

    def xml_flush_cache(self) -> None:
        self.flushes += 1
        if self.fail:
            raise ConnectionError("switch unreachable")


def test_the_demo_organisation_is_the_first_revision(demo_store) -> None:
    with demo_store.session() as session:
        (first,) = session.scalars(select(m.ConfigRevision)).all()
        assert first.summary == "Demo organisation loaded"
        assert first.author == "seed"
        assert first.snapshot == revisions.snapshot(session)
        assert "+users/1 " in first.diff


def test_a_publish_stores_a_revision_and_notifies(demo_store, settings) -> None:
    switch = RecordingSwitch()
    redis = live.connect(settings.redis_url)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)

    def change(session: Session) -> None:
        _user(session, "bram").ring_seconds = 35

    published = revisions.publish(
        demo_store,
        "beheer",
        "Bram rings longer",
        change,
        notifier=Notifier(switch=switch, live=redis),
    )

    assert published.id == 2 and published.author == "beheer"
    assert published.diff.count("\n-users/2 ") == 1
    assert '"ring_seconds": 35' in published.diff
    assert switch.flushes == 1
    message = _next_message(pubsub)
    announced = json.loads(message["data"])
    assert announced.pop("origin")
    assert announced == {
        "type": "config.published",
        "revision": 2,
        "author": "beheer",
        "summary": "Bram rings longer",
    }


def test_an_unreachable_switch_does_not_undo_the_publish(demo_store, caplog) -> None:
    switch = RecordingSwitch(fail=True)

    def change(session: Session) -> None:
        _user(session, "bram").ring_seconds = 25

    published = revisions.publish(
        demo_store, "beheer", "x", change, notifier=Notifier(switch=switch)
    )
    assert switch.flushes == 1
    assert _revision_count(demo_store) == 2 and published.id == 2
    assert "XML cache was not flushed" in caplog.text


def _next_message(pubsub: Any) -> dict[str, Any]:
    # The first get_message may consume the subscription confirmation.
    for _ in range(3):
        message = pubsub.get_message(timeout=1)
        if message is not None:
            return message
    raise AssertionError("nothing was published")


def _set_user(username: str, **values: Any) -> Callable[[Session], None]:
    def change(session: Session) -> None:
        user = _user(session, username)
        for key, value in values.items():
            setattr(user, key, value)

    return change


def _add_inbound(number: str, kind: str, target_id: int | None) -> Callable:
    def change(session: Session) -> None:
        session.add(
            m.InboundNumber(number=number, target_type=kind, target_id=target_id)
        )

    return change


def _forward(frm: str, to: str) -> Callable[[Session], None]:
    def change(session: Session) -> None:
        target = _user(session, to)
        session.add(
            m.CallForward(
                user=_user(session, frm),
                kind="always",
                target_type="user",
                target_id=target.id,
            )
        )

    return change


def _chain(*changes: Callable[[Session], None]) -> Callable[[Session], None]:
    def change(session: Session) -> None:
        for step in changes:
            step(session)
            session.flush()

    return change


def _group_fallback(session: Session) -> None:
    # Financiën falls back to Burgerzaken; now the other way round too.
    group = session.scalars(
        select(m.HuntGroup).where(m.HuntGroup.name == "Burgerzaken")
    ).one()
    finance = session.scalars(
        select(m.HuntGroup).where(m.HuntGroup.name == "Financiën")
    ).one()
    group.fallback_type, group.fallback_id = "hunt_group", finance.id


REFUSED = [
    (_set_user("bram", did="+31317492301"), validate.NumberInUse, "did"),
    (_add_inbound("+31317492302", "queue", 1), validate.NumberInUse, "number"),
    (_set_user("bram", did="+31317492700"), validate.NumberInUse, "did"),
    (_set_user("bram", extension="2301"), validate.ExtensionInUse, "extension"),
    (_set_user("bram", extension="2400"), validate.ExtensionInUse, "extension"),
    (_set_user("bram", extension="3302"), validate.ExtensionOutOfRange, "extension"),
    (_set_user("bram", extension="112"), validate.ExtensionReserved, "extension"),
    (_set_user("bram", did="+31201234567"), validate.NumberOutsideBlocks, "did"),
    (
        _add_inbound("+31317492990", "queue", 99),
        validate.UnresolvedReference,
        "target_type",
    ),
    (
        _add_inbound("+31317492990", "external", None),
        validate.UnresolvedReference,
        "target_type",
    ),
    (_set_user("bram", name="Bram\x07"), validate.InvalidCharacters, "name"),
    (_set_user("bram", did="0317 49 2302"), validate.InvalidValue, "did"),
    (
        _chain(_forward("bram", "carla"), _forward("carla", "bram")),
        validate.ForwardingLoop,
        "target_id",
    ),
    (_group_fallback, validate.FallbackLoop, "fallback_type"),
]


@pytest.mark.parametrize(("change", "error", "field"), REFUSED)
def test_an_invalid_change_is_refused_and_changes_nothing(
    demo_store, change, error, field
) -> None:
    before = _state(demo_store)
    switch = RecordingSwitch()

    with pytest.raises(error) as refused:
        revisions.publish(
            demo_store, "beheer", "bad", change, notifier=Notifier(switch=switch)
        )

    assert refused.value.field == field
    assert refused.value.error_id == error.error_id
    assert field in str(refused.value)
    assert _state(demo_store) == before
    assert _revision_count(demo_store) == 1
    assert switch.flushes == 0


def test_error_ids_are_stable_and_distinct() -> None:
    classes = validate.ValidationError.__subclasses__()
    ids = [cls.error_id for cls in classes]
    assert len(set(ids)) == len(ids) == 12
    assert all(id_ == id_.lower() and " " not in id_ for id_ in ids)


def test_a_queue_overflow_to_a_missing_queue_is_refused(demo_store) -> None:
    def change(session: Session) -> None:
        queue = session.scalars(select(m.Queue)).one()
        queue.overflow_type, queue.overflow_id = "queue", 4242

    with pytest.raises(validate.UnresolvedReference, match="no queue 4242") as refused:
        revisions.publish(demo_store, "beheer", "bad", change)
    assert refused.value.field == "overflow_type"


def test_a_publish_in_the_callers_session(demo_store) -> None:
    with demo_store.session() as session:
        _user(session, "bram").ring_seconds = 40
        published = revisions.publish(session, "beheer", "in the web app's session")
    assert published.id == 2
    with demo_store.session() as session:
        assert _user(session, "bram").ring_seconds == 40


def _everything(renderer: Renderer) -> list[str | None]:
    view = renderer.views.current()
    answers: list[str | None] = [
        renderer.render_dialplan(context)
        for context in ("public", "default", "targets")
    ]
    answers += [renderer.render_directory(view.domain, user) for user in view.directory]
    answers += [renderer.render_dialplan("public", n) for n in view.routes["public"]]
    answers.append(renderer.render_configuration("callcenter.conf"))
    return answers


def _reshape(session: Session) -> None:
    anna, bram, carla = (_user(session, n) for n in ("anna", "bram", "carla"))
    # Swap two DIDs (a unique column moving between rows), rename, remove
    # and add users, devices and a group.
    anna.did, bram.did = None, None
    session.flush()
    anna.did, bram.did = "+31317492302", "+31317492301"
    carla.name = "Carla O'Brien <&>"
    session.delete(_user(session, "daan"))
    session.delete(
        session.scalars(
            select(m.HuntGroup).where(m.HuntGroup.name == "Servicedesk ICT")
        ).one()
    )
    new = m.User(username="nieuw", name="Nieuw", did="+31317492399", extension="2398")
    new.devices = [m.Device(sip_user="2398", sip_password="secret-2398")]
    session.add(new)
    bram.devices[0].sip_password = "changed"


def test_restore_gives_back_exactly_the_earlier_rendering(demo_store, settings) -> None:
    renderer = Renderer(settings, ViewCache(demo_store, settings))
    at_first = _everything(renderer)
    with demo_store.session() as session:
        mails = session.scalar(select(m.User.id).where(m.User.username == "bram"))
        session.add(m.VoicemailMessage(user_id=mails, path="/vm/1.wav"))

    changed = revisions.publish(demo_store, "beheer", "reshape", _reshape)
    assert _everything(renderer) != at_first

    restored = revisions.restore(demo_store, 1, "beheer")

    assert restored.id == changed.id + 1
    assert restored.restored_from == 1
    assert restored.summary == "Revision 1 restored"
    assert _everything(renderer) == at_first
    with demo_store.session() as session:
        latest = session.get(m.ConfigRevision, restored.id)
        first = session.get(m.ConfigRevision, 1)
        assert latest.snapshot == first.snapshot
        # Users that stayed keep their voicemail.
        assert session.scalars(select(m.VoicemailMessage)).all()


def test_restore_keeps_sign_in_passwords(demo_store) -> None:
    revisions.publish(demo_store, "beheer", "x", _set_user("bram", password_hash="new"))
    revisions.restore(demo_store, 1, "beheer")
    with demo_store.session() as session:
        assert _user(session, "bram").password_hash == "new"


def test_restore_of_an_unknown_revision(demo_store) -> None:
    with pytest.raises(revisions.RevisionNotFound):
        revisions.restore(demo_store, 99, "beheer")
    assert _revision_count(demo_store) == 1


def test_the_diff_shows_that_a_secret_changed_not_the_secret(demo_store) -> None:
    def change(session: Session) -> None:
        _user(session, "bram").devices[0].sip_password = "n1euw-geheim"
        _user(session, "bram").voicemail_pin = "9876"

    published = revisions.publish(demo_store, "beheer", "secrets", change)
    assert "\n-devices/" in published.diff and "\n+devices/" in published.diff
    assert "n1euw-geheim" not in published.diff
    assert '"voicemail_pin": "9876"' not in published.diff
    assert '"sip_password": "sha256:' in published.diff
    with demo_store.session() as session:
        stored = session.get(m.ConfigRevision, published.id).snapshot
    assert any(d["sip_password"] == "n1euw-geheim" for d in stored["devices"])
