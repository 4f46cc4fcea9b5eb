"""webui/openapi.yaml describes the running app: the same paths, methods and shapes."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from webui_helpers import sign_in, user_id

from orchestrator.calls.presence import CALLS_KEY, PRESENCE_KEY
from orchestrator.store import models as m
from orchestrator.store.db import Store

SPEC_PATH = Path(__file__).resolve().parents[2] / "webui" / "openapi.yaml"
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def _app_operations(app: Flask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/health")):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            found.add((path, method.lower()))
    return found


def _spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


def test_spec_and_app_have_the_same_operations(
    app: Flask, spec: dict[str, Any]
) -> None:
    assert _spec_operations(spec) == _app_operations(app)


def test_every_operation_declares_its_errors(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            statuses = operation["responses"]
            assert any(code.startswith("2") for code in statuses), (method, path)
            if operation.get("security") == []:
                continue
            assert "401" in statuses, (method, path)
            if method != "get":
                # A missing or wrong CSRF token is refused with 403.
                assert "403" in statuses, (method, path)
                names = [p.get("$ref", "") for p in operation.get("parameters", [])]
                assert "#/components/parameters/CsrfToken" in names, (method, path)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def check(spec: dict[str, Any], schema: dict[str, Any], value: Any, at: str) -> None:
    """A small JSON Schema check: types, required, enums, items, allOf."""
    schema = _resolve(spec, schema)
    for part in schema.get("allOf", []):
        check(spec, part, value, at)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        python = {
            "object": dict,
            "array": list,
            "string": str,
            "integer": int,
            "number": (int, float),
            "boolean": bool,
            "null": type(None),
        }
        assert any(
            isinstance(value, python[k]) and not (k == "integer" and value is True)
            for k in kinds
        ), f"{at}: {value!r} is not {kinds}"
    if "enum" in schema and value is not None:
        assert value in schema["enum"], f"{at}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        for name in schema.get("required", []):
            assert name in value, f"{at}: {name} missing"
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                check(spec, sub, value[name], f"{at}.{name}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name, item in value.items():
                check(spec, extra, item, f"{at}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            check(spec, schema["items"], item, f"{at}[{index}]")


def _answer_schema(spec: dict[str, Any], path: str, method: str, status: str) -> Any:
    response = _resolve(spec, spec["paths"][path][method]["responses"][status])
    return response["content"]["application/json"]["schema"]


@pytest.fixture
def everything(client: FlaskClient, store: Store, app: Flask) -> FlaskClient:
    """Signed in with every role, with a call, a message and a live call."""
    carla = user_id(store, "carla")
    with store.session() as db:
        db.get(m.User, carla).roles = ["admin", "supervisor", "agent", "user"]
        db.add(
            m.CallRecord(
                call_uuid="c1",
                user_id=carla,
                direction="in",
                result="missed",
                caller_number="+31612345678",
                started_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
            )
        )
        db.add(m.VoicemailMessage(user_id=carla, path="2303/a.wav", duration_s=3))
    live = app.extensions["schakel"].live
    live.hset(PRESENCE_KEY, "carla", "busy")
    live.hset(
        CALLS_KEY,
        "leg-1",
        json.dumps(
            {
                "type": "call",
                "uuid": "leg-1",
                "state": "active",
                "from": "+31612345678",
                "from_name": "",
                "to": "2303",
                "user": "carla",
                "extension": "2303",
                "since": 1772442000.0,
            }
        ),
    )
    sign_in(client, "carla")
    return client


def test_answers_match_the_spec(
    everything: FlaskClient, spec: dict[str, Any], store: Store
) -> None:
    carla = user_id(store, "carla")
    token = everything.get("/api/v1/me").json["csrf_token"]
    calls = [
        ("get", "/health", "/health", None),
        ("get", "/health/ready", "/health/ready", None),
        ("get", "/api/v1/openapi.json", "/api/v1/openapi.json", None),
        ("get", "/api/v1/me", "/api/v1/me", None),
        ("get", "/api/v1/me/forwards", "/api/v1/me/forwards", None),
        ("get", "/api/v1/me/calls", "/api/v1/me/calls", None),
        ("get", "/api/v1/me/voicemail", "/api/v1/me/voicemail", None),
        ("get", "/api/v1/live", "/api/v1/live", None),
        ("get", "/api/v1/users", "/api/v1/users", None),
        ("get", "/api/v1/users/{user_id}", f"/api/v1/users/{carla}", None),
        ("get", "/api/v1/revisions", "/api/v1/revisions", None),
        ("put", "/api/v1/me/dnd", "/api/v1/me/dnd", {"dnd": True}),
        (
            "put",
            "/api/v1/me/forwards/{kind}",
            "/api/v1/me/forwards/busy",
            {"enabled": True, "target": "external", "number": "0612345678"},
        ),
        (
            "patch",
            "/api/v1/users/{user_id}",
            f"/api/v1/users/{carla}",
            {"name": "Carla J."},
        ),
    ]
    for method, template, url, body in calls:
        response = everything.open(
            url, method=method.upper(), json=body, headers={"X-CSRF-Token": token}
        )
        assert response.status_code == 200, (url, response.json)
        check(spec, _answer_schema(spec, template, method, "200"), response.json, url)


def test_error_answers_match_the_spec(
    everything: FlaskClient, client: FlaskClient, spec: dict[str, Any]
) -> None:
    token = everything.get("/api/v1/me").json["csrf_token"]
    refused = everything.put(
        "/api/v1/me/forwards/busy",
        json={"target": "external", "number": "nonsense"},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status_code == 422
    check(spec, {"$ref": "#/components/schemas/Error"}, refused.json, "422")
    assert refused.json["details"] == {"number": "Dit is geen geldig telefoonnummer."}


# -- the Dutch government's API design rules (API Design Rules, core) ------


def test_the_description_is_published_as_json_for_anyone(
    client: FlaskClient, spec: dict[str, Any]
) -> None:
    # API-51: the OAS document at a standard place, in JSON, reachable
    # from other sites' documentation tools.
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert answer.json == spec
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_every_answer_names_the_full_version(
    everything: FlaskClient, client: FlaskClient, spec: dict[str, Any]
) -> None:
    # API-57 and API-56: the full semantic version in a header, the major
    # one (API-20) in the path.
    version = spec["info"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    for answer in (
        everything.get("/api/v1/me"),
        client.get("/api/v1/me"),  # refused: not signed in
        client.get("/api/v1/no-such-thing"),
    ):
        assert answer.headers["API-Version"] == version
    assert "API-Version" not in client.get("/login").headers


def test_paths_carry_the_major_version_and_no_trailing_slash(app: Flask) -> None:
    # API-20 and API-48.
    major = "/api/v" + str(int(_spec_version().split(".")[0])) + "/"
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            assert rule.rule.startswith(major), rule.rule
            assert not rule.rule.endswith("/"), rule.rule


def _spec_version() -> str:
    return str(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))["info"]["version"])
