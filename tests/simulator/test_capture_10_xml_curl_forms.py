"""Capture 10: the forms mod_xml_curl POSTs, field by field.

The same flows as the capture (phones 1001 and 1002 register, an outside
caller dials DID 3800 which bridges to 1002, then 1001 calls 1002 on the
internal profile) must POST forms with the captured field names, in the
captured order, answered from the capture's own ``xmlcurl/`` snippets.
"""

from __future__ import annotations

import json

import pytest

from simulator.scenario import Simulation
from simulator.xmlcurl import StaticFetcher

CAPTURE = "10-xml-curl-forms"


def kind(form) -> tuple[str | None, ...]:
    fields = dict(form)
    return (
        fields["section"],
        fields.get("action"),
        fields.get("sip_auth_method"),
        fields.get("Hunt-Context"),
    )


@pytest.fixture(scope="module")
def forms(captures_dir):
    """(captured forms, forms the simulator sent) for the capture's flows."""
    folder = captures_dir / CAPTURE
    captured = [
        json.loads(line)["form"]
        for line in (folder / "xml_curl.jsonl").read_text().splitlines()
    ]
    fetcher = StaticFetcher(folder / "xmlcurl")
    with Simulation(fetcher, speed=50) as sim:
        p1001 = sim.phone("1001", "1001")
        p1002 = sim.phone("1002", "1002", answers_after=1)
        call = sim.dial("0201234567", "3800", display="Capture Caller")
        call.expect_answered_by(p1002, within=60)
        call.wait(2)
        call.hangup()
        sim.wait_idle()
        internal = p1001.dial("1002")
        internal.expect_answered_by(p1002, within=60)
        internal.wait(2)
        internal.hangup()
        sim.wait_idle()
    return captured, [request.form for request in fetcher.requests]


def first_of(forms, wanted):
    return next((form for form in forms if kind(form) == wanted), None)


@pytest.mark.parametrize(
    "wanted",
    [
        ("dialplan", None, None, "public"),
        ("directory", "user_call", None, None),
        ("directory", "sip_auth", "REGISTER", None),
        ("directory", "message-count", None, None),
    ],
)
def test_the_form_has_the_captured_fields_in_order(forms, wanted):
    captured, sent = forms
    want = first_of(captured, wanted)
    got = first_of(sent, wanted)
    assert want is not None and got is not None
    assert [name for name, _ in got] == list(want)


def test_the_lookups_come_in_the_captured_order(forms):
    captured, sent = forms
    simulated_kinds = {kind(form) for form in sent}
    # Configuration lookups (mod_callcenter, reloadxml) are not simulated.
    expected = [kind(form) for form in captured if kind(form) in simulated_kinds]
    assert [kind(form) for form in sent] == expected[: len(sent)]


def test_stable_values_of_the_dialplan_form(forms):
    captured, sent = forms
    want = dict(first_of(captured, ("dialplan", None, None, "public")))
    got = dict(first_of(sent, ("dialplan", None, None, "public")))
    for name in (
        "hostname",
        "section",
        "tag_name",
        "key_name",
        "key_value",
        "Event-Name",
        "Event-Calling-File",
        "Event-Calling-Function",
        "Event-Calling-Line-Number",
        "Channel-State",
        "Channel-Call-State",
        "Channel-State-Number",
        "Answer-State",
        "Hunt-Destination-Number",
        "Hunt-Context",
        "Caller-Context",
        "Hunt-Caller-ID-Number",
    ):
        assert got[name] == want[name], name


def test_the_internal_call_is_authenticated_like_freeswitch(forms):
    captured, sent = forms
    assert first_of(sent, ("directory", "sip_auth", "INVITE", None)) is not None
    want = first_of(captured, ("dialplan", None, None, "default"))
    got = first_of(sent, ("dialplan", None, None, "default"))
    assert [name for name, _ in got] == list(want)
