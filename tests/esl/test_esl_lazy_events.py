"""JSON events are read lazily: every header found without a full decode must
be exactly what a full decode gives, for every real event the switch sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.esl.errors import ProtocolError
from orchestrator.esl.events import decode_json


def _real_bodies(captures_dir: Path) -> list[bytes]:
    bodies = []
    for path in sorted(captures_dir.glob("*/events.jsonl")):
        for line in path.read_bytes().splitlines():
            if line.strip():
                bodies.append(line.strip())
    return bodies


def test_every_header_of_every_captured_event_reads_as_a_full_decode(
    captures_dir: Path,
) -> None:
    bodies = _real_bodies(captures_dir)
    assert len(bodies) > 700
    for body in bodies:
        whole = json.loads(body)
        whole.pop("_body", None)
        for name, value in whole.items():
            lazy = decode_json(body)
            assert lazy.get(name) == value, (name, body[:200])
        assert decode_json(body).get("No-Such-Header") is None
        routed = decode_json(body)
        assert routed.name == whole["Event-Name"], body[:200]
        assert routed.unique_id == whole.get("Unique-ID"), body[:200]
        assert routed.key == whole.get("Event-Subclass", whole["Event-Name"])


def test_a_few_headers_are_read_in_place_and_many_by_one_decode(
    captures_dir: Path,
) -> None:
    """Any header is found in the raw text, also in events whose variables
    hold escapes (an SDP's line breaks); from the third on, one decode
    answers the rest."""
    from orchestrator.esl.events import IN_PLACE_READS

    assert IN_PLACE_READS == 2
    bodies = [
        b
        for b in _real_bodies(captures_dir)
        if b'"Answer-State":' in b and b"\\r\\n" in b
    ]
    assert bodies
    for body in bodies:
        whole = json.loads(body)
        event = decode_json(body)
        assert event.answer_state == whole["Answer-State"]
        assert event.get("No-Such-Header") is None
        assert event._headers is None, body[:120]
        assert event.caller_id_number == whole.get("Caller-Caller-ID-Number")
        assert event.other_leg_unique_id == whole.get("Other-Leg-Unique-ID")
        assert event._headers is not None


def test_routing_headers_do_not_decode_the_whole_event(captures_dir: Path) -> None:
    body = _real_bodies(captures_dir)[5]
    event = decode_json(body)
    event.name, event.unique_id, event.key, event.variable("uuid")
    assert event._headers is None
    assert event.headers == {k: v for k, v in json.loads(body).items() if k != "_body"}


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "Event-Name",
                "Core-UUID",
                "Event-Subclass",
                "Unique-ID",
                "variable_x",
                "A",
                'B"C',
                "Answer-State",
                "Zo\u00eb",
                "Tab\there",
                "Back\\slash",
            ]
        ),
        st.one_of(st.text(max_size=20), st.lists(st.text(max_size=5), max_size=3)),
        min_size=1,
    )
)
def test_any_values_read_back_as_written(headers: dict) -> None:
    body = json.dumps(headers, separators=(",", ":"), ensure_ascii=False).encode()
    for name, value in headers.items():
        assert decode_json(body).get(name) == value
    event = decode_json(body)
    name = headers.get("Event-Name", "")
    assert event.name == (name if isinstance(name, str) else name[-1] if name else "")
    uuid = headers.get("Unique-ID")
    if isinstance(uuid, list):
        uuid = uuid[-1] if uuid else None
    assert event.unique_id == uuid


def test_a_private_command_relayed_with_two_core_blocks_is_named_by_the_last(
    captures_dir: Path,
) -> None:
    # The switch creates a private command as COMMAND and fires it again as
    # PRIVATE_COMMAND, writing its core headers a second time.
    refired = [b for b in _real_bodies(captures_dir) if b.count(b'"Core-UUID":') > 1]
    assert refired
    for body in refired:
        assert body.startswith(b'{"Event-Name":"COMMAND"')
        assert decode_json(body).name == "PRIVATE_COMMAND"
        assert (
            decode_json(body).get("Event-Sequence")
            == json.loads(body)["Event-Sequence"]
        )


@given(
    st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True),
    st.text(max_size=12),
    st.dictionaries(
        st.sampled_from(["Unique-ID", "Event-Subclass", "variable_x", "A"]),
        st.one_of(st.text(max_size=20), st.lists(st.text(max_size=5), max_size=3)),
    ),
)
def test_an_event_that_starts_with_its_core_block_reads_as_decoded(
    name: str, core: str, rest: dict
) -> None:
    headers = {"Event-Name": name, "Core-UUID": core, **rest}
    body = json.dumps(headers, separators=(",", ":"), ensure_ascii=False).encode()
    event = decode_json(body)
    assert event.name == name
    assert event.core_uuid == core
    for header, value in rest.items():
        assert decode_json(body).get(header) == value


def test_an_event_sent_by_a_client_reads_its_core_headers_from_the_last_block() -> None:
    # sendevent: the client's own headers come first (a libesl client
    # writes Event-Name and Event-Subclass), the switch's core block after.
    body = (
        b'{"Event-Name":"CUSTOM","Event-Subclass":"schakel::note","Unique-ID":"u1",'
        b'"Event-Name":"NOTIFY","Core-UUID":"c1","Event-Sequence":"9",'
        b'"Event-Subclass":"schakel::mark"}'
    )
    event = decode_json(body)
    assert (event.name, event.key, event.core_uuid) == ("NOTIFY", "NOTIFY", "c1")
    assert (event.subclass, event.unique_id) == ("schakel::mark", "u1")
    body = b'{"Unique-ID":"u2","Event-Name":"MESSAGE","Core-UUID":"c2"}'
    assert (decode_json(body).name, decode_json(body).unique_id) == ("MESSAGE", "u2")


def test_a_repeated_key_reads_as_its_last_value() -> None:
    body = b'{"Event-Name":"CHANNEL_HANGUP_COMPLETE","Hangup-Cause":"A","Hangup-Cause":"B"}'
    assert decode_json(body).hangup_cause == "B"
    assert decode_json(body).headers["Hangup-Cause"] == "B"


def test_a_body_is_taken_from_the_object() -> None:
    event = decode_json(b'{"Event-Name":"BACKGROUND_JOB","_body":"+OK done\\n"}')
    assert event.name == "BACKGROUND_JOB"
    assert event.body == "+OK done\n"
    assert "_body" not in event


def test_broken_json_is_a_protocol_error_when_read() -> None:
    with pytest.raises(ProtocolError):
        decode_json(b"not json at all")
    event = decode_json(b'{"Event-Name":"X", broken}')
    with pytest.raises(ProtocolError):
        dict(event)
