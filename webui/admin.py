"""The administration portal: users and configuration revisions."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from orchestrator.store import models as m
from webui import errors, revisions, useredit
from webui.security import requires, user_or_fail

log = logging.getLogger(__name__)

blueprint = Blueprint("admin", __name__, url_prefix="/admin")
PAGE = 50


def _services() -> Any:
    return current_app.extensions["schakel"]


@blueprint.get("/users")
@requires(m.Role.ADMIN)
def users() -> Any:
    search = request.args.get("q", "").strip()[:80]
    with _services().store.session() as db:
        query = select(m.User).order_by(m.User.name)
        if search:
            like = f"%{search.lower()}%"
            query = query.where(
                or_(
                    func.lower(m.User.name).like(like),
                    func.lower(m.User.username).like(like),
                    m.User.extension.like(like),
                    m.User.did.like(like),
                )
            )
        rows = db.scalars(query).all()
        profiles = {p.id: p.name for p in db.scalars(select(m.Profile))}
    return render_template("admin/users.html", users=rows, profiles=profiles, q=search)


@blueprint.get("/users/<int:user_id>")
@requires(m.Role.ADMIN)
def user_edit(user_id: int) -> Any:
    with _services().store.session() as db:
        user = _user(db, user_id)
        return _form(db, user, useredit.current_values(user))


@blueprint.get("/users/new")
@requires(m.Role.ADMIN)
def user_new() -> Any:
    with _services().store.session() as db:
        empty = {"roles": [m.Role.USER.value], "active": True}
        return _form(db, None, empty)


def _form(
    db: Any,
    user: m.User | None,
    values: dict[str, Any],
    problems: dict[str, Any] | None = None,
    username: str = "",
) -> Any:
    profiles = db.scalars(select(m.Profile).order_by(m.Profile.name)).all()
    body = render_template(
        "admin/user_edit.html",
        edited=user,
        values=values,
        problems=problems or {},
        profiles=profiles,
        roles=useredit.ROLES,
        username=username,
    )
    return body, 422 if problems else 200


@blueprint.post("/users/<int:user_id>")
@requires(m.Role.ADMIN)
def user_save(user_id: int) -> Any:
    actor = user_or_fail()
    country = _services().settings.country
    made: dict[str, Any] = {}

    def change(db: Session) -> None:
        user = _user(db, user_id)
        values = useredit.parse(db, user, request.form, country)
        made.update(useredit.apply(db, actor, user, values))
        if not made:
            raise revisions.NothingChanged()

    try:
        with _services().store.session() as db:
            name = _user(db, user_id).name
        revisions.publish(actor, f"User {name} changed", change)
    except errors.InvalidInput as exc:
        with _services().store.session() as db:
            return _form(db, _user(db, user_id), _entered(request.form), exc.details)
    flash(_("Saved.") if made else _("Nothing was changed."))
    return redirect(url_for("admin.user_edit", user_id=user_id))


@blueprint.post("/users/new")
@requires(m.Role.ADMIN)
def user_create() -> Any:
    actor = user_or_fail()
    country = _services().settings.country
    username = request.form.get("username", "")
    created: list[int] = []

    def change(db: Session) -> None:
        values = useredit.parse(db, None, request.form, country)
        created.append(useredit.create(db, actor, username, values).id)

    try:
        revisions.publish(actor, f"User {username} added", change)
    except errors.InvalidInput as exc:
        with _services().store.session() as db:
            return _form(db, None, _entered(request.form), exc.details, username)
    flash(_("User added."))
    return redirect(url_for("admin.user_edit", user_id=created[0]))


def _entered(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {key: form.get(key, "") for key in useredit.FIELDS}
    values["roles"] = form.getlist("roles")
    values["active"] = form.get("active") == "on"
    return values


def _user(db: Any, user_id: int) -> m.User:
    user = db.get(m.User, user_id)
    if user is None:
        raise errors.NotFound()
    return user


@blueprint.get("/revisions")
@requires(m.Role.ADMIN)
def revision_list() -> Any:
    search, before = revisions.asked()
    with _services().store.session() as db:
        rows = revisions.recent(db, PAGE, before=before, search=search)
    older = rows[-1].id if len(rows) == PAGE else None
    return render_template(
        "admin/revisions.html", revisions=rows, q=search, older=older, before=before
    )


@blueprint.get("/revisions/<int:revision_id>")
@requires(m.Role.ADMIN)
def revision(revision_id: int) -> Any:
    with _services().store.session() as db:
        found = db.get(m.ConfigRevision, revision_id)
        if found is None:
            raise errors.NotFound()
        lines = revisions.diff_lines(found.diff)
        latest = revisions.latest_id(db)
        return render_template(
            "admin/revision.html", revision=found, lines=lines, latest=latest
        )


@blueprint.post("/revisions/<int:revision_id>/restore")
@requires(m.Role.ADMIN)
def revision_restore(revision_id: int) -> Response:
    actor = user_or_fail()
    new_id = revisions.restore(actor, revision_id)
    flash(
        _("Revision %(old)s restored as revision %(new)s.", old=revision_id, new=new_id)
    )
    return redirect(url_for("admin.revision", revision_id=new_id))
