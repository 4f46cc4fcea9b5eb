"""The administration portal: editing users, audit, revisions and restore."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from webui_helpers import post, user_id

from orchestrator.store import models as m
from orchestrator.store.db import Store


def _carla_form(**changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "Carla Jansen",
        "email": "carla@voorbeeldstad.nl",
        "did": "0317 49 2303",
        "extension": "2303",
        "mobile": "",
        "roles": ["user"],
        "profile_id": "",
        "active": "on",
    }
    form.update(changes)
    return form


def test_users_list_and_search(as_admin: FlaskClient) -> None:
    everyone = as_admin.get("/admin/users").text
    assert "Sanne Supervisor" in everyone and "Functioneel Beheer" in everyone

    found = as_admin.get("/admin/users?q=2303").text
    assert "carla" in found and "Sanne Supervisor" not in found
    # Roles by the names the page's language gives them.
    assert "<td>Eindgebruiker</td>" in found
    assert "<td>user</td>" not in found


def test_edit_is_stored_audited_and_published(
    as_admin: FlaskClient, store: Store
) -> None:
    carla = user_id(store, "carla")
    with store.session() as db:
        revisions_before = len(db.scalars(select(m.ConfigRevision)).all())

    response = post(
        as_admin,
        f"/admin/users/{carla}",
        _carla_form(mobile="06-87654321", roles=["user", "agent"]),
    )

    assert response.status_code == 302
    assert "Opgeslagen." in as_admin.get(response.headers["Location"]).text
    with store.session() as db:
        user = db.get(m.User, carla)
        assert user.name == "Carla Jansen"
        assert user.mobile == "+31687654321"
        assert user.roles == ["agent", "user"]
        audit = db.scalar(
            select(m.EventLog).where(m.EventLog.kind == "admin.user.updated")
        )
        assert audit.actor == "beheer" and audit.user_id == carla
        assert audit.data["changes"]["mobile"][1] == "+31687654321"
        revisions = db.scalars(select(m.ConfigRevision)).all()
        assert len(revisions) == revisions_before + 1
        assert revisions[-1].author == "beheer"
        assert "+31687654321" in revisions[-1].diff


def test_saving_without_changes_makes_no_revision(
    as_admin: FlaskClient, store: Store
) -> None:
    carla = user_id(store, "carla")
    post(as_admin, f"/admin/users/{carla}", _carla_form())
    with store.session() as db:
        before = len(db.scalars(select(m.ConfigRevision)).all())

    response = post(as_admin, f"/admin/users/{carla}", _carla_form())

    assert "Er is niets gewijzigd." in as_admin.get(response.headers["Location"]).text
    with store.session() as db:
        assert len(db.scalars(select(m.ConfigRevision)).all()) == before


def test_bad_edits_are_refused_field_by_field(
    as_admin: FlaskClient, store: Store
) -> None:
    carla = user_id(store, "carla")
    response = post(
        as_admin,
        f"/admin/users/{carla}",
        _carla_form(
            name="",
            extension="2301",
            did="0318 12 3456",
            mobile="06-123",
            roles=["user", "root"],
        ),
    )

    assert response.status_code == 422
    text = response.text
    assert "Vul een naam in." in text
    assert "Al in gebruik bij" in text  # extension 2301 is Anna's
    assert "Dit nummer valt niet in een van onze nummerblokken." in text
    assert "Dit is geen geldig telefoonnummer." in text
    assert "Kies rollen uit de lijst." in text
    with store.session() as db:
        assert db.get(m.User, carla).extension == "2303"
        assert (
            db.scalar(select(m.EventLog).where(m.EventLog.kind == "admin.user.updated"))
            is None
        )


def test_admin_cannot_lock_themselves_out(as_admin: FlaskClient, store: Store) -> None:
    beheer = user_id(store, "beheer")
    response = post(
        as_admin,
        f"/admin/users/{beheer}",
        {"name": "Functioneel Beheer", "roles": ["user"], "active": "on"},
    )
    assert response.status_code == 422
    assert "U kunt uw eigen beheerdersrol niet afnemen." in response.text


def test_add_a_user(as_admin: FlaskClient, store: Store) -> None:
    response = post(
        as_admin,
        "/admin/users/new",
        {
            "username": "nieuw",
            "name": "Nieuwe Collega",
            "extension": "2390",
            "did": "0317 49 2390",
            "roles": ["user"],
            "active": "on",
        },
    )
    assert response.status_code == 302
    with store.session() as db:
        user = db.scalar(select(m.User).where(m.User.username == "nieuw"))
        assert (user.did, user.extension) == ("+31317492390", "2390")
        assert db.scalar(
            select(m.EventLog).where(
                m.EventLog.kind == "admin.user.created", m.EventLog.user_id == user.id
            )
        )

    again = post(as_admin, "/admin/users/new", {"username": "nieuw", "name": "X"})
    assert again.status_code == 422
    assert "Deze naam is al in gebruik." in again.text


def test_revisions_list_diff_and_restore(as_admin: FlaskClient, store: Store) -> None:
    carla = user_id(store, "carla")
    with store.session() as db:
        before = db.scalar(
            select(m.ConfigRevision.id).order_by(m.ConfigRevision.id.desc())
        )
    post(as_admin, f"/admin/users/{carla}", _carla_form(name="Carla Gewijzigd"))

    listing = as_admin.get("/admin/revisions").text
    assert "Gebruiker" in listing or "User" in listing
    with store.session() as db:
        changed = db.scalar(
            select(m.ConfigRevision.id).order_by(m.ConfigRevision.id.desc())
        )
    detail = as_admin.get(f"/admin/revisions/{changed}").text
    assert "Carla Gewijzigd" in detail and 'class="add"' in detail

    old = as_admin.get(f"/admin/revisions/{before}").text
    assert 'id="restore"' in old
    response = post(as_admin, f"/admin/revisions/{before}/restore")

    assert response.status_code == 302
    with store.session() as db:
        assert db.get(m.User, carla).name != "Carla Gewijzigd"
        latest = db.scalar(
            select(m.ConfigRevision).order_by(m.ConfigRevision.id.desc()).limit(1)
        )
        assert latest.restored_from == before and latest.author == "beheer"
        assert db.scalar(
            select(m.EventLog).where(m.EventLog.kind == "admin.revision.restored")
        ).data == {"restored": before}


def test_restoring_an_unknown_revision(as_admin: FlaskClient) -> None:
    assert post(as_admin, "/admin/revisions/99999/restore").status_code == 404
    assert as_admin.get("/admin/revisions/99999").status_code == 404


def test_user_api_patch(as_admin: FlaskClient, store: Store) -> None:
    token = as_admin.get("/api/v1/me").json["csrf_token"]
    carla = user_id(store, "carla")
    response = as_admin.patch(
        f"/api/v1/users/{carla}",
        json={"extension": "2399"},
        headers={"X-CSRF-Token": token},
    )
    # 2399 is the supervisor's extension.
    assert response.status_code == 422
    assert response.json["error"] == "invalid-input"
    assert "extension" in response.json["details"]

    response = as_admin.patch(
        f"/api/v1/users/{carla}",
        json={"mobile": "0612345670", "bogus": 1},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 422
    assert response.json["details"] == {"bogus": "unknown field"}

    response = as_admin.patch(
        f"/api/v1/users/{carla}",
        json={"mobile": "0612345670"},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 200
    assert response.json["mobile"] == "+31612345670"


def _many_revisions(store: Store, count: int) -> None:
    """Rows as users' own changes leave them (the listing reads no more)."""
    with store.session() as db:
        for n in range(count):
            db.add(
                m.ConfigRevision(
                    author="karin", summary=f"Niet storen {n}", snapshot={}, diff=""
                )
            )
        db.add(
            m.ConfigRevision(
                author="beheer", summary="Gebruiker 100%_zeker", snapshot={}, diff=""
            )
        )
        db.commit()


def test_revisions_can_be_searched_and_paged(
    as_admin: FlaskClient, store: Store
) -> None:
    _many_revisions(store, 60)

    first = as_admin.get("/admin/revisions").text
    assert first.count('<td><a href="/admin/revisions/') == 50
    older = re.search(r'href="(/admin/revisions\?before=\d+)" rel="next"', first)
    assert older is not None
    second = as_admin.get(older[1]).text
    assert "Niet storen 0" in second and "Gebruiker 100%_zeker" not in second
    assert "Nieuwste" in second

    found = as_admin.get("/admin/revisions?q=BEHEER").text
    assert "Gebruiker 100%_zeker" in found and "Niet storen" not in found
    # The search is for text, not a pattern: '%' and '_' are themselves.
    assert "Niet storen" not in as_admin.get("/admin/revisions?q=0%25_").text
    assert "Gebruiker 100%_zeker" in as_admin.get("/admin/revisions?q=0%25_").text
    nothing = as_admin.get("/admin/revisions?q=niemand").text
    assert "Geen revisies gevonden." in nothing

    # A page number that is no number is ignored, not an error.
    assert as_admin.get("/admin/revisions?before=abc").status_code == 200


def test_the_revisions_api_searches_and_pages_alike(
    as_admin: FlaskClient, store: Store
) -> None:
    _many_revisions(store, 60)
    page = as_admin.get("/api/v1/revisions").json
    assert len(page) == 50
    rest = as_admin.get(f"/api/v1/revisions?before={page[-1]['id']}").json
    assert rest and all(r["id"] < page[-1]["id"] for r in rest)
    found = as_admin.get("/api/v1/revisions?q=beheer").json
    assert [r["summary"] for r in found][:1] == ["Gebruiker 100%_zeker"]
