"""The simulator's mod_event_socket on the wire, with a small switch of its own."""

from __future__ import annotations

import uuid as uuidlib
from collections import deque
from collections.abc import Iterator

import gevent
import gevent.socket
import orjson
import pytest

from orchestrator.esl.events import decode_plain
from orchestrator.esl.frames import Frame, FrameParser
from simulator.esl_server import EslServer
from simulator.events import Event, SwitchIdentity, stamp

NOTICE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
A = "404b9219-f56c-4329-8684-202a8c88bb66"
B = "ec8e33d9-e8f7-43f9-9853-993432a85546"


class MiniSwitch:
    """Fires events to listeners; a few api commands; records sendmsg."""

    def __init__(self) -> None:
        self.identity = SwitchIdentity("b9e8e40d-cfbd-4851-b9aa-8fa5fd55389a")
        self.listeners: list = []
        self.sequence = 900
        self.channels = {A, B}
        self.messages: list = []

    def add_listener(self, listener) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener) -> None:
        self.listeners.remove(listener)

    def channel_exists(self, uuid: str) -> bool:
        return uuid in self.channels

    def fire(self, event: Event) -> None:
        self.sequence += 1
        stamp(event, self.identity, self.sequence)
        for listener in list(self.listeners):
            listener(event)

    def channel_event(self, name: str, uuid: str, **headers: str) -> Event:
        event = Event(name, [("Unique-ID", uuid), ("Channel-Name", f"sofia/x/{uuid}")])
        for key, value in headers.items():
            event.add(key.replace("_", "-"), value)
        self.fire(event)
        return event

    def api(self, command: str, args: str) -> str:
        if command == "status":
            return "UP 0 years\n"
        if command == "silent":
            return ""
        if command == "originate":
            # Events of the new leg are fired while the command runs.
            self.channel_event("CHANNEL_CREATE", B)
            return f"+OK {B}\n"
        return f"-ERR {command} Command not found!\n"

    def sendmsg(self, uuid: str, headers, body) -> str:
        if uuid not in self.channels:
            return f"-ERR invalid session id [{uuid}]"
        self.messages.append((uuid, list(headers), body))
        return "+OK"


class Client:
    """A raw Event Socket client that reads whole frames."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = gevent.socket.create_connection(address, timeout=3)
        self.parser = FrameParser()
        self.frames: deque[Frame] = deque()

    def send(self, text: str | bytes) -> None:
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def frame(self) -> Frame:
        while not self.frames:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("server closed the connection")
            self.frames.extend(self.parser.feed(data))
        return self.frames.popleft()

    def command(self, line: str) -> Frame:
        self.send(line + "\n\n")
        return self.frame()

    def reply(self, line: str) -> str:
        return self.command(line).headers["Reply-Text"]

    def login(self) -> Client:
        assert self.frame().content_type == "auth/request"
        assert self.reply("auth ClueCon") == "+OK accepted"
        return self

    def closed(self) -> bool:
        try:
            while True:
                self.frame()
        except EOFError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def switch() -> MiniSwitch:
    return MiniSwitch()


@pytest.fixture
def server(switch: MiniSwitch) -> Iterator[EslServer]:
    server = EslServer(switch, port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(server: EslServer) -> Iterator[Client]:
    client = Client(server.address)
    yield client
    client.close()


def marker(switch: MiniSwitch) -> Event:
    """A HEARTBEAT: when it arrives, every event fired before it has too."""
    event = Event("HEARTBEAT", [("Event-Info", "marker")])
    switch.fire(event)
    return event


def test_command_before_auth_then_exit(client):
    greeting = client.frame()
    assert greeting.headers == {"Content-Type": "auth/request"} and greeting.body == b""
    assert client.reply("api status") == "-ERR command not found"
    assert client.reply("exit") == "+OK bye"
    notice = client.frame()
    assert notice.headers == {
        "Content-Type": "text/disconnect-notice",
        "Content-Length": "67",
    }
    assert notice.body == NOTICE
    assert client.closed()


def test_wrong_password_disconnects(client):
    client.frame()
    assert client.reply("auth NotTheRightPassword") == "-ERR invalid"
    assert client.frame().body == NOTICE
    assert client.closed()


def test_api_response_framing(client):
    client.login()
    client.send("api status\n\n")
    raw = client.sock.recv(4096)
    assert raw == b"Content-Type: api/response\nContent-Length: 11\n\nUP 0 years\n"
    assert client.command("api no_such_command").body == (
        b"-ERR no_such_command Command not found!\n"
    )
    assert client.command("api silent").body == b"-ERR no reply\n"


def test_bgapi_job_event_only_for_subscribers(switch, client):
    client.login()
    reply = client.command("bgapi status")
    job = reply.headers["Job-UUID"]
    assert reply.headers["Reply-Text"] == f"+OK Job-UUID: {job}"
    assert list(reply.headers) == ["Content-Type", "Reply-Text", "Job-UUID"]
    marker(switch)  # not subscribed: nothing at all arrives
    assert (
        client.reply("event plain BACKGROUND_JOB") == "+OK event listener enabled plain"
    )
    chosen = str(uuidlib.uuid4())
    reply = client.command(f"bgapi status\nJob-UUID: {chosen}")
    assert reply.headers["Job-UUID"] == chosen
    frame = client.frame()
    assert list(frame.headers) == ["Content-Length", "Content-Type"]
    assert frame.content_type == "text/event-plain"
    event = decode_plain(frame.body)
    assert (event.name, event.job_uuid, event["Job-Command"]) == (
        "BACKGROUND_JOB",
        chosen,
        "status",
    )
    assert event.body == "UP 0 years\n"


def test_event_formats_and_keywords(switch, client):
    client.login()
    assert client.reply("event json") == "-ERR no keywords supplied"
    assert client.reply("event CHANNEL_CREATE") == "+OK event listener enabled json"
    switch.channel_event("CHANNEL_CREATE", A)
    frame = client.frame()
    assert frame.content_type == "text/event-json"
    assert orjson.loads(frame.body)["Unique-ID"] == A
    assert client.reply("event xml HEARTBEAT") == "+OK event listener enabled xml"
    marker(switch)
    xml = client.frame()
    assert xml.content_type == "text/event-xml"
    assert b"<Event-Name>HEARTBEAT</Event-Name>" in xml.body


def test_nixevent_and_noevents(switch, client):
    client.login()
    assert client.reply("event plain ALL") == "+OK event listener enabled plain"
    assert client.reply("nixevent") == "-ERR no keywords supplied"
    assert client.reply("nixevent CHANNEL_CREATE") == "+OK events nixed"
    switch.channel_event("CHANNEL_CREATE", A)
    switch.channel_event("CHANNEL_ANSWER", A)
    assert decode_plain(client.frame().body).name == "CHANNEL_ANSWER"
    assert client.reply("noevents") == "+OK no longer listening for events"
    assert client.reply("noevents") == "-ERR not listening for events"


def test_custom_subclasses(switch, client):
    client.login()
    assert client.reply("event json CUSTOM sofia::register")
    for subclass in ("sofia::pre_register", "sofia::register"):
        switch.fire(Event("CUSTOM", [("profile-name", "internal")], subclass=subclass))
    body = orjson.loads(client.frame().body)
    assert body["Event-Subclass"] == "sofia::register"
    assert list(body)[:2] == ["Event-Subclass", "Event-Name"]


def test_filters(switch, client):
    client.login()
    client.reply("event json ALL")
    assert client.reply(f"filter Unique-ID {A}") == (
        f"+OK filter added. [Unique-ID]=[{A}]"
    )
    assert client.reply("filter Unique-ID") == "-ERR invalid syntax"
    switch.channel_event("CHANNEL_STATE", B)
    marker(switch)  # no Unique-ID: filtered out too
    switch.channel_event("CHANNEL_HANGUP", A)
    assert orjson.loads(client.frame().body)["Event-Name"] == "CHANNEL_HANGUP"
    assert client.reply(f"filter delete Unique-ID {A}") == (
        f"+OK filter deleted. [Unique-ID][{A}]"
    )
    client.reply("filter Event-Name -HEARTBEAT")
    client.reply("filter Event-Name /^CHANNEL_(ANSWER|PARK)$/")
    marker(switch)
    switch.channel_event("CHANNEL_STATE", B)
    switch.channel_event("CHANNEL_PARK", B)
    assert orjson.loads(client.frame().body)["Event-Name"] == "CHANNEL_PARK"
    assert client.reply("filter delete all") == "+OK filter deleted. [all][]"


def test_events_fired_during_an_api_command_follow_its_response(client):
    client.login()
    client.reply("event json CHANNEL_CREATE")
    assert client.command("api originate user/1001 &park()").content_type == (
        "api/response"
    )
    assert client.frame().content_type == "text/event-json"


def test_sendmsg(switch, client):
    client.login()
    client.send(
        f"sendmsg {A}\ncall-command: execute\nexecute-app-name: playback\n"
        "content-type: text/plain\ncontent-length: 9\n\nhello.wav"
    )
    assert client.frame().headers["Reply-Text"] == "+OK"
    uuid, headers, body = switch.messages[0]
    assert uuid == A and body == "hello.wav"
    assert headers[:2] == [
        ("call-command", "execute"),
        ("execute-app-name", "playback"),
    ]
    bogus = "00000000-0000-4000-8000-000000000000"
    assert client.reply(f"sendmsg {bogus}\ncall-command: execute") == (
        f"-ERR invalid session id [{bogus}]"
    )


def test_myevents_follow_one_channel_and_end_with_it(switch, client):
    client.login()
    assert client.reply("linger") == "-ERR not controlling a session"
    assert client.reply("myevents 00000000-0000-4000-8000-000000000000 json") == (
        "-ERR invalid uuid"
    )
    assert client.reply(f"myevents {A}") == "+OK Events Enabled"
    assert client.reply(f"myevents {A}") == "-ERR aready enabled."
    switch.channel_event("CHANNEL_ANSWER", B)
    switch.channel_event("CHANNEL_ANSWER", A)
    assert decode_plain(client.frame().body).unique_id == A
    switch.channel_event("CHANNEL_HANGUP", A)
    assert decode_plain(client.frame().body).name == "CHANNEL_HANGUP"
    notice = client.frame()
    assert notice.headers["Controlled-Session-UUID"] == A
    assert notice.headers["Content-Disposition"] == "disconnect"
    assert notice.body == NOTICE
    assert client.closed()


def test_linger_keeps_the_connection_after_hangup(switch, client):
    client.login()
    client.reply(f"myevents {A}")
    assert client.reply("linger 5") == "+OK will linger 5 seconds"
    switch.channel_event("CHANNEL_HANGUP", A)
    assert decode_plain(client.frame().body).name == "CHANNEL_HANGUP"
    notice = client.frame()
    assert notice.headers["Content-Disposition"] == "linger"
    assert notice.headers["Linger-Time"] == "5"
    switch.channel_event("CHANNEL_HANGUP_COMPLETE", A)
    assert decode_plain(client.frame().body).name == "CHANNEL_HANGUP_COMPLETE"
    assert client.reply("nolinger") == "+OK will not linger"


def test_other_replies(client):
    client.login()
    assert client.reply("no_such_esl_command") == "-ERR command not found"
    assert client.reply("log info") == "+OK log level info [6]"
    assert client.reply("log bogus") == "-ERR invalid log level"
    assert client.reply("nolog") == "+OK no longer logging"
    assert client.reply("nolog") == "-ERR not loging"
    assert client.reply("divert_events on") == "-ERR not controlling a session."


def test_several_clients_get_the_same_events(switch, server):
    clients = [Client(server.address).login() for _ in range(3)]
    try:
        for each in clients:
            each.reply("event json CHANNEL_PARK")
        switch.channel_event("CHANNEL_PARK", A)
        bodies = {each.frame().body for each in clients}
        assert len(bodies) == 1
    finally:
        for each in clients:
            each.close()


def test_big_events_back_to_back(switch, client):
    client.login()
    client.reply("event json CUSTOM big::event")
    big = "x" * (64 * 1024)
    for n in range(300):
        switch.fire(
            Event("CUSTOM", [("N", str(n)), ("Big", big)], subclass="big::event")
        )
    for n in range(300):
        body = orjson.loads(client.frame().body)
        assert body["N"] == str(n) and body["Big"] == big


def test_client_leaving_mid_frame_is_cleaned_up(switch, server):
    client = Client(server.address).login()
    client.send("api sta")
    client.close()
    with gevent.Timeout(3):
        while server.connections or len(switch.listeners) > 0:
            gevent.sleep(0.01)
    # The server still serves others.
    other = Client(server.address).login()
    assert other.command("api status").body == b"UP 0 years\n"
    other.close()


def test_oversized_body_drops_the_connection(client):
    client.login()
    client.send(f"sendmsg {A}\ncontent-length: {17 * 1024 * 1024}\n\n")
    assert client.closed()


# -- serialisation of simulator events ------------------------------------------


def test_url_encoding_follows_freeswitch():
    from simulator.events import url_encode

    assert url_encode("2026-12-03 16:21:21") == "2026-12-03%2016%3A21%3A21"
    assert url_encode("sip:mod_sofia@127.0.0.1:5080") == (
        "sip%3Amod_sofia%40127.0.0.1%3A5080"
    )
    # '/' and ',' stay; so does an escape already there (upper-case hex only).
    assert url_encode("RTP/AVP 0,8") == "RTP/AVP%200,8"
    assert url_encode("100%2F") == "100%2F"
    assert url_encode("100%2f") == "100%252f"
    assert url_encode("é\n") == "%C3%A9%0A"


def test_plain_and_json_forms_of_one_event():
    event = Event("CHANNEL_HANGUP_COMPLETE", [("Unique-ID", A)], body="x\n")
    event.add("Hangup-Cause", "NORMAL_CLEARING")
    event.add("Hangup-Cause", "NORMAL_CLEARING")
    event.add("variable_originate_causes", [f"{B};NONE", f"{B};USER_BUSY"])
    event.add("variable_one", ["only"])
    event.add("variable_empty", "")
    plain = event.to_plain()
    assert plain.count("Hangup-Cause: NORMAL_CLEARING\n") == 2
    assert f"variable_originate_causes: ARRAY%3A%3A{B}%3BNONE%7C%3A{B}" in plain
    assert "variable_one: only\n" in plain
    assert "variable_empty: _undef_\n" in plain
    assert plain.endswith("Content-Length: 2\n\nx\n")
    text = event.to_json()
    assert text.count('"Hangup-Cause":"NORMAL_CLEARING"') == 2
    assert '"variable_one":["only"]' in text
    assert text.endswith('"Content-Length":"2","_body":"x\\n"}')


def test_stamped_core_headers_in_freeswitch_order():
    event = Event("CUSTOM", [("profile-name", "internal")], subclass="sofia::register")
    stamp(event, SwitchIdentity("core", ipv6="::1"), 42, 1796314881913486)
    names = [name for name, _ in event.headers]
    assert names[:3] == ["Event-Subclass", "Event-Name", "Core-UUID"]
    assert names[-2:] == ["Event-Sequence", "profile-name"]
    assert event.get("Event-Date-GMT") == "Thu, 03 Dec 2026 16:21:21 GMT"
    assert event.get("Event-Date-Local") == "2026-12-03 16:21:21"
    assert event.get("Event-Sequence") == "42"
    plain_frame = event.frame("plain")
    assert plain_frame.startswith(b"Content-Length: ")
    assert b"\nContent-Type: text/event-plain\n\nEvent-Subclass: sofia%3A%3A" in (
        plain_frame
    )
