"""The client against the simulator's event socket server."""

from __future__ import annotations

import logging
import uuid as uuidlib

import gevent
import gevent.event
import pytest
from eslstub import PASSWORD, wait_until
from gevent.server import StreamServer

from orchestrator.esl import (
    Application,
    AuthenticationFailed,
    Backoff,
    ChannelNotFound,
    CommandFailed,
    CommandTimeout,
    EslClient,
    EslGateway,
    InvalidArgument,
    LiveSnapshot,
    NotConnected,
)
from orchestrator.esl.client import subscription_command
from simulator.esl_server import EslServer


def ready(client: EslClient) -> EslClient:
    client.start()
    assert client.wait_ready(5)
    return client


def test_connects_subscribes_and_resyncs(switch, server, client):
    uuid = switch.new_channel()
    snapshots: list[LiveSnapshot] = []
    client.add_resync_hook(snapshots.append)
    ready(client)

    (connection,) = server.connections
    assert connection.format == "json"
    assert {"CHANNEL_PARK", "BACKGROUND_JOB", "CUSTOM"} <= connection.names
    assert "sofia::register" in connection.custom
    assert [s.channel_uuids() for s in snapshots] == [{uuid}]
    assert snapshots[0].registrations == []


def test_subscription_puts_custom_subclasses_last():
    line = subscription_command(["sofia::register", "DTMF", "CHANNEL_PARK"])
    assert line == "event json CHANNEL_PARK DTMF CUSTOM sofia::register"
    with pytest.raises(InvalidArgument):
        subscription_command(["TWO WORDS"])


def test_api_results_are_typed(switch, client):
    ready(client)
    assert client.api("status") == "+OK\n"
    with pytest.raises(ChannelNotFound) as err:
        client.api("uuid_kill 00000000-0000-4000-8000-000000000000")
    assert err.value.reply == "-ERR No such channel!"
    with pytest.raises(CommandFailed) as err:
        client.api("no_such_command")
    assert err.value.reply == "-ERR no_such_command Command not found!"
    with pytest.raises(InvalidArgument):
        client.api("status\nexit")


def test_bgapi_jobs_are_matched_by_job_uuid(switch, client):
    ready(client)
    jobs = [gevent.spawn(client.bgapi, "originate user/1001 &park()") for _ in range(5)]
    gevent.joinall(jobs, timeout=5, raise_error=True)
    answers = [job.value for job in jobs]
    assert len(set(answers)) == 5
    for answer in answers:
        assert answer.startswith("+OK ")
        assert answer[4:].strip() in switch.channels


def test_api_timeout_then_the_connection_goes_on(switch, client):
    ready(client)
    switch.delays["sleep"] = 0.5
    with pytest.raises(CommandTimeout):
        client.api("sleep", timeout=0.1)
    # The late reply is matched to the abandoned command, not to this one.
    assert client.api("status") == "+OK\n"


def test_a_bgapi_job_that_does_not_finish_in_time_times_out(switch, client):
    ready(client)
    switch.delays["sleep"] = 0.5
    with pytest.raises(CommandTimeout):
        client.bgapi("sleep", timeout=0.1)
    # Its late BACKGROUND_JOB finds no job waiting; the next one is matched.
    gevent.sleep(0.6)
    assert client.bgapi("status").startswith("+OK")
    assert client.connected


def test_events_reach_subscribers_and_channel_owners(switch, client):
    ready(client)
    seen: list[tuple[str, str | None]] = []
    owned: list[str] = []
    client.dispatcher.subscribe(lambda e: seen.append((e.name, e.unique_id)), ["DTMF"])
    uuid = str(uuidlib.uuid4())
    client.dispatcher.attach(uuid, lambda e: owned.append(e.name))
    switch.new_channel(uuid)
    for digit in "123":
        switch.channel_event("DTMF", uuid, DTMF_Digit=digit)
    switch.channel_event("CHANNEL_DESTROY", uuid)
    assert wait_until(lambda: len(owned) == 5)
    assert seen == [("DTMF", uuid)] * 3
    assert owned == ["CHANNEL_CREATE", "DTMF", "DTMF", "DTMF", "CHANNEL_DESTROY"]
    assert client.dispatcher.owners(uuid) == []


def test_gateway_over_the_socket(switch, client):
    gateway = EslGateway(ready(client))
    uuid = gateway.originate("user/1001", Application("park"))
    assert uuid in switch.channels
    gateway.execute(uuid, "playback", "tone_stream://%(500,0,440)")
    assert switch.messages[-1][1] == [
        ("call-command", "execute"),
        ("execute-app-name", "playback"),
        ("execute-app-arg", "tone_stream://%(500,0,440)"),
    ]
    assert gateway.getvar(uuid, "no_such_var") is None
    gateway.kill(uuid)
    with pytest.raises(ChannelNotFound):
        gateway.kill(uuid)
    with pytest.raises(ChannelNotFound):
        gateway.execute(uuid, "answer")


def test_not_connected_is_an_error(client):
    with pytest.raises(NotConnected):
        client.api("status")


def test_wrong_password_is_reported_and_retried(server, caplog):
    host, port = server.address
    client = EslClient(host, port, "wrong", backoff=Backoff(0.02, 0.05))
    with caplog.at_level(logging.ERROR, logger="orchestrator.esl.client"):
        client.start()
        assert wait_until(lambda: len(caplog.records) >= 2)
        client.stop()
    assert not client.connected
    assert "refused the password" in caplog.records[0].getMessage()
    assert AuthenticationFailed.error_id == "esl-authentication-failed"


def test_server_restart_reconnects_resubscribes_and_resyncs(switch, server, client):
    snapshots: list[LiveSnapshot] = []
    client.add_resync_hook(snapshots.append)
    ready(client)
    host, port = server.address
    server.stop()
    assert wait_until(lambda: not client.connected)
    with pytest.raises(NotConnected):
        client.api("status")

    uuid = switch.new_channel()  # appeared while the link was down
    restarted = EslServer(switch, password=PASSWORD, host=host, port=port)
    restarted.start()
    try:
        assert wait_until(lambda: client.connected and client.connections == 2, 5)
        (connection,) = restarted.connections
        assert "CHANNEL_PARK" in connection.names and connection.format == "json"
        assert snapshots[-1].channel_uuids() == {uuid}
        assert client.api("status") == "+OK\n"
    finally:
        restarted.stop()


def test_cut_link_fails_waiting_commands_and_reconnects(switch, server, client):
    ready(client)
    switch.delays["sleep"] = 1.0
    waiting = gevent.spawn(client.api, "sleep")
    gevent.sleep(0.05)
    server.drop_all()
    waiting.join(2)
    assert type(waiting.exception).__name__ == "ConnectionLost"
    assert wait_until(lambda: client.connected and client.connections == 2, 5)


def junk_server(payload: bytes) -> StreamServer:
    """Greets, accepts any password, then sends ``payload`` and waits."""

    def handle(sock, address):
        sock.sendall(b"Content-Type: auth/request\n\n")
        buffer = b""
        while b"\n\n" not in buffer:
            data = sock.recv(4096)
            if not data:
                return
            buffer += data
        sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        sock.sendall(payload)
        gevent.sleep(10)

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    return server


@pytest.mark.parametrize(
    "payload",
    [
        b"Content-Length: 1x\nContent-Type: text/event-json\n\n{}",
        b"\x00\x01\x02binary junk\xff\n\n",
        b"Content-Length: 5\nContent-Type: text/event-json\n\n{nope",
        b"Content-Type: text/unheard-of\n\n",
        b"Content-Length: 3\nContent-Type: text/event-json\n\n[1]",
    ],
)
def test_malformed_frame_logs_one_line_and_reconnects(payload, caplog):
    server = junk_server(payload)
    host, port = server.address
    client = EslClient(host, port, PASSWORD, backoff=Backoff(0.02, 0.05))
    try:
        with caplog.at_level(logging.WARNING, logger="orchestrator.esl"):
            client.start()
            assert wait_until(lambda: client.connections >= 2, 5)
        client.stop()
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        # One clear line per dropped connection, no traceback, nothing else.
        assert client.connections - 1 <= len(errors) <= client.connections
        for record in errors:
            assert "dropped: malformed frame" in record.getMessage()
            assert record.exc_info is None and "\n" not in record.getMessage()
    finally:
        client.stop()
        server.stop()


def test_events_before_a_malformed_frame_are_still_delivered():
    answer = b'{"Event-Name":"CHANNEL_ANSWER","Core-UUID":"c","Unique-ID":"u1"}'
    payload = b"".join(
        b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (len(body), body)
        for body in (answer, answer.replace(b"u1", b"u2"))
    )
    # Received in one block with the events: a frame with no Content-Type.
    server = junk_server(payload + b"Content-Length: 2\n\n{}")
    host, port = server.address
    client = EslClient(host, port, PASSWORD, backoff=Backoff(5, 5))
    seen = []
    client.dispatcher.subscribe(lambda event: seen.append(event.unique_id))
    try:
        client.start()
        assert wait_until(lambda: len(seen) == 2 and client.connections == 1, 5)
        assert wait_until(lambda: not client.connected, 5)
        assert sorted(seen) == ["u1", "u2"]
    finally:
        client.stop()
        server.stop()


def test_failing_handler_is_logged_with_uuid_and_the_call_goes_on(
    switch, client, caplog
):
    ready(client)
    uuid = str(uuidlib.uuid4())
    switch.channels[uuid] = {}
    delivered: list[str] = []

    def handler(event):
        delivered.append(event.name)
        if event.name == "DTMF":
            raise RuntimeError("boom")

    client.dispatcher.attach(uuid, handler)
    with caplog.at_level(logging.ERROR, logger="orchestrator.esl.dispatch"):
        switch.channel_event("DTMF", uuid)
        switch.channel_event("CHANNEL_HANGUP", uuid)
        assert wait_until(lambda: delivered == ["DTMF", "CHANNEL_HANGUP"])
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert uuid in record.getMessage()


def test_backoff_grows_with_jitter_up_to_its_ceiling():
    backoff = Backoff(initial=0.2, maximum=10.0, factor=2.0)
    assert backoff.delay(0, rand=lambda: 0.0) == pytest.approx(0.1)
    assert backoff.delay(0, rand=lambda: 1.0) == pytest.approx(0.2)
    assert backoff.delay(3, rand=lambda: 0.5) == pytest.approx(1.6 * 0.75)
    # The ceiling holds however many attempts came before.
    assert backoff.delay(40, rand=lambda: 1.0) == pytest.approx(10.0)
    assert backoff.delay(10_000, rand=lambda: 0.0) == pytest.approx(5.0)


def test_a_switch_that_fails_after_the_password_is_retried_ever_more_slowly():
    # Every connection takes the password, then breaks on a malformed frame:
    # without backing off, the client would reconnect some 40 times a second.
    server = junk_server(b"\x00\x01\x02binary junk\xff\n\n")
    host, port = server.address
    client = EslClient(host, port, PASSWORD, backoff=Backoff(initial=0.05, maximum=5.0))
    try:
        client.start()
        gevent.sleep(1.5)
        # Waits of 0.025-0.05, 0.05-0.1, 0.1-0.2, 0.2-0.4 and 0.4-0.8 s.
        assert 3 <= client.connections <= 6
    finally:
        client.stop()
        server.stop()


def switch_then(payload: bytes) -> StreamServer:
    """A switch that answers the client's set-up, then sends ``payload``."""

    def handle(sock, address):
        sock.sendall(b"Content-Type: auth/request\n\n")
        buffer = b""
        while True:
            while b"\n\n" not in buffer:
                data = sock.recv(4096)
                if not data:
                    return
                buffer += data
            command, _, buffer = buffer.partition(b"\n\n")
            if command.startswith(b"api "):
                rows = b'{"row_count": 0}'
                sock.sendall(
                    b"Content-Type: api/response\nContent-Length: %d\n\n%s"
                    % (len(rows), rows)
                )
                if b"registrations" in command:
                    break  # the last listing of a resync
            else:
                sock.sendall(
                    b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
                )
        sock.sendall(payload)
        gevent.sleep(10)

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    return server


def test_an_event_broken_inside_its_frame_drops_the_connection_once_read(caplog):
    # Framed correctly and routed by its name and channel, but its JSON is
    # broken further on: that shows when a handler reads a header there.
    body = b'{"Event-Name":"CHANNEL_ANSWER","Core-UUID":"c","Unique-ID":"u1",'
    body += b'"Answer-State":answered"}'
    frame = b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(body)
    server = switch_then(frame + body)
    host, port = server.address
    client = EslClient(host, port, PASSWORD, backoff=Backoff(0.02, 0.05))
    states = []
    client.dispatcher.subscribe(lambda event: states.append(event.answer_state))
    client.dispatcher.subscribe(lambda event: states.append(event.caller_id_number))
    try:
        with caplog.at_level(logging.WARNING, logger="orchestrator.esl"):
            client.start()
            assert wait_until(lambda: client.connections >= 2, 5)
        client.stop()
        assert states == []
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors and all(r.exc_info is None for r in errors)
        assert all(
            "dropped: malformed frame: CHANNEL_ANSWER event" in r.getMessage()
            for r in errors
        )
    finally:
        client.stop()
        server.stop()
