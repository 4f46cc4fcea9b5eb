"""A hunt group's voicemail box: its directory entry, its dialplan, its checks.

In the demo, Servicedesk ICT (extension 2520) falls back to "voicemail or
contact centre"; the other groups fall back to a queue or a group.
"""

from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import select

from orchestrator.config import revisions, validate
from orchestrator.config.notifier import Notifier
from orchestrator.config.render import Renderer
from orchestrator.store import models as m

BOX = "2520"


def _parse(xml: str | None) -> etree._Element:
    assert xml is not None
    return etree.fromstring(xml.encode())


def _group(session, name: str = "Servicedesk ICT") -> m.HuntGroup:
    return session.scalars(select(m.HuntGroup).where(m.HuntGroup.name == name)).one()


def test_the_groups_box_is_in_the_directory(renderer: Renderer) -> None:
    doc = _parse(renderer.render_directory("pbx.local", BOX))
    (user,) = doc.iter("user")
    assert user.get("id") == BOX
    params = {p.get("name"): p.get("value") for p in user.iter("param")}
    assert params["vm-enabled"] == "true"
    # Nobody registers as the box: its password is long, random, unknown.
    assert len(params["password"]) >= 32
    assert "vm-mailto" not in params
    variables = {v.get("name"): v.get("value") for v in user.iter("variable")}
    assert variables["schakel_vm_box"] == BOX
    assert variables["effective_caller_id_name"] == "Servicedesk ICT"
    assert variables["domain_name"] == "pbx.local"


def test_groups_without_a_voicemail_fallback_have_no_box(
    renderer: Renderer,
) -> None:
    # Burgerzaken (2500) falls back to the queue.
    assert renderer.render_directory("pbx.local", "2500") is None
    whole = _parse(renderer.render_whole_directory())
    ids = {user.get("id") for user in whole.iter("user")}
    assert BOX in ids and "2500" not in ids


def test_the_group_sets_its_box_before_the_choice(renderer: Renderer) -> None:
    doc = _parse(renderer.render_dialplan("default", BOX))
    data = [a.get("data") for a in doc.iter("action") if a.get("application") == "set"]
    assert f"schakel_vmq_box={BOX}" in data
    assert any(d.startswith("schakel_fwd_to=vm_or_queue-") for d in data)


def test_a_voicemail_fallback_needs_the_groups_extension(demo_store) -> None:
    def drop_extension(session) -> None:
        _group(session).extension = None

    with pytest.raises(validate.InvalidValue) as refused:
        revisions.publish(demo_store, "beheer", "bad", drop_extension,
                          notifier=Notifier())  # fmt: skip
    assert refused.value.field == "extension"
    assert "Servicedesk ICT" in str(refused.value)
    assert "voicemail" in refused.value.message
    with demo_store.session() as session:
        assert _group(session).extension == BOX


def test_a_queue_fallback_needs_no_extension(demo_store) -> None:
    def drop_extension(session) -> None:
        _group(session, "Burgerzaken").extension = None

    revisions.publish(demo_store, "beheer", "ok", drop_extension,
                      notifier=Notifier())  # fmt: skip
    with demo_store.session() as session:
        assert _group(session, "Burgerzaken").extension is None


def test_a_group_address_is_kept(demo_store) -> None:
    def give_address(session) -> None:
        _group(session).email = "servicedesk@voorbeeldstad.nl"

    revisions.publish(demo_store, "beheer", "ok", give_address, notifier=Notifier())
    with demo_store.session() as session:
        assert _group(session).email == "servicedesk@voorbeeldstad.nl"
