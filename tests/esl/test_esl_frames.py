"""The frame parser and event decoding, against the captured wire."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.esl.errors import ProtocolError
from orchestrator.esl.events import decode_event, decode_json, decode_plain
from orchestrator.esl.frames import MAX_HEADER_BYTES, Frame, FrameParser


@pytest.fixture(scope="module")
def received(captures_dir: Path) -> list[bytes]:
    """Every frame FreeSWITCH sent in capture 01, exactly as on the wire."""
    with (captures_dir / "01-esl-protocol" / "wire.jsonl").open() as fh:
        rows = [json.loads(line) for line in fh]
    return [row["raw"].encode() for row in rows if row["dir"] == "rx"]


def parse_all(chunks: list[bytes]) -> list[Frame]:
    parser = FrameParser()
    frames: list[Frame] = []
    for chunk in chunks:
        frames.extend(parser.feed(chunk))
    assert not parser.mid_frame
    return frames


def test_every_captured_frame_parses_whole(received):
    raw = received
    frames = parse_all([b"".join(raw)])
    assert len(frames) == len(raw)
    kinds = [frame.content_type for frame in frames]
    assert kinds[0] == "auth/request"
    assert "text/disconnect-notice" in kinds
    assert kinds.count("text/event-plain") == 3
    notice = frames[kinds.index("text/disconnect-notice")]
    assert notice.body.startswith(b"Disconnected, goodbye.\n")
    assert len(notice.body) == 67


@pytest.mark.parametrize("size", [1, 2, 7, 100, 4096])
def test_partial_reads_give_the_same_frames(received, size):
    stream = b"".join(received)
    whole = parse_all([stream])
    chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
    cut = parse_all(chunks)
    assert [(f.headers, f.body) for f in cut] == [(f.headers, f.body) for f in whole]


def test_event_frames_have_length_before_type(received):
    frames = parse_all([b"".join(received)])
    event = next(f for f in frames if f.content_type == "text/event-json")
    assert list(event.headers) == ["Content-Length", "Content-Type"]
    reply = next(f for f in frames if f.content_type == "command/reply")
    assert reply.headers["Reply-Text"] == "-ERR command not found"
    assert reply.body == b""


def test_plain_events_decode_like_their_json_record(received, captures_dir):
    frames = parse_all([b"".join(received)])
    plain = [f for f in frames if f.content_type == "text/event-plain"]
    records = (
        (captures_dir / "01-esl-protocol" / "events.jsonl").read_text().splitlines()
    )
    for frame, record in zip(plain, records[:3], strict=True):
        event = decode_plain(frame.body)
        expected = json.loads(record)
        body = expected.pop("_body", None)
        assert dict(event.headers) == expected
        assert event.body == body
    job = decode_plain(plain[0].body)
    assert job.name == "BACKGROUND_JOB"
    assert job.job_uuid == "4f025594-99f1-4d97-b3fa-5fe215890949"
    assert job.body.startswith("UP 0 years")


def test_plain_values_are_url_decoded(received):
    frames = parse_all([b"".join(received)])
    create = decode_plain(_first_create(frames).body)
    assert create.caller_id_name == "Capture Caller"
    assert create["Channel-Name"] == "sofia/external/0201234567@127.0.0.1:5070"
    assert create.variable("sip_full_via").startswith("SIP/2.0/UDP 127.0.0.1:5070;")


def test_plain_values_keep_what_their_encoding_hid():
    body = (
        b"Event-Name: CUSTOM\n"
        b"Event-Subclass: schakel%3A%3Anote\n"
        b"Note: two%0Alines%3A%20and%20a%20%25%2C\n"
        b"Said: caf%C3%A9: %FF\n"
        b"variable_list: ARRAY::a|:b%7C\n\n"
    )
    event = decode_plain(body)
    assert event.key == "schakel::note"
    assert event["Note"] == "two\nlines: and a %,"
    assert event["Said"] == "caf\u00e9: \ufffd"
    assert event.variable("list") == ["a", "b|"]


# Text rich in what URL decoding turns on: escapes, good and broken, and
# the quoted-printable marks the decoder borrows.
_ESCAPE_TEXT = st.lists(
    st.sampled_from([b"%", b"=", b"3D", b"3d", b"A", b"0", b"g", b"%25", b"\r"])
    | st.binary(max_size=4),
    max_size=40,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(_ESCAPE_TEXT)
def test_fuzz_url_decoding_matches_the_standard_library(text):
    from urllib.parse import quote_from_bytes, unquote_to_bytes

    from orchestrator.esl.events import _url_decode

    assert _url_decode(text) == unquote_to_bytes(text)
    encoded = quote_from_bytes(text, safe=b"").encode()
    assert _url_decode(encoded) == text


def test_a_plain_line_without_a_value_is_refused():
    with pytest.raises(ProtocolError, match="malformed plain event line 'Junk'"):
        decode_plain(b"Event-Name: HEARTBEAT\nJunk\n\n")


def _first_create(frames: list[Frame]) -> Frame:
    return next(
        f
        for f in frames
        if f.content_type == "text/event-plain" and b"CHANNEL_CREATE" in f.body[:40]
    )


def test_json_event_properties(received):
    frames = parse_all([b"".join(received)])
    bridge = next(
        decode_json(f.body)
        for f in frames
        if f.content_type == "text/event-json" and b'"CHANNEL_BRIDGE"' in f.body[:60]
    )
    assert bridge.name == "CHANNEL_BRIDGE"
    assert bridge.unique_id == "404b9219-f56c-4329-8684-202a8c88bb66"
    assert bridge.other_leg_unique_id == "ec8e33d9-e8f7-43f9-9853-993432a85546"
    assert bridge.sequence is not None and bridge.sequence > 900
    assert bridge.timestamp_us == int(bridge["Event-Date-Timestamp"])
    # Multi-valued variables arrive as JSON arrays.
    causes = bridge.variable("originate_causes")
    assert isinstance(causes, list) and len(causes) == 2
    assert bridge.text("variable_originate_causes").startswith("ARRAY::")


def test_duplicate_json_keys_keep_the_last():
    event = decode_json(b'{"Event-Name":"X","Hangup-Cause":"A","Hangup-Cause":"B"}')
    assert event.hangup_cause == "B"


def test_custom_events_key_on_their_subclass():
    event = decode_json(b'{"Event-Subclass":"sofia::register","Event-Name":"CUSTOM"}')
    assert event.key == "sofia::register"
    assert event.subclass == "sofia::register"


def test_plain_array_values_become_lists():
    body = b"Event-Name: X\nvariable_legs: ARRAY::a%20b|:c\n\n"
    assert decode_plain(body).variable("legs") == ["a b", "c"]


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Length: 12x\nContent-Type: text/event-json\n\n{}",
        b"Content-Length: -4\nContent-Type: api/response\n\n",
        b"Content-Type: api/response\nContent-Length: 99999999999\n\n",
        b"no colon here\n\n",
        b'{"Event-Name":"X"}: y\nContent-Type: z\n\n',
        b"Content-Length: 2\n\n{}",
        b"\xff\xfe: junk\nContent-Type: x\n\n",
    ],
)
def test_malformed_frames_raise_protocol_error(data):
    with pytest.raises(ProtocolError):
        FrameParser().feed(data)


def test_endless_header_block_is_refused():
    parser = FrameParser()
    with pytest.raises(ProtocolError):
        for _ in range(MAX_HEADER_BYTES // 1024 + 2):
            parser.feed(b"x" * 1024)


def test_short_content_length_puts_the_stream_out_of_step():
    # Body said 10 bytes but carried 20: the rest is read as headers.
    good = b'Content-Length: 20\nContent-Type: text/event-json\n\n{"Event-Name":"A"}  '
    bad = good.replace(b"20", b"10", 1)
    assert len(FrameParser().feed(good)) == 1
    with pytest.raises(ProtocolError):
        FrameParser().feed(bad + b"\n\n")


def test_event_json_that_is_not_an_object_is_refused():
    with pytest.raises(ProtocolError):
        decode_event("text/event-json", b"[1, 2]")
    with pytest.raises(ProtocolError):
        decode_event("text/event-json", b"{truncated")
    with pytest.raises(ProtocolError):
        decode_event("text/event-xml", b"<event/>")


def test_big_event_in_small_pieces():
    value = "x" * (64 * 1024)
    body = json.dumps({"Event-Name": "CUSTOM", "variable_big": value}).encode()
    frame = b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (
        len(body),
        body,
    )
    frames = parse_all([frame[i : i + 1000] for i in range(0, len(frame), 1000)])
    assert decode_json(frames[0].body).variable("big") == value


# -- fuzzing ------------------------------------------------------------------

header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,20}", fullmatch=True)
header_values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
    max_size=40,
)


@st.composite
def frames(draw):
    body = draw(st.binary(max_size=300))
    if draw(st.booleans()):
        # An event frame as FreeSWITCH writes it: length first.
        headers = {"Content-Length": str(len(body)), "Content-Type": "text/event-json"}
    else:
        headers = draw(st.dictionaries(header_names, header_values, max_size=5))
        headers.pop("Content-Length", None)
        headers["Content-Type"] = draw(
            st.sampled_from(["api/response", "command/reply"])
        )
        if body:
            headers["Content-Length"] = str(len(body))
    lines = "".join(f"{k}: {v.strip(' ')}\n" for k, v in headers.items())
    return (lines + "\n").encode() + body, headers, body


@settings(max_examples=150, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=6), st.data())
def test_fuzz_any_cut_of_valid_frames_roundtrips(items, data):
    stream = b"".join(raw for raw, _, _ in items)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=10)))
    chunks = [
        stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)
    ]
    got = parse_all(chunks)
    assert [f.body for f in got] == [body for _, _, body in items]
    for frame, (_, headers, _) in zip(got, items, strict=True):
        assert frame.headers == {k: v.strip(" ") for k, v in headers.items()}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_junk_never_escapes_as_anything_but_protocol_error(junk):
    parser = FrameParser()
    try:
        for frame in parser.feed(junk):
            assert isinstance(frame, Frame)
            assert "Content-Type" in frame.headers
            if frame.content_type.startswith("text/event-"):
                try:
                    decode_event(frame.content_type, frame.body)
                except ProtocolError:
                    pass
    except ProtocolError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=6), st.data())
def test_fuzz_the_receive_loops_way_gives_the_same_frames_in_order(items, data):
    # The receive loop takes JSON event bodies without a Frame around them:
    # whatever the cuts, each frame arrives once, in stream order.
    stream = b"".join(raw for raw, _, _ in items)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=10)))
    parser = FrameParser()
    got: list[tuple[str, bytes]] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        parser.push(
            stream[a:b],
            lambda frame: got.append((frame.content_type, frame.body)),
            lambda body: got.append(("text/event-json", body)),
        )
    assert got == [(headers["Content-Type"], body) for _, headers, body in items]
    assert not parser.mid_frame
