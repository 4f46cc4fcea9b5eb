"""The JSON API under ``/api/v1``, described in ``webui/openapi.yaml``.

It uses the same session as the pages: a signed-in browser (or a client that
signed in through ``/login``) sends the session cookie, and every request
that changes something carries the session's CSRF token in the
``X-CSRF-Token`` header (``GET /api/v1/me`` returns it).

Following the Dutch government's API design rules: the major version is in
the path, the full version in every answer's ``API-Version`` header, and
the description at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import functools
import logging
from importlib import resources
from typing import Any

import yaml
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.store import models as m
from webui import errors, history, livestate, revisions, selfservice, useredit
from webui.admin import PAGE
from webui.live import LIVE_ROLES
from webui.me import PHONE_ROLES
from webui.security import csrf_token, public, requires, user_or_fail

log = logging.getLogger(__name__)

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


def _services() -> Any:
    return current_app.extensions["schakel"]


@functools.cache
def description() -> dict[str, Any]:
    """The OpenAPI description of this API (``webui/openapi.yaml``)."""
    text = resources.files("webui").joinpath("openapi.yaml").read_text("utf-8")
    found: dict[str, Any] = yaml.safe_load(text)
    return found


def version() -> str:
    """The API's full version (semantic versioning)."""
    return str(description()["info"]["version"])


def add_version(response: Response) -> Response:
    """Every answer of the API says which version gave it (API-Version)."""
    if request.path.startswith("/api/"):
        response.headers["API-Version"] = version()
    return response


@blueprint.get("/openapi.json")
@public
def openapi() -> Any:
    response = jsonify(description())
    # Published for anyone's tools, documentation viewers on other sites too.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise errors.InvalidInput(
            details={
                "body": "a JSON object is expected (Content-Type: application/json)"
            }
        )
    return data


def _user_json(user: m.User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "did": user.did,
        "extension": user.extension,
        "mobile": user.mobile,
        "roles": sorted(user.roles or []),
        "profile_id": user.profile_id,
        "language": user.language,
        "dnd": user.dnd,
        "active": user.active,
    }


@blueprint.get("/me")
@requires()
def me() -> Any:
    return jsonify(_user_json(user_or_fail()) | {"csrf_token": csrf_token()})


@blueprint.put("/me/dnd")
@requires(*PHONE_ROLES)
def me_dnd() -> Any:
    value = _body().get("dnd")
    if not isinstance(value, bool):
        raise errors.InvalidInput(details={"dnd": "true or false"})
    selfservice.publish_dnd(user_or_fail(), value)
    return jsonify(dnd=value)


@blueprint.get("/me/forwards")
@requires(*PHONE_ROLES)
def me_forwards() -> Any:
    user = user_or_fail()
    with _services().store.session() as db:
        rules = selfservice.forwards_of(db, user)
    return jsonify([rule.as_dict() for rule in rules])


@blueprint.put("/me/forwards/<kind>")
@requires(*PHONE_ROLES)
def me_forward_put(kind: str) -> Any:
    user = user_or_fail()
    body = _body()
    country = _services().settings.country

    def change(db: Session) -> None:
        selfservice.save_forward(db, user, kind, body, country)

    revisions.publish(user, f"Forwarding {kind} of {user.username}", change)
    with _services().store.session() as db:
        rule = next(f for f in selfservice.forwards_of(db, user) if f.kind == kind)
    return jsonify(rule.as_dict())


@blueprint.get("/me/calls")
@requires(*PHONE_ROLES)
def me_calls() -> Any:
    which = request.args.get("filter", "all")
    if which not in history.FILTERS:
        raise errors.InvalidInput(details={"filter": ", ".join(history.FILTERS)})
    with _services().store.session() as db:
        lines = history.calls_of(db, user_or_fail().id, which)
    return jsonify([line.as_json() for line in lines])


@blueprint.get("/me/voicemail")
@requires(*PHONE_ROLES)
def me_voicemail() -> Any:
    with _services().store.session() as db:
        messages = history.voicemail_of(db, user_or_fail().id)
        return jsonify(
            [
                {
                    "id": v.id,
                    "caller_number": v.caller_number,
                    "caller_name": v.caller_name,
                    "duration_s": v.duration_s,
                    "created_at": v.created_at.isoformat(),
                    "heard": v.heard,
                }
                for v in messages
            ]
        )


@blueprint.get("/live")
@requires(*LIVE_ROLES)
def live_snapshot() -> Any:
    services = _services()
    return jsonify(livestate.snapshot(services.live, services.settings.country))


@blueprint.get("/users")
@requires(m.Role.ADMIN)
def users() -> Any:
    with _services().store.session() as db:
        rows = db.scalars(select(m.User).order_by(m.User.name)).all()
        return jsonify([_user_json(u) for u in rows])


@blueprint.get("/users/<int:user_id>")
@requires(m.Role.ADMIN)
def user(user_id: int) -> Any:
    with _services().store.session() as db:
        found = db.get(m.User, user_id)
        if found is None:
            raise errors.NotFound()
        return jsonify(_user_json(found))


@blueprint.patch("/users/<int:user_id>")
@requires(m.Role.ADMIN)
def user_patch(user_id: int) -> Any:
    actor = user_or_fail()
    body = _body()
    unknown = sorted(set(body) - set(useredit.FIELDS))
    if unknown:
        raise errors.InvalidInput(details={name: "unknown field" for name in unknown})
    country = _services().settings.country

    def change(db: Session) -> None:
        found = db.get(m.User, user_id)
        if found is None:
            raise errors.NotFound()
        values = useredit.current_values(found) | body
        checked = useredit.parse(db, found, values, country)
        if not useredit.apply(db, actor, found, checked):
            raise revisions.NothingChanged()

    revisions.publish(actor, f"User {user_id} changed", change)
    with _services().store.session() as db:
        found = db.get(m.User, user_id)
        assert found is not None
        return jsonify(_user_json(found))


@blueprint.get("/revisions")
@requires(m.Role.ADMIN)
def revision_list() -> Any:
    search, before = revisions.asked()
    with _services().store.session() as db:
        rows = revisions.recent(db, PAGE, before=before, search=search)
        return jsonify(
            [
                {
                    "id": r.id,
                    "created_at": r.created_at.isoformat(),
                    "author": r.author,
                    "summary": r.summary,
                    "restored_from": r.restored_from,
                }
                for r in rows
            ]
        )
