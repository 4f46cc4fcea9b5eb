"""Web routes for a user's own calls, call list, presence and voicemail.

Registered by the web app's factory (``blueprint``). Every route needs a
signed-in user with a phone; a request that changes something carries the
session's CSRF token, as everywhere in the app. Failures are answered as
``{"error": id, "message": text, "details": {...}}`` with the status of
the failure (see `orchestrator.calls.errors`), the text in the user's
language.

    GET    /api/v1/calls                              live calls of the user
    POST   /api/v1/calls/<uuid>/hold | /unhold        (music for the caller)
    POST   /api/v1/calls/<uuid>/transfer              {"destination": ...} blind
    POST   /api/v1/calls/<uuid>/attended-transfer     {"destination": ...}
    GET    /api/v1/calls/<uuid>/attended-transfer     its state
    POST   /api/v1/calls/<uuid>/cancel-transfer
    POST   /api/v1/calls/<uuid>/complete-transfer
    GET    /api/v1/calls/history?kind=placed|answered|missed&limit=&before=
    GET    /api/v1/presence                           everyone's presence
    GET    /api/v1/voicemail                          the user's messages
    GET    /api/v1/voicemail/<id>/audio
    POST   /api/v1/voicemail/<id>/heard               {"heard": true|false}
    DELETE /api/v1/voicemail/<id>
    GET|PUT /api/v1/voicemail/greeting                audio/wav
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import get_locale

from orchestrator import voicemail as voicemail_mod
from orchestrator.calls import errors
from orchestrator.calls.history import FILTERS, call_list
from orchestrator.calls.runtime import Features, features_of
from orchestrator.store import models as m
from webui.security import requires, user_or_fail

log = logging.getLogger(__name__)

blueprint = Blueprint("calls", __name__, url_prefix="/api/v1")

PHONE_ROLES = (m.Role.USER, m.Role.AGENT, m.Role.SUPERVISOR)
MAX_LIMIT = 200

# What users read when something fails, by error id: Dutch, then English.
_MESSAGES: dict[str, tuple[str, str]] = {
    "call-not-found": (
        "Dit gesprek bestaat niet (meer).",
        "This call does not exist (any more).",
    ),
    "transfer-not-found": (
        "Er loopt geen doorverbinding voor dit gesprek.",
        "There is no transfer for this call.",
    ),
    "call-not-bridged": (
        "Dit gesprek is (nog) niet verbonden.",
        "This call is not connected (yet).",
    ),
    "call-already-on-hold": (
        "Dit gesprek staat al in de wacht.",
        "This call is already on hold.",
    ),
    "call-not-on-hold": (
        "Dit gesprek staat niet in de wacht.",
        "This call is not on hold.",
    ),
    "transfer-in-progress": (
        "Dit gesprek wordt al doorverbonden.",
        "This call is already being transferred.",
    ),
    "transfer-not-allowed": (
        "Dat kan nu niet bij deze doorverbinding.",
        "That is not possible for this transfer now.",
    ),
    "invalid-destination": (
        "Vul een geldig nummer of toestel in.",
        "Please enter a valid number or extension.",
    ),
    "switch-refused": (
        "De telefooncentrale weigerde dit.",
        "The telephone switch refused this.",
    ),
    "switch-unavailable": (
        "De telefooncentrale is nu niet bereikbaar. Er is niets veranderd.",
        "The telephone switch cannot be reached now. Nothing was changed.",
    ),
    "invalid-input": (
        "Niet alle velden zijn goed ingevuld.",
        "Some fields are not filled in correctly.",
    ),
    "voicemail-message-not-found": (
        "Dit voicemailbericht bestaat niet.",
        "This voicemail message does not exist.",
    ),
    "voicemail-audio-missing": (
        "Het geluidsbestand van dit bericht is niet beschikbaar.",
        "The sound file of this message is not available.",
    ),
    "voicemail-greeting-not-found": (
        "U heeft nog geen begroeting ingesproken.",
        "You have not recorded a greeting yet.",
    ),
    "voicemail-greeting-invalid": (
        "De begroeting moet een WAV-bestand zijn.",
        "The greeting must be a WAV file.",
    ),
    "voicemail-switch-unavailable": (
        "De telefooncentrale is nu niet bereikbaar. Er is niets veranderd.",
        "The telephone switch cannot be reached now. Nothing was changed.",
    ),
}


class InvalidInput(errors.CallError):
    status = 422
    error_id = "invalid-input"


def _message(error_id: str, fallback: str) -> str:
    texts = _MESSAGES.get(error_id)
    if texts is None:
        return fallback
    locale = get_locale()
    return texts[1] if locale is not None and locale.language == "en" else texts[0]


def _answer(error: Exception, status: int, error_id: str, details: Any) -> Response:
    body = {
        "error": error_id,
        "message": _message(error_id, str(error)),
        "details": details or {},
    }
    response = jsonify(body)
    response.status_code = status
    return response


@blueprint.errorhandler(errors.CallError)
def _call_error(error: errors.CallError) -> Response:
    if error.status >= 500:
        log.warning("calls api %s: %s", error.error_id, error.message)
    return _answer(error, error.status, error.error_id, error.details)


@blueprint.errorhandler(voicemail_mod.VoicemailError)
def _voicemail_error(error: voicemail_mod.VoicemailError) -> Response:
    return _answer(error, error.status, error.error_id, error.details)


def _features() -> Features:
    return features_of(current_app.extensions["schakel"])


def _destination() -> str:
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("destination"), str):
        raise InvalidInput(
            "destination missing", destination="a number or extension is needed"
        )
    return data["destination"]


# -- live calls ------------------------------------------------------------------


@blueprint.get("/calls")
@requires(*PHONE_ROLES)
def calls() -> Response:
    user = user_or_fail()
    return jsonify(calls=_features().calls.calls_of(user.username))


@blueprint.post("/calls/<uuid>/hold")
@requires(*PHONE_ROLES)
def hold(uuid: str) -> Response:
    _features().calls.hold(user_or_fail().username, uuid)
    return jsonify(uuid=uuid, held=True)


@blueprint.post("/calls/<uuid>/unhold")
@requires(*PHONE_ROLES)
def unhold(uuid: str) -> Response:
    _features().calls.unhold(user_or_fail().username, uuid)
    return jsonify(uuid=uuid, held=False)


@blueprint.post("/calls/<uuid>/transfer")
@requires(*PHONE_ROLES)
def transfer(uuid: str) -> tuple[Response, int]:
    destination = _destination()
    caller = _features().calls.blind_transfer(
        user_or_fail().username, uuid, destination
    )
    return jsonify(uuid=uuid, caller=caller, destination=destination), 202


@blueprint.post("/calls/<uuid>/attended-transfer")
@requires(*PHONE_ROLES)
def attended_transfer(uuid: str) -> tuple[Response, int]:
    destination = _destination()
    started = _features().calls.start_attended(
        user_or_fail().username, uuid, destination
    )
    return jsonify(started.public()), 202


@blueprint.get("/calls/<uuid>/attended-transfer")
@requires(*PHONE_ROLES)
def attended_transfer_state(uuid: str) -> Response:
    found = _features().calls.transfer_of(user_or_fail().username, uuid)
    return jsonify(found.public())


@blueprint.post("/calls/<uuid>/cancel-transfer")
@requires(*PHONE_ROLES)
def cancel_transfer(uuid: str) -> Response:
    done = _features().calls.cancel_transfer(user_or_fail().username, uuid)
    return jsonify(done.public())


@blueprint.post("/calls/<uuid>/complete-transfer")
@requires(*PHONE_ROLES)
def complete_transfer(uuid: str) -> Response:
    done = _features().calls.complete_transfer(user_or_fail().username, uuid)
    return jsonify(done.public())


# -- call list and presence --------------------------------------------------------


@blueprint.get("/calls/history")
@requires(*PHONE_ROLES)
def call_history() -> Response:
    kind = request.args.get("kind") or None
    if kind is not None and kind not in FILTERS:
        raise InvalidInput("unknown kind", kind=f"one of {', '.join(FILTERS)}")
    limit = _whole(request.args.get("limit"), "limit", 50)
    before = _whole(request.args.get("before"), "before", None)
    user = user_or_fail()
    with _features().store.session() as session:
        entries = call_list(
            session,
            user.id,
            kind=kind,
            limit=min(limit or 50, MAX_LIMIT),
            before_id=before,
        )
    return jsonify(calls=[entry.as_json() for entry in entries])


def _whole(raw: str | None, name: str, default: int | None) -> int | None:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(f"{name} is not a whole number", **{name: raw})
    return int(raw)


@blueprint.get("/presence")
@requires(*PHONE_ROLES)
def presence_states() -> Response:
    return jsonify(presence=_features().presence.states())


# -- voicemail ------------------------------------------------------------------------


@blueprint.get("/voicemail")
@requires(*PHONE_ROLES)
def voicemail_list() -> Response:
    messages = _features().voicemail.messages(user_or_fail().id)
    return jsonify(messages=[message.as_json() for message in messages])


@blueprint.get("/voicemail/<int:message_id>/audio")
@requires(*PHONE_ROLES)
def voicemail_audio(message_id: int) -> Response:
    data, name = _features().voicemail.audio(user_or_fail().id, message_id)
    response = Response(data, mimetype="audio/wav")
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@blueprint.post("/voicemail/<int:message_id>/heard")
@requires(*PHONE_ROLES)
def voicemail_heard(message_id: int) -> Response:
    data = request.get_json(silent=True)
    heard = data.get("heard", True) if isinstance(data, dict) else True
    if not isinstance(heard, bool):
        raise InvalidInput("heard must be true or false", heard="true or false")
    _features().voicemail.mark_heard(user_or_fail().id, message_id, heard)
    return jsonify(id=message_id, heard=heard)


@blueprint.delete("/voicemail/<int:message_id>")
@requires(*PHONE_ROLES)
def voicemail_delete(message_id: int) -> tuple[str, int]:
    _features().voicemail.delete(user_or_fail().id, message_id)
    return "", 204


@blueprint.get("/voicemail/greeting")
@requires(*PHONE_ROLES)
def greeting_get() -> Response:
    data = _features().voicemail.greeting_or_fail(user_or_fail().username)
    return Response(data, mimetype="audio/wav")


@blueprint.put("/voicemail/greeting")
@requires(*PHONE_ROLES)
def greeting_put() -> tuple[str, int]:
    # A greeting is larger than the app's usual request limit.
    request.max_content_length = voicemail_mod.MAX_GREETING_BYTES
    data = request.get_data(cache=False)
    _features().voicemail.set_greeting(user_or_fail().id, data)
    return "", 204
