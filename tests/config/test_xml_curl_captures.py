"""Every form a real FreeSWITCH POSTed in the captures, answered by our endpoint."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from orchestrator.config.xml_curl import create_xml_curl_app

# Read at collection, so that each form is a test of its own; the same place
# the captures_dir fixture looks.
CAPTURES = Path(
    os.environ.get(
        "SCHAKEL_CAPTURES_DIR",
        Path(__file__).resolve().parents[2].parent / "shared" / "freeswitch-captures",
    )
)
FORMS_WITH_FILES = [
    (folder, line)
    for folder in sorted(CAPTURES.glob("[0-9][0-9]-*"))
    for line in (folder / "xml_curl.jsonl").read_text().splitlines()
    if line.strip()
]


def _ids() -> list[str]:
    return [
        f"{folder.name}#{json.loads(line)['n']}" for folder, line in FORMS_WITH_FILES
    ]


def test_the_captures_hold_forms(captures_dir: Path) -> None:
    forms = list(captures_dir.glob("*/xml_curl.jsonl"))
    assert len(forms) == 10
    assert len(FORMS_WITH_FILES) == 69


@pytest.fixture
def client(capture_store, capture_settings):
    return create_xml_curl_app(capture_settings, capture_store).test_client()


def _served(folder: Path, answered_with: str) -> etree._Element | None:
    if answered_with == "not-found":
        return None
    return etree.parse(str(folder / "xmlcurl" / answered_with)).getroot()


@pytest.mark.parametrize(("folder", "line"), FORMS_WITH_FILES, ids=_ids())
def test_capture_form_is_answered_like_the_capture(
    client: Any, captures_dir: Path, folder: Path, line: str
) -> None:
    record = json.loads(line)
    form = record["form"]
    response = client.post(record["path"], data=form)

    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    ours = etree.fromstring(response.data)
    served = _served(captures_dir / folder.name, record["answered_with"])
    if served is None:
        assert _is_not_found(ours)
        return
    section = form["section"]
    assert ours.find("section").get("name") == section
    if section == "directory":
        _same_directory_user(ours, served, form)
    elif section == "dialplan":
        _same_destination(ours, served, form)
    else:
        _same_configuration(ours, served, form)


def _is_not_found(doc: etree._Element) -> bool:
    result = doc.find("section[@name='result']/result")
    return result is not None and result.get("status") == "not found"


def _params(user: etree._Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in user.iter("param")}


def _variables(user: etree._Element) -> dict[str, str]:
    return {v.get("name"): v.get("value") for v in user.iter("variable")}


def _same_directory_user(
    ours: etree._Element, served: etree._Element, form: dict[str, str]
) -> None:
    domain = ours.find("section/domain")
    assert domain.get("name") == form["domain"]
    dial_string = _params(domain.find("params"))["dial-string"]
    assert "sofia_contact(*/${dialed_user}@${dialed_domain})" in dial_string
    (user,) = domain.iter("user")
    (theirs,) = served.iter("user")
    assert user.get("id") == form["user"] == theirs.get("id")
    for name in ("password", "vm-password"):
        assert _params(user)[name] == _params(theirs)[name]
    variables = _variables(user)
    assert variables["user_context"] == "default"
    assert variables["effective_caller_id_number"] == form["user"]
    assert variables["callgroup"] == "captures"


def _hunt(doc: etree._Element, context: str, destination: str) -> list[Any]:
    """The extensions the switch would run: matches up to one without continue."""
    (ctx,) = doc.iter("context")
    assert ctx.get("name") == context
    hit = []
    for extension in ctx.iter("extension"):
        condition = extension.find("condition")
        if condition.get("field") == "destination_number" and re.search(
            condition.get("expression"), destination
        ):
            hit.append(extension)
            if extension.get("continue") != "true":
                return hit
    raise AssertionError(f"no extension of {context} takes {destination}")


def _actions(extensions: list[Any]) -> list[tuple[str, str]]:
    return [
        (a.get("application"), a.get("data") or "")
        for extension in extensions
        for a in extension.iter("action")
    ]


def _same_destination(
    ours: etree._Element, served: etree._Element, form: dict[str, str]
) -> None:
    context = form["Hunt-Context"]
    destination = form["Caller-Destination-Number"]
    mine = _hunt(ours, context, destination)
    assert mine[-1].get("name") != "unallocated"
    served_hit = _hunt(served, context, destination)
    captured = re.search(
        served_hit[-1].find("condition").get("expression"), destination
    )
    theirs = [
        (app, re.sub(r"\$(\d)", lambda g: captured.group(int(g.group(1))), value))
        for app, value in _actions(served_hit)
    ]
    actions = _actions(mine)
    data = " ".join(d for _app, d in actions)

    for app, value in theirs:
        if app == "bridge":
            # The capture rang one user; we ring the same user (maybe
            # among others, with our own timeout in front).
            assert re.sub(r"^\{[^}]*\}", "", value) in data
        elif app == "voicemail":
            assert ("voicemail", value) in actions
        elif app in ("park", "callcenter", "play_and_get_digits"):
            # Queues and menus are the orchestrator's: the call is parked
            # with what it is for, or handed to the target that is.
            assert any(a == "park" for a, _ in actions) or any(
                a == "transfer" and d.endswith(" XML targets") for a, d in actions
            )


def _same_configuration(
    ours: etree._Element, served: etree._Element, form: dict[str, str]
) -> None:
    (conf,) = ours.iter("configuration")
    assert conf.get("name") == form["key_value"]
    mine = {q.get("name").split("@")[0] for q in conf.iter("queue")}
    theirs = {q.get("name").split("@")[0] for q in served.iter("queue")}
    assert theirs <= mine
