""" "My telephony": the end user's own settings, calls and voicemail."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from orchestrator.store import models as m
from webui import errors, history, revisions, selfservice
from webui.security import requires, user_or_fail

log = logging.getLogger(__name__)

blueprint = Blueprint("me", __name__, url_prefix="/me")

# Everybody with a phone: end users, and agents and supervisors, who are end
# users too.
PHONE_ROLES = (m.Role.USER, m.Role.AGENT, m.Role.SUPERVISOR)


def _services() -> Any:
    return current_app.extensions["schakel"]


@blueprint.get("")
@requires(*PHONE_ROLES)
def index() -> Any:
    return _render_index()


def _render_index(
    problems: dict[str, dict[str, Any]] | None = None,
    entered: dict[str, Any] | None = None,
) -> Any:
    user = user_or_fail()
    with _services().store.session() as db:
        forwards = selfservice.forwards_of(db, user)
        if entered:
            forwards = [
                _entered(f, entered) if f.kind == entered["kind"] else f
                for f in forwards
            ]
        page = render_template(
            "me/index.html",
            forwards=forwards,
            problems=problems or {},
            groups=selfservice.hunt_memberships(db, user),
            queues=db.scalars(select(m.Queue).order_by(m.Queue.name)).all(),
        )
    return page, 422 if problems else 200


def _entered(current: Any, form: dict[str, Any]) -> selfservice.ForwardChoice:
    """What the user typed, shown again beside the errors."""
    try:
        seconds = int(form.get("seconds") or current.seconds)
    except ValueError:
        seconds = current.seconds
    try:
        queue_id = int(form.get("queue_id") or 0) or None
    except ValueError:
        queue_id = None
    return selfservice.ForwardChoice(
        kind=current.kind,
        enabled=selfservice._truthy(form.get("enabled")),
        target=str(form.get("target") or current.target),
        number=str(form.get("number") or ""),
        seconds=seconds,
        queue_id=queue_id,
    )


@blueprint.post("/dnd")
@requires(*PHONE_ROLES)
def dnd() -> Response:
    user = user_or_fail()
    on = request.form.get("dnd") == "on"
    selfservice.publish_dnd(user, on)
    flash(_("Do not disturb is on.") if on else _("Do not disturb is off."))
    return redirect(url_for("me.index"))


@blueprint.post("/forwards/<kind>")
@requires(*PHONE_ROLES)
def forward(kind: str) -> Any:
    user = user_or_fail()
    country = _services().settings.country
    form = request.form

    def change(db: Session) -> None:
        selfservice.save_forward(db, user, kind, form, country)

    try:
        revisions.publish(user, f"Forwarding {kind} of {user.username}", change)
    except errors.InvalidInput as exc:
        entered = dict(request.form.items()) | {"kind": kind}
        return _render_index({kind: exc.details}, entered)
    flash(_("Forwarding saved."))
    return redirect(url_for("me.index") + f"#forward-{kind}")


@blueprint.post("/groups/<int:group_id>")
@requires(*PHONE_ROLES)
def group(group_id: int) -> Response:
    user = user_or_fail()
    logged_in = request.form.get("logged_in") == "on"
    names: list[str] = []

    def change(db: Session) -> None:
        names.append(selfservice.set_hunt_membership(db, user, group_id, logged_in))

    what = "logged in to" if logged_in else "logged out of"
    revisions.publish(user, f"{user.username} {what} hunt group {group_id}", change)
    name = names[0]
    if logged_in:
        flash(_("You are logged in to %(group)s.", group=name))
    else:
        flash(_("You are logged out of %(group)s.", group=name))
    return redirect(url_for("me.index") + "#groups")


@blueprint.get("/calls")
@requires(*PHONE_ROLES)
def calls() -> Any:
    user = user_or_fail()
    which = request.args.get("filter", "all")
    if which not in history.FILTERS:
        which = "all"
    with _services().store.session() as db:
        rows = history.calls_of(db, user.id, which)
    return render_template("me/calls.html", calls=rows, which=which)


@blueprint.get("/voicemail")
@requires(*PHONE_ROLES)
def voicemail() -> Any:
    user = user_or_fail()
    with _services().store.session() as db:
        messages = history.voicemail_of(db, user.id)
    return render_template("me/voicemail.html", messages=messages)


@blueprint.get("/voicemail/<int:message_id>/audio")
@requires(*PHONE_ROLES)
def voicemail_audio(message_id: int) -> Response:
    user = user_or_fail()
    with _services().store.session() as db:
        message = _own_message(db, user.id, message_id)
        path = voicemail_file(_services().settings.voicemail_dir, message.path)
        message.heard = True
    return send_file(path, mimetype="audio/wav", conditional=True, max_age=0)


@blueprint.post("/voicemail/<int:message_id>/delete")
@requires(*PHONE_ROLES)
def voicemail_delete(message_id: int) -> Response:
    user = user_or_fail()
    with _services().store.session() as db:
        message = _own_message(db, user.id, message_id)
        db.delete(message)
    log.info("user %s deleted voicemail %s", user.username, message_id)
    flash(_("Message deleted."))
    return redirect(url_for("me.voicemail"))


def _own_message(db: Session, user_id: int, message_id: int) -> m.VoicemailMessage:
    message = db.get(m.VoicemailMessage, message_id)
    # Somebody else's message looks exactly like a missing one.
    if message is None or message.user_id != user_id:
        raise errors.NotFound()
    return message


def voicemail_file(root: str, stored: str) -> Path:
    """The message's file, which must lie inside the voicemail directory.

    The path comes from the switch's event and is trusted no further than
    that: anything resolving outside ``root`` is refused as missing.
    """
    base = Path(root).resolve()
    candidate = (base / stored).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        log.warning("voicemail file %r refused (outside %s or missing)", stored, base)
        raise errors.NotFound()
    return candidate
