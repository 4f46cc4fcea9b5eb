"""My telephony: do-not-disturb, forwarding, hunt groups, calls, voicemail."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from webui_helpers import post, user_id

from orchestrator.store import models as m
from orchestrator.store.db import Store


def next_message(pubsub: object, timeout: float = 5.0) -> dict[str, object]:
    """The next published message; the subscription's confirmation is skipped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = deadline - time.monotonic()
        message = pubsub.get_message(timeout=left)  # type: ignore[attr-defined]
        if message is not None:
            return json.loads(message["data"])
    raise AssertionError("nothing was published")


def _revisions(store: Store) -> int:
    with store.session() as db:
        return db.scalar(select(func.count()).select_from(m.ConfigRevision)) or 0


def _forward(store: Store, username: str, kind: str) -> m.CallForward | None:
    with store.session() as db:
        return db.scalar(
            select(m.CallForward).where(
                m.CallForward.user_id == user_id(store, username),
                m.CallForward.kind == kind,
            )
        )


def test_do_not_disturb_is_published_and_shown(
    as_user: FlaskClient, store: Store, app: object
) -> None:
    live = app.extensions["schakel"].live  # type: ignore[attr-defined]
    pubsub = live.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("schakel:live")
    before = _revisions(store)

    response = post(as_user, "/me/dnd", {"dnd": "on"})

    assert response.status_code == 302
    page = as_user.get("/me", follow_redirects=True).text
    assert "Niet storen staat aan." in page
    assert "Aan: gesprekken worden niet naar u doorgezet." in page
    assert _revisions(store) == before + 1
    with store.session() as db:
        assert db.get(m.User, user_id(store, "carla")).dnd is True
    assert next_message(pubsub) == {
        "type": "presence",
        "user": "carla",
        "extension": "2303",
        "state": "dnd",
    }


def test_forwarding_to_a_mobile_number_is_stored_normalised(
    as_user: FlaskClient, store: Store
) -> None:
    response = post(
        as_user,
        "/me/forwards/busy",
        {"enabled": "on", "target": "external", "number": "06 1234 5678"},
    )

    assert response.status_code == 302
    rule = _forward(store, "carla", "busy")
    assert rule is not None and rule.enabled
    assert (rule.target_type, rule.target_number) == ("external", "+31612345678")
    assert 'value="06 12345678"' in as_user.get("/me").text


def test_forwarding_to_a_colleague_by_extension(
    as_user: FlaskClient, store: Store
) -> None:
    post(
        as_user,
        "/me/forwards/always",
        {"enabled": "on", "target": "internal", "number": "2301"},
    )
    rule = _forward(store, "carla", "always")
    assert rule is not None
    assert (rule.target_type, rule.target_id) == ("user", user_id(store, "anna"))


def test_no_answer_forwarding_keeps_its_seconds(
    as_user: FlaskClient, store: Store
) -> None:
    post(
        as_user,
        "/me/forwards/no_answer",
        {"enabled": "on", "target": "voicemail", "seconds": "25"},
    )
    rule = _forward(store, "carla", "no_answer")
    assert rule is not None
    assert (rule.target_type, rule.no_answer_seconds) == ("voicemail", 25)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"target": "external", "number": "12ab"},
            "Dit is geen geldig telefoonnummer.",
        ),
        ({"target": "external", "number": ""}, "Vul een telefoonnummer in."),
        ({"target": "external", "number": "0900 1234567"}, "U mag niet doorschakelen"),
        (
            {"target": "internal", "number": "9999"},
            "Geen collega heeft dit toestelnummer.",
        ),
        (
            {"target": "internal", "number": "2303"},
            "U kunt niet naar uzelf doorschakelen.",
        ),
        ({"target": "vm_or_queue", "queue_id": "999"}, "Kies een wachtrij."),
        ({"target": "voicemail", "seconds": "2"}, "Vul een aantal seconden in van 5"),
        ({"target": "somewhere"}, "Kies waar gesprekken heen moeten."),
    ],
)
def test_bad_forwarding_is_refused_in_dutch_and_stores_nothing(
    as_user: FlaskClient, store: Store, fields: dict[str, str], message: str
) -> None:
    before = _revisions(store)
    response = post(as_user, "/me/forwards/no_answer", {"enabled": "on", **fields})

    assert response.status_code == 422
    assert message in response.text
    assert _forward(store, "carla", "no_answer") is None
    assert _revisions(store) == before


def test_forwarding_loop_is_refused(as_user: FlaskClient, store: Store) -> None:
    # Anna forwards everything to Carla; Carla forwarding to Anna would loop.
    with store.session() as db:
        db.add(
            m.CallForward(
                user_id=user_id(store, "anna"),
                kind="always",
                target_type="user",
                target_id=user_id(store, "carla"),
            )
        )
    response = post(
        as_user,
        "/me/forwards/always",
        {"enabled": "on", "target": "internal", "number": "2301"},
    )
    assert response.status_code == 422
    assert "Deze doorschakeling zou gesprekken in een kring laten rondgaan." in (
        response.text
    )
    assert _forward(store, "carla", "always") is None


def test_unknown_forwarding_kind_is_not_found(as_user: FlaskClient) -> None:
    response = post(as_user, "/me/forwards/sometimes", {"target": "voicemail"})
    assert response.status_code == 404


def test_hunt_group_login_and_logout(as_user: FlaskClient, store: Store) -> None:
    with store.session() as db:
        group = db.scalar(select(m.HuntGroup).where(m.HuntGroup.name == "Burgerzaken"))
        db.add(
            m.HuntGroupMember(
                group_id=group.id, user_id=user_id(store, "carla"), logged_in=True
            )
        )
        group_id = group.id

    response = post(as_user, f"/me/groups/{group_id}", {"logged_in": "off"})

    assert response.status_code == 302
    page = as_user.get("/me").text
    assert "U bent uitgelogd uit Burgerzaken." in page
    with store.session() as db:
        member = db.scalar(
            select(m.HuntGroupMember).where(
                m.HuntGroupMember.user_id == user_id(store, "carla")
            )
        )
        assert member.logged_in is False
        logged = db.scalar(
            select(m.EventLog).where(m.EventLog.kind == "hunt_group.logout")
        )
        assert logged.actor == "carla"


def test_hunt_group_of_which_you_are_no_member(as_user: FlaskClient) -> None:
    assert post(as_user, "/me/groups/1", {"logged_in": "on"}).status_code == 404


def _call(store: Store, username: str, **fields: object) -> None:
    values = {
        "call_uuid": f"c-{fields.get('caller_number') or fields.get('callee_number')}",
        "user_id": user_id(store, username),
        "started_at": dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
    } | fields
    with store.session() as db:
        db.add(m.CallRecord(**values))


def test_call_history_shows_placed_answered_and_missed(
    as_user: FlaskClient, store: Store
) -> None:
    _call(
        store, "carla", direction="out", result="answered", callee_number="+31263599999"
    )
    _call(
        store,
        "carla",
        direction="in",
        result="answered",
        caller_number="+31612345678",
        billsec=75,
    )
    _call(store, "carla", direction="in", result="missed", caller_number="+31555272911")
    _call(store, "anna", direction="in", result="missed", caller_number="+31201234567")

    everything = as_user.get("/me/calls").text
    missed = as_user.get("/me/calls?filter=missed").text

    assert "026 359 9999" in everything
    assert "06 12345678" in everything and "1:15" in everything
    assert "Gemist" in missed and "055 527 2911" in missed
    assert "06 12345678" not in missed
    assert "020 123 4567" not in everything


def test_call_history_api(as_user: FlaskClient, store: Store) -> None:
    _call(store, "carla", direction="in", result="missed", caller_number="+31555272911")
    rows = as_user.get("/api/v1/me/calls?filter=missed").json
    assert [(r["kind"], r["number"]) for r in rows] == [("missed", "+31555272911")]
    assert as_user.get("/api/v1/me/calls?filter=bogus").status_code == 422


def test_voicemail_list_and_delete(as_user: FlaskClient, store: Store) -> None:
    with store.session() as db:
        message = m.VoicemailMessage(
            user_id=user_id(store, "carla"),
            caller_number="+31612345678",
            caller_name="Jan de Aannemer",
            path="2303/msg.wav",
            duration_s=14,
        )
        db.add(message)
        db.flush()
        message_id = message.id

    page = as_user.get("/me/voicemail").text
    assert "Jan de Aannemer" in page and "0:14" in page and "Nieuw" in page

    assert post(as_user, f"/me/voicemail/{message_id}/delete").status_code == 302
    with store.session() as db:
        assert db.get(m.VoicemailMessage, message_id) is None
