"""The call features put together, and their background service.

`build` makes every part once per process: the record writer, the user
directory, call history, presence, the calls service and voicemail. The
web app (``/api/v1/calls``, ``/api/v1/voicemail``) and the background service
`run` share the same instance through `features_of`.

`run` is registered in `orchestrator.runtime`: it subscribes the parts to
the switch's events, starts the writer and the voicemail mailer, rebuilds
live state after every reconnect, and notices do-not-disturb changes made
elsewhere (the web app, a feature code) to publish the new presence.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from orchestrator import voicemail as voicemail_mod
from orchestrator.calls import history, presence, service
from orchestrator.calls.directory import UserDirectory
from orchestrator.calls.history import CallHistory
from orchestrator.calls.presence import PresenceTracker
from orchestrator.calls.records import RecordWriter
from orchestrator.calls.service import CallService
from orchestrator.settings import Settings
from orchestrator.store import models as m
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

EXTRA_KEY = "call_features"
DND_CHECK_S = 15.0
SPOOL_NAME = "call-records.jsonl"


@dataclass
class Features:
    settings: Settings
    store: Store
    live: redis.Redis
    gateway: Any | None
    writer: RecordWriter
    directory: UserDirectory
    history: CallHistory
    presence: PresenceTracker
    calls: CallService
    voicemail: voicemail_mod.VoicemailService
    started: bool = False
    _dnd: dict[str, bool] = field(default_factory=dict)


_build_lock = threading.Lock()


def build(
    settings: Settings, store: Store, live: redis.Redis, gateway: Any | None
) -> Features:
    spool = Path(settings.voicemail_dir).parent / "spool" / SPOOL_NAME
    writer = RecordWriter(store, spool=_writable(spool))
    directory = UserDirectory(store)
    voicemail = voicemail_mod.VoicemailService(store, writer, settings, gateway=gateway)
    writer.add_listener(voicemail.written)
    presence_tracker = PresenceTracker(live, directory, cache=True)
    return Features(
        settings=settings,
        store=store,
        live=live,
        gateway=gateway,
        writer=writer,
        directory=directory,
        history=CallHistory(writer),
        presence=presence_tracker,
        calls=CallService(
            gateway,
            live,
            directory,
            domain=settings.sip_domain,
            music=lambda: music_on_hold(store),
            writer=writer,
            spawn=gevent.spawn,
            legs=presence_tracker.legs,
        ),
        voicemail=voicemail,
    )


def _writable(path: Path) -> Path | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("no spool for call records at %s (%s): memory only", path, exc)
        return None
    return path


def features_of(services: Any) -> Features:
    """The process's features, kept in the web app's ``Services.extra``."""
    with _build_lock:
        found = services.extra.get(EXTRA_KEY)
        if found is None:
            found = services.extra[EXTRA_KEY] = build(
                services.settings, services.store, services.live, services.gateway
            )
            # The web app publishes presence changes through the same tracker.
            services.extra["presence"] = found.presence
        return found


def music_on_hold(store: Store) -> str:
    """The organisation's hold music; the switch's own default without one."""
    with store.session() as session:
        music = session.scalar(select(m.Organisation.music_on_hold).limit(1))
    return music or service.DEFAULT_MUSIC


# -- the background service --------------------------------------------------------


def run(ctx: Any) -> None:
    """Follow the switch for history, presence, transfers and voicemail."""
    features = _features(ctx)
    gateway = ctx.gateway
    subscriptions = subscribe(features, gateway)
    features.writer.start()
    features.voicemail.start()
    features.presence.start()
    log.info("call features following the switch")
    try:
        while True:
            gevent.sleep(DND_CHECK_S)
            refresh_dnd(features)
    finally:
        for subscription in subscriptions:
            subscription.cancel()
        features.presence.stop()
        features.voicemail.stop()
        features.writer.stop()


def _features(ctx: Any) -> Features:
    if ctx.app is not None:
        return features_of(ctx.app.extensions["schakel"])
    return build(ctx.settings, ctx.store, ctx.live, ctx.gateway)


def subscribe(features: Features, gateway: Any) -> list[Any]:
    """Hand the switch's events to each part; make sure the switch sends them."""
    wanted = {
        features.history.handle: history.EVENTS,
        features.presence.handle: presence.EVENTS,
        features.calls.handle: service.EVENTS,
        features.voicemail.handle: voicemail_mod.EVENTS,
    }
    client = getattr(gateway, "client", None)
    if client is not None and hasattr(client, "subscribe_events"):
        client.subscribe_events({name for names in wanted.values() for name in names})
    subscriptions = [
        gateway.subscribe(handler, names) for handler, names in wanted.items()
    ]
    gateway.on_resync(features.presence.resync)
    return subscriptions


def refresh_dnd(features: Features) -> None:
    """Publish presence for users whose do-not-disturb changed elsewhere."""
    try:
        with features.store.session() as session:
            rows = session.execute(select(m.User.username, m.User.dnd)).all()
    except SQLAlchemyError as exc:
        # The store is down; the next round tries again.
        log.debug("do-not-disturb check skipped: %s", exc)
        return
    changed = [name for name, dnd in rows if features._dnd.get(name) != bool(dnd)]
    first = not features._dnd
    features._dnd = {name: bool(dnd) for name, dnd in rows}
    if first:
        return
    features.directory.invalidate()
    for username in changed:
        features.presence.recompute(username)
