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

import enum
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

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


class LiveLegs:
    """The live legs in live state, shared by presence and call control."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def get(self, uuid: str) -> LiveLeg | None:
        return LiveLeg.load(self.redis.hgetall(LEG_KEY.format(uuid)))

    def put(self, leg: LiveLeg) -> None:
        key = LEG_KEY.format(leg.uuid)
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping=asdict(leg))
        pipe.expire(key, LEG_TTL_S)
        if leg.user:
            pipe.sadd(USER_LEGS_KEY.format(leg.user), leg.uuid)
        pipe.execute()

    def update(self, uuid: str, **fields: str) -> LiveLeg | None:
        leg = self.get(uuid)
        if leg is None:
            return None
        for name, value in fields.items():
            setattr(leg, name, value)
        self.redis.hset(LEG_KEY.format(uuid), mapping=fields)
        return leg

    def remove(self, uuid: str) -> LiveLeg | None:
        leg = self.get(uuid)
        pipe = self.redis.pipeline()
        pipe.delete(LEG_KEY.format(uuid))
        if leg is not None and leg.user:
            pipe.srem(USER_LEGS_KEY.format(leg.user), uuid)
        pipe.execute()
        return leg

    def of_user(self, username: str) -> list[LiveLeg]:
        uuids = sorted(self.redis.smembers(USER_LEGS_KEY.format(username)))
        found = []
        for uuid in uuids:
            leg = self.get(uuid)
            if leg is None:
                # Expired without a hangup event: forget it.
                self.redis.srem(USER_LEGS_KEY.format(username), uuid)
            else:
                found.append(leg)
        return found

    def all_uuids(self) -> set[str]:
        prefix = LEG_KEY.format("")
        return {key[len(prefix) :] for key in self.redis.scan_iter(prefix + "*")}


class PresenceTracker:
    """Follows the switch's events and keeps every user's presence."""

    def __init__(
        self,
        client: redis.Redis,
        directory: UserDirectory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = client
        self.directory = directory
        self.legs = LiveLegs(client)
        self._clock = clock

    # -- reading ----------------------------------------------------------------

    def state(self, username: str) -> Presence:
        value = self.redis.hget(PRESENCE_KEY, username)
        return Presence(value) if value else Presence.OFFLINE

    def states(self) -> dict[str, str]:
        return dict(self.redis.hgetall(PRESENCE_KEY))

    # -- events -------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        key = event.key
        if key.startswith("sofia::"):
            self._registration(event)
        elif key == "schakel::dnd":
            self._dnd_code(event)
        else:
            self._channel(event)

    def _channel(self, event: Event) -> None:
        name = event.name
        uuid = event.unique_id
        if not uuid:
            return
        if name == "CHANNEL_CREATE":
            self._created(event)
        elif name == "CHANNEL_ANSWER":
            self._leg_state(uuid, LegState.ACTIVE)
        elif name == "CHANNEL_HOLD":
            self._leg_state(uuid, LegState.HELD)
        elif name == "CHANNEL_UNHOLD":
            self._leg_state(uuid, LegState.ACTIVE)
        elif name == "CHANNEL_BRIDGE":
            self._bridged(uuid, event.other_leg_unique_id or "")
        elif name == "CHANNEL_UNBRIDGE":
            self._bridged(uuid, "")
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self._ended(uuid)
        elif name == "CHANNEL_PARK":
            self._feature_code(event)

    def _feature_code(self, event: Event) -> None:
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
            self.recompute(username, dnd=action == "dnd_on")

    def _created(self, event: Event) -> None:
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
        self.legs.put(live)
        if live.user:
            log.debug(
                "call %s: leg %s of %s %s",
                live.call_uuid,
                live.uuid,
                live.user,
                live.state,
            )
            self._publish_call(live)
            self.recompute(live.user)

    def _leg_state(self, uuid: str, state: LegState) -> None:
        live = self.legs.get(uuid)
        if live is None or live.state == state:
            return
        live = self.legs.update(uuid, state=state)
        if live is not None and live.user:
            self._publish_call(live)
            self.recompute(live.user)

    def _bridged(self, uuid: str, other: str) -> None:
        # Only the A leg gets CHANNEL_BRIDGE; both legs learn their partner.
        before = self.legs.get(uuid)
        self.legs.update(uuid, other=other)
        if other:
            self.legs.update(other, other=uuid)
        elif before is not None and before.other:
            partner = self.legs.get(before.other)
            if partner is not None and partner.other == uuid:
                self.legs.update(before.other, other="")

    def _ended(self, uuid: str) -> None:
        live = self.legs.remove(uuid)
        if live is None or not live.user:
            return
        live.state = LegState.ENDED
        self._publish_call(live)
        self.recompute(live.user)

    def _registration(self, event: Event) -> None:
        directory_id = legs.text(event, "username") or legs.text(event, "from-user")
        user = self.directory.lookup(directory_id)
        call_id = legs.text(event, "call-id")
        if user is None or not call_id:
            return
        key = REGISTRATIONS_KEY.format(user.username)
        if event.key == "sofia::register":
            expires = int(legs.text(event, "expires") or "3600")
            self.redis.hset(key, call_id, str(int(self._clock()) + expires))
        else:
            self.redis.hdel(key, call_id)
        log.debug("user %s: %s (%s)", user.username, event.key, call_id)
        self.recompute(user.username)

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

    def recompute(self, username: str, dnd: bool | None = None) -> Presence:
        """Work out the user's presence again; publish it when it changed.

        ``dnd`` overrides the stored setting (a change not stored yet).
        """
        user = self.directory.by_username(username)
        if dnd is None:
            dnd = user.dnd if user is not None else False
        state = decide(
            self._registered(username),
            (leg.state for leg in self.legs.of_user(username)),
            dnd,
        )
        previous = self.redis.hget(PRESENCE_KEY, username)
        if previous != state:
            self.redis.hset(PRESENCE_KEY, username, state.value)
            log.debug("user %s: presence %s -> %s", username, previous, state)
            self._publish(
                {
                    "type": "presence",
                    "user": username,
                    "extension": user.extension if user else None,
                    "state": state.value,
                }
            )
        return state

    def _registered(self, username: str) -> bool:
        key = REGISTRATIONS_KEY.format(username)
        now = self._clock()
        registered = False
        for call_id, expires in self.redis.hgetall(key).items():
            if int(expires) > now:
                registered = True
            else:
                self.redis.hdel(key, call_id)
        return registered

    def _publish_call(self, live: LiveLeg) -> None:
        message = live.message()
        if live.state == LegState.ENDED:
            self.redis.hdel(CALLS_KEY, live.uuid)
        else:
            self.redis.hset(CALLS_KEY, live.uuid, orjson.dumps(message))
        self._publish(message)

    def _publish(self, message: dict[str, object]) -> None:
        try:
            self.redis.publish(CHANNEL, orjson.dumps(message))
        except redis.RedisError as exc:
            log.warning("live update not published: %s", exc)

    # -- after a (re)connect to the switch ----------------------------------------

    def resync(self, snapshot: LiveSnapshot) -> None:
        """Forget legs the switch no longer has; everyone's presence again."""
        if snapshot.channels is not None:
            live = snapshot.channel_uuids()
            for uuid in self.legs.all_uuids() - live:
                gone = self.legs.remove(uuid)
                if gone is not None and gone.user:
                    gone.state = LegState.ENDED
                    self._publish_call(gone)
        if snapshot.registrations is not None:
            self._resync_registrations(snapshot.registrations)
        for username in self._known_users():
            self.recompute(username)

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
