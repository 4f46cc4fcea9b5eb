"""Presence from the phones: available, ringing, busy, do not disturb, offline.

`decide` is the rule, without I/O. `PresenceTracker` follows the switch's
registration and channel events, keeps every live leg and registration in
live state (so that another orchestrator process, or this one after a
restart, knows them), and publishes each change on ``schakel:live``:

- ``{"type": "presence", "user": <username>, "extension", "state"}``
- ``{"type": "call", "uuid", "state", "from", "from_name", "to", "user",
  "extension", "since"}`` per user leg, state one of ringing, dialing,
  active, held, ended (``since``: epoch seconds the leg began).

Live state layout (Redis):

- ``schakel:presence``: hash username -> state;
- ``schakel:live:calls``: hash leg UUID -> the last call message (JSON) of
  every live user leg, for pages that start with a snapshot;
- ``schakel:leg:<uuid>``: hash of one live leg (see `LiveLeg`);
- ``schakel:user-legs:<username>``: set of the user's live leg UUIDs;
- ``schakel:registrations:<username>``: hash registration Call-ID ->
  expiry (epoch seconds).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import gevent
import gevent.event
import orjson
import redis
from sqlalchemy import select

from orchestrator.calls import legs
from orchestrator.calls.directory import UserDirectory
from orchestrator.esl.events import Event
from orchestrator.esl.snapshot import LiveSnapshot
from orchestrator.store import models as m

log = logging.getLogger(__name__)

PRESENCE_KEY = "schakel:presence"
CALLS_KEY = "schakel:live:calls"
CHANNEL = "schakel:live"
LEG_KEY = "schakel:leg:{}"
USER_LEGS_KEY = "schakel:user-legs:{}"
REGISTRATIONS_KEY = "schakel:registrations:{}"

# A leg whose CHANNEL_HANGUP_COMPLETE never came (the switch restarted)
# must not keep a user busy for ever.
LEG_TTL_S = 24 * 3600

EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CHANNEL_HANGUP_COMPLETE",
    "sofia::register",
    "sofia::unregister",
    "sofia::expire",
    "CHANNEL_PARK",
    "schakel::dnd",
)


class Presence(enum.StrEnum):
    AVAILABLE = "available"
    RINGING = "ringing"
    BUSY = "busy"
    DND = "dnd"
    OFFLINE = "offline"


class LegState(enum.StrEnum):
    RINGING = "ringing"  # the user's phone rings
    DIALING = "dialing"  # the user called out, nobody answered yet
    ACTIVE = "active"
    HELD = "held"
    ENDED = "ended"


_BUSY_STATES = frozenset({LegState.DIALING, LegState.ACTIVE, LegState.HELD})

# A leg's state from the channel's call state in the switch's channel list
# (switch_channel_callstate_t); a leg that is hanging up is left out.
_ROW_STATES = {
    "DOWN": LegState.RINGING,
    "DIALING": LegState.RINGING,
    "RINGING": LegState.RINGING,
    "EARLY": LegState.RINGING,
    "RING_WAIT": LegState.RINGING,
    "ACTIVE": LegState.ACTIVE,
    "UNHELD": LegState.ACTIVE,
    "HELD": LegState.HELD,
}


def decide(registered: bool, leg_states: Iterable[str], dnd: bool) -> Presence:
    """A user's presence from their phones' registrations, legs and setting.

    Being in a call wins over everything (a user in do-not-disturb can
    still make calls); a ringing phone over the setting; the setting over
    registration, because calls will not ring the user either way.
    """
    states = set(leg_states)
    if states & _BUSY_STATES:
        return Presence.BUSY
    if LegState.RINGING in states:
        return Presence.RINGING
    if dnd:
        return Presence.DND
    return Presence.AVAILABLE if registered else Presence.OFFLINE


@dataclass
class LiveLeg:
    """One live channel as kept in live state."""

    uuid: str
    call_uuid: str
    state: str
    user: str = ""  # username, "" for a leg of no user (a trunk leg)
    extension: str = ""
    side: str = ""
    caller_number: str = ""
    caller_name: str = ""
    callee_number: str = ""
    other: str = ""  # the bridged leg's UUID
    channel: str = ""
    since: str = ""  # epoch seconds, as text

    @classmethod
    def load(cls, data: dict[str, str]) -> LiveLeg | None:
        if not data.get("uuid"):
            return None
        known = {key: data.get(key, "") for key in cls.__dataclass_fields__}
        return cls(**known)

    def message(self) -> dict[str, object]:
        return {
            "type": "call",
            "uuid": self.uuid,
            "state": self.state,
            "from": self.caller_number,
            "from_name": self.caller_name,
            "to": self.callee_number,
            "user": self.user,
            "extension": self.extension,
            "since": float(self.since) if self.since else None,
        }


Pipe = Any  # a redis pipeline (or `Commands`), or None to write at once


class Commands:
    """Collects pipeline commands, to be written later in order."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        def record(*args: Any, **kwargs: Any) -> None:
            self.commands.append((name, args, kwargs))

        return record


@contextmanager
def writing(client: redis.Redis, pipe: Pipe) -> Iterator[Any]:
    """Write into ``pipe`` when given, else straight away (one round trip)."""
    if pipe is not None:
        yield pipe
        return
    own = client.pipeline(transaction=False)
    yield own
    own.execute()


class LiveLegs:
    """The live legs in live state, shared by presence and call control.

    With ``cache`` the legs are also kept in this process, written through
    to live state: the one process that follows the switch's events then
    reads nothing back. Any other reader uses ``cache=False``.
    """

    def __init__(self, client: redis.Redis, *, cache: bool = False) -> None:
        self.redis = client
        self.cached = cache
        self._legs: dict[str, LiveLeg] = {}
        self._users: dict[str, set[str]] = {}
        self._loaded: set[str] = set()

    def get(self, uuid: str) -> LiveLeg | None:
        if self.cached and uuid in self._legs:
            return self._legs[uuid]
        leg = LiveLeg.load(self.redis.hgetall(LEG_KEY.format(uuid)))
        if leg is not None:
            self._remember(leg)
        return leg

    def put(self, leg: LiveLeg, pipe: Pipe = None) -> None:
        self._remember(leg)
        key = LEG_KEY.format(leg.uuid)
        with writing(self.redis, pipe) as out:
            out.hset(key, mapping=asdict(leg))
            out.expire(key, LEG_TTL_S)
            if leg.user:
                out.sadd(USER_LEGS_KEY.format(leg.user), leg.uuid)

    def update(self, uuid: str, pipe: Pipe = None, **fields: str) -> LiveLeg | None:
        leg = self.get(uuid)
        if leg is None:
            return None
        for name, value in fields.items():
            setattr(leg, name, value)
        with writing(self.redis, pipe) as out:
            out.hset(LEG_KEY.format(uuid), mapping=fields)
        return leg

    def remove(self, uuid: str, pipe: Pipe = None) -> LiveLeg | None:
        leg = self.get(uuid)
        self._forget(uuid, leg)
        with writing(self.redis, pipe) as out:
            out.delete(LEG_KEY.format(uuid))
            if leg is not None and leg.user:
                out.srem(USER_LEGS_KEY.format(leg.user), uuid)
        return leg

    def of_user(self, username: str) -> list[LiveLeg]:
        if self.cached and username in self._loaded:
            uuids = sorted(self._users.get(username, ()))
            return [self._legs[uuid] for uuid in uuids if uuid in self._legs]
        uuids = sorted(self.redis.smembers(USER_LEGS_KEY.format(username)))
        found = self._fetch(username, uuids)
        if self.cached:
            self._loaded.add(username)
            known = self._users.get(username, set()) - {leg.uuid for leg in found}
            found += [self._legs[uuid] for uuid in sorted(known) if uuid in self._legs]
        return found

    def _fetch(self, username: str, uuids: list[str]) -> list[LiveLeg]:
        pipe = self.redis.pipeline(transaction=False)
        for uuid in uuids:
            pipe.hgetall(LEG_KEY.format(uuid))
        found = []
        for uuid, data in zip(uuids, pipe.execute(), strict=True):
            leg = LiveLeg.load(data)
            if leg is None:
                # Expired without a hangup event: forget it.
                self.redis.srem(USER_LEGS_KEY.format(username), uuid)
            else:
                self._remember(leg)
                found.append(leg)
        return found

    def _remember(self, leg: LiveLeg) -> None:
        if self.cached:
            self._legs[leg.uuid] = leg
            if leg.user:
                self._users.setdefault(leg.user, set()).add(leg.uuid)

    def _forget(self, uuid: str, leg: LiveLeg | None) -> None:
        self._legs.pop(uuid, None)
        if leg is not None and leg.user in self._users:
            self._users[leg.user].discard(uuid)

    def forget_all(self) -> None:
        """Drop what this process remembers: live state is read again."""
        self._legs.clear()
        self._users.clear()
        self._loaded.clear()

    def all_uuids(self) -> set[str]:
        prefix = LEG_KEY.format("")
        return {key[len(prefix) :] for key in self.redis.scan_iter(prefix + "*")}


class PresenceTracker:
    """Follows the switch's events and keeps every user's presence.

    ``cache=True`` is for the one process that follows the switch: it keeps
    legs, registrations and the last published states in memory as well and
    writes each event's changes in one round trip. Other processes (the web
    app publishing a do-not-disturb change) read live state every time.
    """

    def __init__(
        self,
        client: redis.Redis,
        directory: UserDirectory,
        clock: Callable[[], float] = time.time,
        *,
        cache: bool = False,
    ) -> None:
        self.redis = client
        self.directory = directory
        self.cached = cache
        self.legs = LiveLegs(client, cache=cache)
        self._clock = clock
        self._states: dict[str, str] = {}
        self._registrations: dict[str, dict[str, str]] = {}
        # Events of different channels arrive in lanes of their own; one
        # user's presence depends on several. One event at a time, and one
        # writer of the queued commands, keep the writes in the order the
        # states were worked out.
        self._lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._outbox: deque[tuple[str, tuple[Any, ...], dict[str, Any]]] = deque()
        self._pending = gevent.event.Event()
        self._flusher: gevent.Greenlet | None = None

    # -- reading ----------------------------------------------------------------

    def state(self, username: str) -> Presence:
        value = self.redis.hget(PRESENCE_KEY, username)
        return Presence(value) if value else Presence.OFFLINE

    def states(self) -> dict[str, str]:
        return dict(self.redis.hgetall(PRESENCE_KEY))

    # -- events -------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        # Reads of an uncached tracker must see its own writes at once.
        pipe = Commands() if self.cached else None
        key = event.key
        if key.startswith("sofia::"):
            self._registration(event, pipe)
        elif key == "schakel::dnd":
            self._dnd_code(event)
        else:
            self._channel(event, pipe)
        self._enqueue(pipe)

    def _enqueue(self, pipe: Commands | None) -> None:
        if pipe is None or not pipe.commands:
            return
        self._outbox.extend(pipe.commands)
        if self._flusher is not None:
            self._pending.set()
            return
        try:
            self.flush()
        except redis.RedisError:
            pass  # kept in the outbox; logged by flush

    # -- writing live state ---------------------------------------------------------

    @property
    def pending(self) -> int:
        """Live state writes queued and not yet made (while it cannot be reached)."""
        return len(self._outbox)

    def flush(self) -> None:
        """Write what the cached tracker has queued, in order, in one go.

        Commands stay queued when live state cannot be reached, and go out
        with the next flush.
        """
        with self._flush_lock:
            commands = list(self._outbox)
            if not commands:
                return
            pipe = self.redis.pipeline(transaction=False)
            for name, args, kwargs in commands:
                getattr(pipe, name)(*args, **kwargs)
            try:
                pipe.execute()
            except redis.RedisError as exc:
                log.warning("live state not written, %d kept: %s", len(commands), exc)
                raise
            for _ in commands:
                self._outbox.popleft()

    def start(self) -> None:
        """Write live state from a greenlet of its own, many events at once.

        Under load the events that arrive while one batch is written go out
        together in the next: one round trip for many events.
        """
        if self._flusher is None:
            self._flusher = gevent.spawn(self._flush_loop)

    def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.kill()
            self._flusher = None
        with contextlib.suppress(redis.RedisError):
            self.flush()

    def _flush_loop(self) -> None:
        failures = 0
        while True:
            self._pending.wait(timeout=min(2.0**failures, 10.0) if failures else None)
            self._pending.clear()
            try:
                self.flush()
            except redis.RedisError:
                failures += 1
            else:
                failures = 0

    def _channel(self, event: Event, pipe: Pipe) -> None:
        name = event.name
        uuid = event.unique_id
        if not uuid:
            return
        if name == "CHANNEL_CREATE":
            self._created(event, pipe)
        elif name == "CHANNEL_ANSWER":
            self._leg_state(uuid, LegState.ACTIVE, pipe)
        elif name == "CHANNEL_HOLD":
            self._leg_state(uuid, LegState.HELD, pipe)
        elif name == "CHANNEL_UNHOLD":
            self._leg_state(uuid, LegState.ACTIVE, pipe)
        elif name == "CHANNEL_BRIDGE":
            self._bridged(uuid, event.other_leg_unique_id or "", pipe)
        elif name == "CHANNEL_UNBRIDGE":
            self._bridged(uuid, "", pipe)
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self._ended(uuid, pipe)
        elif name == "CHANNEL_PARK":
            self._feature_code(event, pipe)

    def _feature_code(self, event: Event, pipe: Pipe) -> None:
        # The dialplan parks a do-not-disturb code for the feature-code
        # handler, which stores the setting; show it at once rather than
        # when the stored value is next read.
        action = legs.variable(event, "schakel_action")
        if action not in ("dnd_on", "dnd_off"):
            return
        username = legs.variable(event, "schakel_username")
        if not username:
            user = self.directory.lookup(legs.variable(event, "user_name"))
            username = user.username if user else None
        if username:
            self.recompute(username, dnd=action == "dnd_on", pipe=pipe)

    def _created(self, event: Event, pipe: Pipe) -> None:
        leg = legs.leg_of(event)
        if leg is None:
            return
        user = self.directory.lookup(leg.user) if leg.user else None
        state = LegState.DIALING if user and leg.side == legs.OUT else LegState.RINGING
        live = LiveLeg(
            uuid=leg.uuid,
            call_uuid=leg.call_uuid,
            state=state,
            user=user.username if user else "",
            extension=(user.extension or "") if user else "",
            since=f"{legs.event_time(event).timestamp():.3f}",
            side=leg.side or "",
            caller_number=leg.caller_number or "",
            caller_name=leg.caller_name or "",
            callee_number=leg.callee_number or "",
            channel=leg.channel_name,
        )
        if event.answer_state == "answered":
            live.state = LegState.ACTIVE
        self.legs.put(live, pipe)
        if live.user:
            log.debug(
                "call %s: leg %s of %s %s",
                live.call_uuid,
                live.uuid,
                live.user,
                live.state,
            )
            self._publish_call(live, pipe)
            self.recompute(live.user, pipe=pipe)

    def _leg_state(self, uuid: str, state: LegState, pipe: Pipe) -> None:
        live = self.legs.get(uuid)
        if live is None or live.state == state:
            return
        live = self.legs.update(uuid, pipe, state=state)
        if live is not None and live.user:
            self._publish_call(live, pipe)
            self.recompute(live.user, pipe=pipe)

    def _bridged(self, uuid: str, other: str, pipe: Pipe) -> None:
        # Only the A leg gets CHANNEL_BRIDGE; both legs learn their partner.
        before = self.legs.get(uuid)
        previous = before.other if before is not None else ""
        self.legs.update(uuid, pipe, other=other)
        if other:
            self.legs.update(other, pipe, other=uuid)
        elif previous:
            partner = self.legs.get(previous)
            if partner is not None and partner.other == uuid:
                self.legs.update(previous, pipe, other="")

    def _ended(self, uuid: str, pipe: Pipe) -> None:
        live = self.legs.remove(uuid, pipe)
        if live is None or not live.user:
            return
        live.state = LegState.ENDED
        self._publish_call(live, pipe)
        self.recompute(live.user, pipe=pipe)

    def _registration(self, event: Event, pipe: Pipe) -> None:
        directory_id = legs.text(event, "username") or legs.text(event, "from-user")
        user = self.directory.lookup(directory_id)
        call_id = legs.text(event, "call-id")
        if user is None or not call_id:
            return
        username = user.username
        known = self._registrations_of(username)
        key = REGISTRATIONS_KEY.format(username)
        with writing(self.redis, pipe) as out:
            if event.key == "sofia::register":
                expires = int(legs.text(event, "expires") or "3600")
                known[call_id] = str(int(self._clock()) + expires)
                out.hset(key, call_id, known[call_id])
            else:
                known.pop(call_id, None)
                out.hdel(key, call_id)
        log.debug("user %s: %s (%s)", username, event.key, call_id)
        self.recompute(username, pipe=pipe)

    def _registrations_of(self, username: str) -> dict[str, str]:
        if self.cached and username in self._registrations:
            return self._registrations[username]
        found = dict(self.redis.hgetall(REGISTRATIONS_KEY.format(username)))
        if self.cached:
            self._registrations[username] = found
        return found

    def _dnd_code(self, event: Event) -> None:
        """The do-not-disturb feature code, dialled from a phone."""
        directory_id = legs.text(event, "User") or legs.variable(event, "user_name")
        user = self.directory.lookup(directory_id)
        if user is None:
            log.warning("do-not-disturb code from unknown user %r", directory_id)
            return
        action = (legs.text(event, "Action") or "toggle").lower()
        on = not user.dnd if action == "toggle" else action == "on"
        self.set_dnd(user.username, on)

    # -- changes ------------------------------------------------------------------

    def set_dnd(self, username: str, on: bool) -> Presence:
        """Store the user's do-not-disturb setting and update their presence."""
        with self.directory.store.session() as session:
            user = session.scalar(select(m.User).where(m.User.username == username))
            if user is None:
                raise LookupError(f"no user {username!r}")
            user.dnd = on
        self.directory.invalidate()
        log.info("user %s: do not disturb %s", username, "on" if on else "off")
        return self.recompute(username)

    def recompute(
        self, username: str, dnd: bool | None = None, pipe: Pipe = None
    ) -> Presence:
        """Work out the user's presence again; publish it when it changed.

        ``dnd`` overrides the stored setting (a change not stored yet).
        """
        with self._lock:
            if pipe is not None or not self.cached:
                return self._recompute(username, dnd, pipe)
            queued = Commands()
            state = self._recompute(username, dnd, queued)
            self._enqueue(queued)
            return state

    def _recompute(self, username: str, dnd: bool | None, pipe: Pipe) -> Presence:
        user = self.directory.by_username(username)
        if dnd is None:
            dnd = user.dnd if user is not None else False
        state = decide(
            self._registered(username, pipe),
            (leg.state for leg in self.legs.of_user(username)),
            dnd,
        )
        previous = self._previous(username)
        if previous != state:
            self._states[username] = state.value
            log.debug("user %s: presence %s -> %s", username, previous, state)
            with writing(self.redis, pipe) as out:
                out.hset(PRESENCE_KEY, username, state.value)
                self._publish(
                    {
                        "type": "presence",
                        "user": username,
                        "extension": user.extension if user else None,
                        "state": state.value,
                    },
                    out,
                )
        return state

    def _previous(self, username: str) -> str | None:
        if self.cached and username in self._states:
            return self._states[username]
        value = self.redis.hget(PRESENCE_KEY, username)
        if self.cached and value is not None:
            self._states[username] = value
        return value

    def _registered(self, username: str, pipe: Pipe) -> bool:
        known = self._registrations_of(username)
        now = self._clock()
        expired = [call_id for call_id, ends in known.items() if int(ends) <= now]
        if expired:
            for call_id in expired:
                known.pop(call_id, None)
            with writing(self.redis, pipe) as out:
                out.hdel(REGISTRATIONS_KEY.format(username), *expired)
        return bool(known)

    def _publish_call(self, live: LiveLeg, pipe: Pipe) -> None:
        message = live.message()
        with writing(self.redis, pipe) as out:
            if live.state == LegState.ENDED:
                out.hdel(CALLS_KEY, live.uuid)
            else:
                out.hset(CALLS_KEY, live.uuid, orjson.dumps(message))
            self._publish(message, out)

    def _publish(self, message: dict[str, object], pipe: Pipe = None) -> None:
        if pipe is not None:
            pipe.publish(CHANNEL, orjson.dumps(message))
            return
        try:
            self.redis.publish(CHANNEL, orjson.dumps(message))
        except redis.RedisError as exc:
            log.warning("live update not published: %s", exc)

    # -- after a (re)connect to the switch ----------------------------------------

    def resync(self, snapshot: LiveSnapshot) -> None:
        """Forget legs the switch no longer has; everyone's presence again."""
        with self._lock:
            self._resync(snapshot)

    def _resync(self, snapshot: LiveSnapshot) -> None:
        self.legs.forget_all()
        self._states.clear()
        self._registrations.clear()
        adopted: set[str] = set()
        if snapshot.channels is not None:
            live = snapshot.channel_uuids()
            known = self.legs.all_uuids()
            for uuid in known - live:
                gone = self.legs.remove(uuid)
                if gone is not None and gone.user:
                    gone.state = LegState.ENDED
                    self._publish_call(gone, None)
            adopted = self._adopt(snapshot, known)
        if snapshot.registrations is not None:
            self._resync_registrations(snapshot.registrations)
        for username in self._known_users() | adopted:
            self.recompute(username)

    def _adopt(self, snapshot: LiveSnapshot, known: set[str]) -> set[str]:
        """Take on the user legs that began while nobody followed the switch.

        Their events are gone; the switch's channel list still says whose
        phone each is (``presence_id``), which way it goes and its state.
        Returns the users with a leg taken on.
        """
        # show calls pairs each bridged or ringing B leg with its A leg.
        a_legs: dict[str, dict[str, Any]] = {}
        partners: dict[str, str] = {}
        for row in snapshot.calls or ():
            a, b = row.get("uuid"), row.get("b_uuid")
            if a and b:
                a_legs[b] = row
                partners[a], partners[b] = b, a
        users = set()
        for row in snapshot.channels or ():
            uuid = row.get("uuid")
            if not uuid or uuid in known:
                continue
            live = self._leg_of_row(row, a_legs.get(uuid))
            if live is None:
                continue
            live.other = partners.get(uuid, "")
            self.legs.put(live)
            self._publish_call(live, None)
            users.add(live.user)
            log.info(
                "call %s: leg %s of %s taken on after a resync",
                live.call_uuid,
                uuid,
                live.user,
            )
        return users

    def _leg_of_row(
        self, row: dict[str, Any], a_leg: dict[str, Any] | None
    ) -> LiveLeg | None:
        """A user's leg from a row of ``show channels``; None for any other."""
        name = str(row.get("name") or "")
        presence_id = str(row.get("presence_id") or "")
        state = _ROW_STATES.get(str(row.get("callstate") or ""), "")
        if name.startswith("loopback/") or "@" not in presence_id or not state:
            return None
        user = self.directory.lookup(presence_id.partition("@")[0])
        if user is None:
            return None
        # The switch calls a user's phone (outbound) or the phone calls in.
        side = legs.IN if row.get("direction") == "outbound" else legs.OUT
        if state == LegState.RINGING and side == legs.OUT:
            state = LegState.DIALING
        callee = row.get("dest")
        if side == legs.IN and a_leg is not None:
            callee = a_leg.get("dest") or callee
        return LiveLeg(
            uuid=str(row["uuid"]),
            call_uuid=str(
                (a_leg or {}).get("uuid") or row.get("call_uuid") or row["uuid"]
            ),
            state=state,
            user=user.username,
            extension=user.extension or "",
            side=side,
            caller_number=legs.number(str(row.get("cid_num") or "")) or "",
            caller_name=str(row.get("cid_name") or ""),
            callee_number=legs.number(str(callee or "")) or "",
            channel=name,
            since=str(row.get("created_epoch") or ""),
        )

    def _resync_registrations(self, rows: list[dict]) -> None:
        found: dict[str, dict[str, str]] = {}
        for row in rows:
            user = self.directory.lookup(str(row.get("reg_user", "")))
            token = str(row.get("token") or row.get("url") or "")
            if user is None or not token:
                continue
            expires = str(row.get("expires") or int(self._clock()) + 3600)
            found.setdefault(user.username, {})[token] = expires
        for key in self.redis.scan_iter(REGISTRATIONS_KEY.format("*")):
            self.redis.delete(key)
        for username, tokens in found.items():
            self.redis.hset(REGISTRATIONS_KEY.format(username), mapping=tokens)

    def _known_users(self) -> set[str]:
        users = set(self.redis.hkeys(PRESENCE_KEY))
        prefix = REGISTRATIONS_KEY.format("")
        users |= {k[len(prefix) :] for k in self.redis.scan_iter(prefix + "*")}
        return users
