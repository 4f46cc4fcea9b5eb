"""The live page: calls and presence, pushed over a websocket.

Whatever in the orchestrator changes live state publishes a JSON event on
the Redis channel :data:`CHANNEL`. Each web process keeps one subscription
(:class:`LiveHub`) and fans every event out to its websocket clients, so a
thousand open wallboards cost one Redis connection, not a thousand. A client
too slow to keep up loses its oldest events, never the process's memory.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

import redis
from flask import Blueprint, current_app, render_template
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from orchestrator.calls.presence import CHANNEL
from orchestrator.store import models as m
from webui import livestate
from webui.security import requires

log = logging.getLogger(__name__)

CLIENT_BACKLOG = 256
POLL_SECONDS = 1.0

blueprint = Blueprint("live", __name__)
sock = Sock()

LIVE_ROLES = (m.Role.SUPERVISOR, m.Role.AGENT)


class LiveHub:
    """One subscription to :data:`CHANNEL`, shared by this process's clients."""

    def __init__(
        self, live: redis.Redis, channel: str = CHANNEL, country: str = "NL"
    ) -> None:
        self.live = live
        self.channel = channel
        self.country = country
        self._clients: set[queue.Queue[str]] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._subscribed = threading.Event()

    def join(self) -> queue.Queue[str]:
        inbox: queue.Queue[str] = queue.Queue(maxsize=CLIENT_BACKLOG)
        with self._lock:
            self._clients.add(inbox)
            if self._thread is None or not self._thread.is_alive():
                self._start()
        return inbox

    def leave(self, inbox: queue.Queue[str]) -> None:
        with self._lock:
            self._clients.discard(inbox)

    @property
    def clients(self) -> int:
        return len(self._clients)

    def stop(self) -> None:
        self._stopping.set()

    def _start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pubsub = None
        try:
            while not self._stopping.is_set():
                if pubsub is None:
                    pubsub = self._subscribe()
                    if pubsub is None:
                        self._stopping.wait(POLL_SECONDS)
                        continue
                try:
                    message = pubsub.get_message(timeout=POLL_SECONDS)
                except redis.ConnectionError:
                    log.warning("live hub lost Redis; subscribing again")
                    _close(pubsub)
                    pubsub = None
                    continue
                if message is not None and message.get("type") == "message":
                    # Numbers are made readable once here, not per client.
                    text = _text(message["data"])
                    self.publish_local(livestate.shown_text(text, self.country))
        finally:
            if pubsub is not None:
                _close(pubsub)

    def _subscribe(self) -> Any:
        pubsub = self.live.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
        except redis.ConnectionError as exc:
            log.warning("live hub cannot subscribe to %s: %s", self.channel, exc)
            _close(pubsub)
            return None
        self._subscribed.set()
        log.info("live hub subscribed to %s", self.channel)
        return pubsub

    def publish_local(self, data: str) -> None:
        with self._lock:
            clients = list(self._clients)
        for inbox in clients:
            _offer(inbox, data)


def _close(pubsub: Any) -> None:
    try:
        pubsub.close()
    except redis.RedisError:
        log.debug("closing a subscription failed", exc_info=True)


def _offer(inbox: queue.Queue[str], data: str) -> None:
    while True:
        try:
            inbox.put_nowait(data)
            return
        except queue.Full:
            try:
                inbox.get_nowait()
            except queue.Empty:
                continue


def _text(data: Any) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)


def hub() -> LiveHub:
    services = current_app.extensions["schakel"]
    found = services.extra.get("live_hub")
    if found is None:
        found = services.extra["live_hub"] = LiveHub(
            services.live, country=services.settings.country
        )
    return found


def publish(live: redis.Redis, event: dict[str, Any]) -> None:
    """Tell every live page about ``event`` (a dict with a ``type``)."""
    live.publish(CHANNEL, json.dumps(event, separators=(",", ":")))


@blueprint.get("/live")
@requires(*LIVE_ROLES)
def page() -> Any:
    services = current_app.extensions["schakel"]
    with services.store.session() as db:
        people = livestate.people(db, services.live)
    return render_template("live.html", people=people)


@sock.route("/ws/live", bp=blueprint)
@requires(*LIVE_ROLES)
def socket(ws: Any) -> None:
    services = current_app.extensions["schakel"]
    the_hub = hub()
    inbox = the_hub.join()
    try:
        snapshot = livestate.snapshot(services.live, services.settings.country)
        ws.send(json.dumps(snapshot))
        while ws.connected:
            try:
                data = inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            ws.send(data)
    except ConnectionClosed:
        pass
    finally:
        the_hub.leave(inbox)
