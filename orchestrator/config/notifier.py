"""Telling the world that a new configuration revision was published.

Three listeners: the configuration views of this process (dropped at once),
the other orchestrator and web processes (a message on the Redis channel
``schakel:config``) and the switch (``xml_flush_cache``, after which it
fetches the directory afresh through xml_curl). The revision is already
committed when the notifier runs, so a listener that cannot be reached is
logged, not fatal: the others still hear of it, and the views re-check
the latest revision on their own within seconds.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from orchestrator.config.view import invalidate_all

log = logging.getLogger(__name__)

CHANNEL = "schakel:config"
# Tells this process's own announcements from those of the others.
ORIGIN = uuid.uuid4().hex


class Switch(Protocol):
    """Anything that can flush the switch's XML cache (the ESL gateway)."""

    def xml_flush_cache(self) -> None: ...


class Publisher(Protocol):
    def publish(self, channel: str, message: str) -> Any: ...


class Notifier:
    """Flush the switch's cache and announce the revision on live state.

    Without a switch (a demo or a test that has none) only the announcement
    is made; without a Redis client only this process hears of it.
    """

    def __init__(
        self,
        switch: Switch | Callable[[], Any] | None = None,
        live: Publisher | None = None,
    ) -> None:
        self.switch = switch
        self.live = live

    def published(self, revision_id: int, author: str, summary: str) -> None:
        invalidate_all()
        self._announce(revision_id, author, summary)
        self._flush(revision_id)

    def _announce(self, revision_id: int, author: str, summary: str) -> None:
        if self.live is None:
            return
        message = json.dumps(
            {
                "type": "config.published",
                "revision": revision_id,
                "author": author,
                "summary": summary,
                "origin": ORIGIN,
            },
            ensure_ascii=False,
        )
        try:
            self.live.publish(CHANNEL, message)
        except Exception as exc:  # noqa: BLE001 - the revision stands regardless
            log.warning(
                "revision %s not announced on %s: %s", revision_id, CHANNEL, exc
            )

    def _flush(self, revision_id: int) -> None:
        if self.switch is None:
            return
        # An ESL gateway, or any plain callable that does the flushing.
        flush = getattr(self.switch, "xml_flush_cache", self.switch)
        try:
            flush()
        except Exception as exc:  # noqa: BLE001 - the revision stands regardless
            log.warning(
                "revision %s: the switch's XML cache was not flushed: %s",
                revision_id,
                exc,
            )
        else:
            log.info("revision %s: the switch's XML cache was flushed", revision_id)


def listen(
    live: Any,
    switch: Switch | None = None,
    *,
    on_message: Callable[[dict[str, Any]], None] | None = None,
) -> threading.Thread:
    """Hear revisions that other processes publish (a daemon thread).

    Each drops this process's configuration views; the process that holds
    the switch connection also flushes the switch's cache, since the
    publisher (the web app, say) may have no switch of its own.
    """
    pubsub = live.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)

    def run() -> None:
        for message in pubsub.listen():
            data = _decode(message.get("data"))
            if data.get("origin") == ORIGIN:
                continue
            log.info("revision %s announced by another process", data.get("revision"))
            invalidate_all()
            if switch is not None:
                Notifier(switch=switch)._flush(data.get("revision") or 0)
            if on_message is not None:
                on_message(data)

    thread = threading.Thread(target=run, name="config-announcements", daemon=True)
    thread.start()
    return thread


def _decode(raw: Any) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
