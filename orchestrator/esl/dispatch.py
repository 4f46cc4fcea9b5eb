"""Delivery of events to handlers: in order per channel, never blocking others.

Each channel (Unique-ID) has its own lane: a queue drained by a greenlet of
its own, started when the first event arrives and gone when the queue is
empty. Events of one channel reach handlers in the order the switch sent
them; a slow handler delays only its channel, and a handler that raises is
logged with the channel's UUID and the next event is delivered as usual.
Events without a Unique-ID (BACKGROUND_JOB, API, HEARTBEAT, most CUSTOM
events) share one lane of their own.

Two kinds of handler:

- subscribers, by event name (the subclass for CUSTOM events) or ``"*"``,
  see every matching event of every channel;
- the owner of a channel (`attach`): the call controller, which gets every
  event of that Unique-ID until CHANNEL_DESTROY.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable

import gevent
import gevent.event

from orchestrator.esl.errors import ProtocolError
from orchestrator.esl.events import Event

logger = logging.getLogger(__name__)

Handler = Callable[[Event], None]

ALL = "*"
# Lane of the events that belong to no channel.
NO_CHANNEL = ""
# Events waiting on one lane that say its handler is stuck: a channel sends
# a few hundred in its whole life, the shared lane a few a second.
BACKLOG_WARNING = 1000


class Subscription:
    """Returned by `Dispatcher.subscribe`; call `cancel` to stop receiving."""

    __slots__ = ("_dispatcher", "handler", "keys")

    def __init__(
        self, dispatcher: Dispatcher, handler: Handler, keys: tuple[str, ...]
    ) -> None:
        self._dispatcher = dispatcher
        self.handler = handler
        self.keys = keys

    def cancel(self) -> None:
        self._dispatcher.unsubscribe(self)


class Dispatcher:
    """Routes each event to its channel's lane and runs the handlers there."""

    def __init__(self) -> None:
        self._by_key: dict[str, list[Handler]] = {}
        self._owners: dict[str, list[Handler]] = {}
        self._lanes: dict[str, deque[Event]] = {}
        # Subscribers of each key plus those of ALL, rebuilt on (un)subscribe.
        self._routes: dict[str, tuple[Handler, ...]] = {}
        self._paused = False
        self._holds = 0
        self._open = gevent.event.Event()
        self._open.set()
        self._idle = gevent.event.Event()
        self._idle.set()
        #: Called with an event whose body turned out to be broken when a
        #: handler first read it (JSON events are decoded lazily): the
        #: stream it came on is not to be trusted. By default, a log line.
        self.on_malformed: Callable[[Event, ProtocolError], None] = _malformed

    # -- handlers ---------------------------------------------------------

    def subscribe(self, handler: Handler, keys: Iterable[str] = (ALL,)) -> Subscription:
        """Deliver events whose name (or CUSTOM subclass) is in ``keys``."""
        keys = tuple(keys)
        for key in keys:
            self._by_key.setdefault(key, []).append(handler)
        self._routes.clear()
        return Subscription(self, handler, keys)

    def unsubscribe(self, subscription: Subscription) -> None:
        for key in subscription.keys:
            handlers = self._by_key.get(key, [])
            if subscription.handler in handlers:
                handlers.remove(subscription.handler)
            if not handlers:
                self._by_key.pop(key, None)
        self._routes.clear()

    def attach(self, uuid: str, handler: Handler) -> None:
        """Make ``handler`` an owner of channel ``uuid`` (until CHANNEL_DESTROY)."""
        owners = self._owners.setdefault(uuid, [])
        if handler not in owners:
            owners.append(handler)

    def detach(self, uuid: str, handler: Handler | None = None) -> None:
        """Remove one owner of a channel, or all of them."""
        owners = self._owners.get(uuid)
        if owners is None:
            return
        if handler is not None and handler in owners:
            owners.remove(handler)
        if handler is None or not owners:
            del self._owners[uuid]

    def owners(self, uuid: str) -> list[Handler]:
        return list(self._owners.get(uuid, ()))

    @property
    def keys(self) -> set[str]:
        """Event names and subclasses somebody subscribed to."""
        return set(self._by_key)

    # -- delivery ---------------------------------------------------------

    def dispatch(self, event: Event) -> None:
        """Queue an event on its channel's lane; never blocks."""
        self.dispatch_all((event,))

    def dispatch_all(self, events: Iterable[Event]) -> None:
        """Queue events, in their order, each on its channel's lane."""
        lanes = self._lanes
        for event in events:
            uuid = event.unique_id or NO_CHANNEL
            lane = lanes.get(uuid)
            if lane is not None:
                lane.append(event)
                if len(lane) == BACKLOG_WARNING:
                    _backlogged(uuid, lane)
                continue
            lane = lanes[uuid] = deque((event,))
            self._idle.clear()
            # A bare greenlet per busy lane: cheaper than gevent.Greenlet,
            # and _drain catches everything a handler raises.
            gevent.spawn_raw(self._drain, uuid, lane)

    def pause(self) -> None:
        """Hold deliveries (events keep queueing) until `resume`.

        Pauses nest: deliveries go on when each pause has been resumed.
        """
        self._holds += 1
        self._paused = True
        self._open.clear()

    def resume(self) -> None:
        self._holds = max(self._holds - 1, 0)
        if not self._holds:
            self._paused = False
            self._open.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every queued event was delivered; False on timeout."""
        return self._idle.wait(timeout)

    def _drain(self, uuid: str, lane: deque[Event]) -> None:
        # The hot loop of event delivery: everything it needs is local.
        routes = self._routes
        owners_of = self._owners
        try:
            while lane:
                if self._paused:
                    self._open.wait()
                event = lane.popleft()
                key = event.key
                handlers = routes.get(key)
                if handlers is None:
                    handlers = self._route(key)
                owners = owners_of.get(uuid) if uuid else None
                if owners:
                    handlers = (*handlers, *owners)
                for handler in handlers:
                    try:
                        handler(event)
                    except ProtocolError as exc:
                        # No handler can read this event: one report for
                        # it, not one traceback per handler.
                        self.on_malformed(event, exc)
                        break
                    except Exception:
                        logger.exception(
                            "handler %s failed on %s of channel %s; going on",
                            _name(handler),
                            key,
                            uuid or "-",
                        )
                if key == "CHANNEL_DESTROY" and owners is not None:
                    owners_of.pop(uuid, None)
        finally:
            # Nothing yields between the emptiness check and this removal.
            if self._lanes.get(uuid) is lane:
                del self._lanes[uuid]
            if not self._lanes:
                self._idle.set()

    def _route(self, key: str) -> tuple[Handler, ...]:
        by_key = self._by_key
        handlers = (*by_key.get(key, ()), *by_key.get(ALL, ()))
        self._routes[key] = handlers
        return handlers


def _malformed(event: Event, error: ProtocolError) -> None:
    channel = event.unique_id or "-"
    logger.error("%s of channel %s is malformed: %s", event.key, channel, error)


def _backlogged(uuid: str, lane: deque[Event]) -> None:
    # Once per crossing: the lane's handler has been busy with one event
    # while these arrived. Memory grows until it returns.
    logger.warning(
        "%s events of %s wait for a handler that has not returned "
        "(the oldest: %s); a handler is stuck",
        len(lane),
        f"channel {uuid}" if uuid else "no channel",
        lane[0].key,
    )


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)
