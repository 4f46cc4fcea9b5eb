"""The xml_curl endpoint: not-found answers, access rules, failures."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask import Flask
from lxml import etree

from orchestrator.config.render import Renderer
from orchestrator.config.xml_curl import (
    create_xml_curl_app,
    init_xml_curl,
    parse_allow,
)
from orchestrator.settings import SettingsError

PATH = "/freeswitch/xml"
SIP_AUTH = {
    "hostname": "fs1",
    "section": "directory",
    "tag_name": "domain",
    "key_name": "name",
    "key_value": "pbx.local",
    "action": "sip_auth",
    "key": "id",
    "user": "2301",
    "domain": "pbx.local",
}


def _not_found(response: Any) -> bool:
    doc = etree.fromstring(response.data)
    result = doc.find("section[@name='result']/result")
    return result is not None and result.get("status") == "not found"


@pytest.fixture(params=["fast-path", "blueprint"])
def client(request, demo_store, settings):
    """The minimal app (fast path), and the blueprint alone."""
    if request.param == "fast-path":
        return create_xml_curl_app(settings, demo_store).test_client()
    app = Flask(__name__)
    init_xml_curl(app, settings, demo_store, fast_path=False)
    return app.test_client()


def test_a_directory_request_gets_the_user(client: Any) -> None:
    response = client.post(PATH, data=SIP_AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    doc = etree.fromstring(response.data)
    assert doc.find("section/domain").get("name") == "pbx.local"
    assert [u.get("id") for u in doc.iter("user")] == ["2301"]


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"section": "chatplan", "key_value": "x"},
        {"section": "directory", "user": "2301", "domain": "elsewhere.example"},
        {"section": "directory", "user": "9999", "domain": "pbx.local"},
        {"section": "directory", "user": "2301", "domain": ""},
        {"section": "dialplan", "Hunt-Context": "public"},
        {
            "section": "dialplan",
            "Hunt-Context": "nonsense",
            "Hunt-Destination-Number": "1",
        },
        {"section": "dialplan", "Caller-Destination-Number": "0317492301"},
        {"section": "configuration", "key_name": "name", "key_value": "sofia.conf"},
        {"section": "configuration", "key_name": "name", "key_value": "../../etc.conf"},
        {"section": "configuration", "key_name": "name", "key_value": ""},
        {"section": "configuration", "key_name": "id", "key_value": "callcenter.conf"},
        {"section": "directory\x00", "user": "2301\xff", "domain": "pbx.local"},
    ],
)
def test_anything_unknown_or_malformed_is_not_found(client: Any, form: dict) -> None:
    response = client.post(PATH, data=form)
    assert response.status_code == 200
    assert _not_found(response)


def test_a_body_that_is_not_a_form_is_not_found(client: Any) -> None:
    for body, kind in [
        (b"\xff\xfe<xml>", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b'{"section": "directory"}', "application/json"),
    ]:
        response = client.post(PATH, data=body, content_type=kind)
        assert response.status_code == 200
        assert _not_found(response)


def test_an_unknown_number_in_public_is_refused_by_the_dialplan(client: Any) -> None:
    form = {
        "section": "dialplan",
        "Hunt-Context": "public",
        "Hunt-Destination-Number": "0201234567",
    }
    doc = etree.fromstring(client.post(PATH, data=form).data)
    extensions = list(doc.iter("extension"))
    last = extensions[-1]
    assert last.get("name") == "unallocated"
    hangup = last.find("condition/action[@application='hangup']")
    assert hangup.get("data") == "UNALLOCATED_NUMBER"
    # Nothing before the refusal takes the call for good.
    assert all(e.get("continue") == "true" for e in extensions[:-1])


def test_the_configuration_section_answers_callcenter(client: Any) -> None:
    form = {
        "section": "configuration",
        "tag_name": "configuration",
        "key_name": "name",
        "key_value": "callcenter.conf",
        "CC-Queue": "kcc@pbx.local",
    }
    doc = etree.fromstring(client.post(PATH, data=form).data)
    assert [q.get("name") for q in doc.iter("queue")] == ["kcc@pbx.local"]
    assert len(list(doc.iter("tier"))) == 10


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_credentials_are_demanded_when_set(demo_store, settings) -> None:
    cfg = settings.replace(xml_curl_user="freeswitch", xml_curl_password="s3cret")
    client = create_xml_curl_app(cfg, demo_store).test_client()

    anonymous = client.post(PATH, data=SIP_AUTH)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert (
        client.post(PATH, data=SIP_AUTH, headers=_basic("freeswitch", "x")).status_code
        == 401
    )
    assert (
        client.post(PATH, data=SIP_AUTH, headers=_basic("x", "s3cret")).status_code
        == 401
    )
    good = client.post(PATH, data=SIP_AUTH, headers=_basic("freeswitch", "s3cret"))
    assert good.status_code == 200
    assert b'<user id="2301"' in good.data


def test_only_allowed_addresses_may_ask(demo_store, settings) -> None:
    cfg = settings.replace(xml_curl_allow="10.0.0.0/8, 192.0.2.10")
    client = create_xml_curl_app(cfg, demo_store).test_client()

    def ask(addr: str) -> int:
        return client.post(
            PATH, data=SIP_AUTH, environ_base={"REMOTE_ADDR": addr}
        ).status_code

    assert ask("127.0.0.1") == 403
    assert ask("192.0.2.11") == 403
    assert ask("192.0.2.10") == 200
    assert ask("10.1.2.3") == 200


def test_a_bad_allow_list_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="xml_curl_allow"):
        parse_allow("10.0.0.0/8, not-a-network")


class _Unreachable:
    def current(self):
        raise ConnectionError("the database is not reachable")


def test_a_failure_on_our_side_is_503_with_the_not_found_document(
    demo_store, settings, caplog
) -> None:
    renderer = Renderer(settings, _Unreachable())
    client = create_xml_curl_app(settings, demo_store, renderer).test_client()
    response = client.post(PATH, data=SIP_AUTH)
    assert response.status_code == 503
    assert _not_found(response)
    assert b"Traceback" not in response.data
    assert "xml_curl directory" in caplog.text


def test_a_network_list_lookup_without_a_domain_gets_ours(client: Any) -> None:
    form = {"section": "directory", "purpose": "network-list"}
    doc = etree.fromstring(client.post(PATH, data=form).data)
    assert doc.find("section/domain").get("name") == "pbx.local"
    assert list(doc.iter("user")) == []
