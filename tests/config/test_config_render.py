"""Rendering directory, dialplan and configuration from the store."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from sqlalchemy import select

from orchestrator.config import revisions
from orchestrator.config.render import Renderer
from orchestrator.config.view import ViewCache, number_pattern
from orchestrator.store import models as m

HOSTILE = 'O\'Brien <&> "Zoë"'


def _parse(xml: str | None) -> etree._Element:
    assert xml is not None
    return etree.fromstring(xml.encode())


def _variables(doc: etree._Element) -> dict[str, str]:
    return {v.get("name"): v.get("value") for v in doc.iter("variable")}


def _params(doc: etree._Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in doc.iter("param")}


def test_directory_entry_of_a_desk_phone(renderer: Renderer) -> None:
    doc = _parse(renderer.render_directory("pbx.local", "2301"))
    (user,) = doc.iter("user")
    assert user.get("id") == "2301"
    params = _params(user)
    assert params["password"] and params["vm-password"]
    assert params["vm-enabled"] == "true"
    # The orchestrator mails voicemail; the switch must not send a second one.
    assert "vm-mailto" not in params and "vm-email-all-messages" not in params
    variables = _variables(user)
    assert variables["user_context"] == "default"
    assert variables["effective_caller_id_number"] == "2301"
    assert variables["outbound_caller_id_number"] == "+31317492301"
    assert variables["accountcode"] == "anna"
    assert variables["schakel_call_rights"] == variables["toll_allow"]
    assert "international" in variables["toll_allow"].split(",")
    assert variables["callgroup"] == "kcc"
    assert variables["schakel_vm_enabled"] == "true"
    assert variables["schakel_user_id"] == "1"
    assert variables["default_language"] == "nl"


def test_the_app_of_a_user_shows_the_desk_phones_box(renderer: Renderer) -> None:
    doc = _parse(renderer.render_directory("pbx.local", "2301-app"))
    assert _params(doc)["MWI-Account"] == "2301@pbx.local"
    assert _variables(doc)["schakel_vm_box"] == "2301"


def test_the_directory_answers_only_its_own_domain_and_users(
    renderer: Renderer,
) -> None:
    assert renderer.render_directory("other.example", "2301") is None
    assert renderer.render_directory("pbx.local", "9999") is None
    assert renderer.render_directory("PBX.LOCAL", "2301@pbx.local") is not None


def test_the_domain_alone_for_gateways_and_network_lists(renderer: Renderer) -> None:
    for purpose in ("gateways", "network-list"):
        doc = _parse(renderer.render_directory("pbx.local", purpose=purpose))
        assert doc.find("section/domain").get("name") == "pbx.local"
        assert list(doc.iter("user")) == []


def _rename(store, username: str, name: str) -> None:
    def change(session):
        user = session.scalars(select(m.User).where(m.User.username == username)).one()
        user.name = name

    revisions.publish(store, "test", "rename", change)


def test_a_hostile_name_renders_to_valid_xml(demo_store, settings) -> None:
    _rename(demo_store, "bram", HOSTILE)
    renderer = Renderer(settings, ViewCache(demo_store, settings))

    directory = _parse(renderer.render_directory("pbx.local", "2302"))
    assert _variables(directory)["effective_caller_id_name"] == HOSTILE
    dialplan = _parse(renderer.render_dialplan("public", "0317492302"))
    routes = [a.get("data") for a in dialplan.iter("action")]
    assert f"schakel_route={HOSTILE}" in routes
    for context in ("public", "default", "targets"):
        _parse(renderer.render_dialplan(context))


@pytest.mark.parametrize(
    "dialled",
    ["0317492345", "+31317492345", "0031317492345", "31317492345", "317492345"],
)
def test_every_trunk_form_of_a_did_finds_the_user(
    renderer: Renderer, dialled: str
) -> None:
    doc = _parse(renderer.render_dialplan("public", dialled))
    first = next(doc.iter("extension"))
    while first.get("continue") == "true":
        first = first.getnext()
    assert first.get("name") == "public:+31317492345"
    assert re.search(first.find("condition").get("expression"), dialled)
    assert renderer.render_dialplan("public", dialled) == renderer.render_dialplan(
        "public", "+31317492345"
    )


def test_number_pattern_takes_the_forms_and_nothing_else() -> None:
    pattern = re.compile(number_pattern("+31317492345"))
    for good in ("0317492345", "+31317492345", "0031317492345", "31317492345"):
        assert pattern.search(good)
    for bad in ("0317492346", "+310317492345", "003131749234", "06317492345", "x"):
        assert not pattern.search(bad)
    short = re.compile(number_pattern("+31317492345", 4))
    assert short.search("2345") and short.search("0317492345")
    assert not short.search("12345")


def test_queues_menus_and_on_call_are_parked_for_the_orchestrator(
    renderer: Renderer,
) -> None:
    cases = {
        ("public", "0317492700"): ("queue", "KCC"),
        ("default", "2400"): ("queue", "KCC"),
        ("default", "2900"): ("oncall", "Piket Buitendienst"),
        ("public", "0317499000"): ("oncall", "Piket Buitendienst"),
        ("targets", "ivr-1"): ("ivr", "Hoofdmenu"),
    }
    for (context, dialled), (kind, name) in cases.items():
        doc = _parse(renderer.render_dialplan(context, dialled))
        actions = [(a.get("application"), a.get("data")) for a in doc.iter("action")]
        assert ("set", f"schakel_target={kind}") in actions, (context, dialled)
        assert ("set", f"schakel_{kind}_name={name}") in actions
        assert ("park", None) in actions


def test_a_number_with_opening_hours_is_parked_with_both_targets(
    renderer: Renderer,
) -> None:
    doc = _parse(renderer.render_dialplan("public", "0317492300"))
    data = [a.get("data") for a in doc.iter("action")]
    assert "schakel_target=schedule" in data
    assert "schakel_open_target=ivr-1" in data
    assert "schakel_closed_target=announcement-5" in data


def test_default_context_dials_out_within_the_traffic_class(renderer: Renderer) -> None:
    doc = _parse(renderer.render_dialplan("default", "0612345678"))
    names = [e.get("name") for e in doc.iter("extension")]
    assert "outbound_mobile" in names and "outbound_emergency" in names
    mobile = next(
        e for e in doc.iter("extension") if e.get("name") == "outbound_mobile"
    )
    rights = mobile.findall("condition")[1]
    assert rights.get("field") == "${schakel_call_rights}"
    assert rights.find("anti-action[@application='hangup']").get("data") == (
        "OUTGOING_CALL_BARRED"
    )
    assert "sofia/gateway/trunk/" in rights.find("action[@application='bridge']").get(
        "data"
    )
    emergency = next(
        e for e in doc.iter("extension") if e.get("name") == "outbound_emergency"
    )
    assert len(emergency.findall("condition")) == 1
    assert re.search(emergency.find("condition").get("expression"), "112")


def test_an_unknown_context_is_not_found(renderer: Renderer) -> None:
    assert renderer.render_dialplan("features", "1234") is None


def test_answers_are_cached_per_revision_and_renewed_on_publish(
    demo_store, settings
) -> None:
    renderer = Renderer(settings, ViewCache(demo_store, settings, recheck_seconds=3600))
    first = renderer.render_directory("pbx.local", "2302")
    assert renderer.render_directory("pbx.local", "2302") is first

    _rename(demo_store, "bram", "Bram Nieuw")

    renewed = renderer.render_directory("pbx.local", "2302")
    assert "Bram Nieuw" in renewed and renewed != first


def test_another_process_sees_a_publish_within_the_recheck(
    demo_store, settings
) -> None:
    cache = ViewCache(demo_store, settings, recheck_seconds=0)
    before = cache.current()
    with demo_store.session() as session:
        latest = session.scalar(
            select(m.ConfigRevision.id).order_by(m.ConfigRevision.id.desc())
        )
        # A revision written by another process: nothing here was told.
        session.add(m.ConfigRevision(author="other", summary="x", snapshot={}, diff=""))
    after = cache.current()
    assert after is not before and after.revision_id == latest + 1


def test_callcenter_configuration_lists_queues_agents_and_tiers(
    renderer: Renderer,
) -> None:
    doc = _parse(renderer.render_configuration("callcenter.conf"))
    (queue,) = doc.iter("queue")
    assert queue.get("name") == "kcc@pbx.local"
    assert _params(queue)["strategy"] == "longest-idle-agent"
    agents = list(doc.iter("agent"))
    assert len(agents) == 10
    assert agents[0].get("contact").endswith("user/2301@pbx.local")
    assert renderer.render_configuration("spandsp.conf") is None


def test_warm_renders_every_answer_of_the_revision(renderer: Renderer) -> None:
    view = renderer.views.current()
    count = renderer.warm()
    answers = len(view.directory) + len(view.group_boxes)
    assert count == answers + sum(len(r) for r in view.routes.values())
    cached = dict(view.rendered)
    assert (
        renderer.render_directory("pbx.local", "2301") is cached[("directory", "2301")]
    )
    assert (
        renderer.render_dialplan("public", "+31317492301")
        is cached[("dialplan", "public", "public:+31317492301")]
    )


def _key_bindings(extension: etree._Element) -> list[str]:
    return [
        a.get("data").split(" ")[1]
        for a in extension.iter("action")
        if a.get("application") == "bind_meta_app"
    ]


def test_transfer_keys_go_to_our_users_only(renderer: Renderer) -> None:
    """The called user always; the caller where the call is from our phones."""

    def extension(context: str, dialled: str, name: str | None = None):
        doc = _parse(renderer.render_dialplan(context, dialled))
        found = [
            e
            for e in doc.iter("extension")
            if name is None or e.get("name") == name
            if _key_bindings(e) or name is not None
        ]
        return found[0]

    # From outside to a colleague: only the colleague's keys (b).
    assert set(_key_bindings(extension("public", "0317492302"))) == {"b"}
    # From our phones to a colleague: both sides (ab).
    assert set(_key_bindings(extension("default", "2302"))) == {"ab"}
    # From our phones to the outside world: the caller's (a) ...
    national = extension("default", "0207654321", "outbound_national")
    assert set(_key_bindings(national)) == {"a"}
    # ... but not on a call to the emergency services, where '*' goes through.
    assert _key_bindings(extension("default", "112", "outbound_emergency")) == []


def test_attended_transfers_start_no_three_way_call(renderer: Renderer) -> None:
    """att_xfer's three-way key (by default '0') is made the hand-over key,
    which mod_dptools checks first: a '0' reaches the consulted target."""
    doc = _parse(renderer.render_dialplan("targets", "attended_transfer_to"))
    (extension,) = [
        e for e in doc.iter("extension") if e.get("name") == "attended_transfer_to"
    ]
    data = [a.get("data") for a in extension.iter("action")]
    assert "attxfer_conf_key=*" in data
    assert data.index("attxfer_conf_key=*") < next(
        i for i, d in enumerate(data) if "loopback/" in (d or "")
    )
