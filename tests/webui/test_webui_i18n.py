"""Dutch by default, English when chosen; every text has its Dutch translation."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from webui_helpers import post, user_id

from orchestrator.store import models as m
from orchestrator.store.db import Store
from webui import i18n

ROOT = Path(__file__).resolve().parents[2]


def _source_texts() -> set[str]:
    method_map = [
        ("webui/**.py", "python"),
        ("webui/templates/**.html", "jinja2"),
    ]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords={"_": None, "gettext": None, "_l": None}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue(language: str) -> dict[str, str]:
    path = ROOT / "webui" / "translations" / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        return {msg.id: msg.string for msg in read_po(fh) if msg.id}


def test_every_text_has_a_dutch_translation() -> None:
    texts = _source_texts()
    dutch = _catalogue("nl")
    assert len(texts) > 100
    missing = sorted(t for t in texts if not dutch.get(t))
    assert missing == []


def test_the_english_catalogue_knows_every_text() -> None:
    texts = _source_texts()
    assert texts <= set(_catalogue("en"))


def test_dutch_is_the_default(client: FlaskClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="nl">' in page.text
    assert "Gebruikersnaam" in page.text and "Wachtwoord" in page.text


def test_english_can_be_chosen_before_signing_in(client: FlaskClient) -> None:
    post(client, "/language", {"lang": "en", "next": "/login"})
    page = client.get("/login")
    assert '<html lang="en">' in page.text
    assert "User name" in page.text and "Password" in page.text


def test_a_signed_in_users_choice_is_kept(as_user: FlaskClient, store: Store) -> None:
    response = post(as_user, "/language", {"lang": "en", "next": "/me"})
    assert response.headers["Location"] == "/me"
    assert "My telephony" in as_user.get("/me").text
    with store.session() as db:
        assert db.get(m.User, user_id(store, "carla")).language == "en"

    post(as_user, "/logout")
    with as_user.session_transaction() as session:
        session.clear()
    # A new session: the stored preference, not the session, says English.
    from webui_helpers import sign_in

    sign_in(as_user, "carla")
    assert "My telephony" in as_user.get("/me").text


def test_api_errors_follow_the_language(as_user: FlaskClient) -> None:
    post(as_user, "/language", {"lang": "en"})
    response = as_user.get("/api/v1/users")
    assert response.json["message"] == "You do not have the rights for this page."


def test_an_unknown_language_is_refused(client: FlaskClient) -> None:
    response = post(client, "/language", {"lang": "xx"})
    assert response.status_code == 422


def test_catalogues_are_compiled_when_missing(tmp_path: Path) -> None:
    source = tmp_path / "translations"
    (source / "nl" / "LC_MESSAGES").mkdir(parents=True)
    (source / "nl" / "LC_MESSAGES" / "messages.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Save"\nmsgstr "Opslaan"\n',
        encoding="utf-8",
    )
    target = i18n.compile_catalogues(source)
    mo = target / "nl" / "LC_MESSAGES" / "messages.mo"
    assert mo.is_file()

    import gettext

    with mo.open("rb") as fh:
        assert gettext.GNUTranslations(io.BytesIO(fh.read())).gettext("Save") == (
            "Opslaan"
        )
