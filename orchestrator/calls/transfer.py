"""The attended (consultation) transfer as a state machine, without I/O.

Three legs take part: the *caller* (the party being transferred), the
*transferer* (the user's own leg, bridged to the caller) and the *target*
(the consultation call the user makes). The machine says, for each state
and trigger, which state follows and which step the service must take;
`orchestrator.calls.service` turns the steps into switch commands.

    state        trigger              next state   step
    ringing      target_answered      consulting   connect_target
    ringing      target_failed/_hung_up  failed    restore
    ringing      cancel               cancelled    restore
    ringing      transferer_hung_up   completing   await_target
    ringing      caller_hung_up       abandoned    drop
    consulting   complete             completed    connect_caller
    consulting   transferer_hung_up   completed    connect_caller
    consulting   cancel               cancelled    reconnect
    consulting   target_hung_up       cancelled    reconnect
    consulting   caller_hung_up       abandoned    release
    completing   target_answered      completed    connect_caller
    completing   target_failed/_hung_up  failed    return_caller
    completing   caller_hung_up       abandoned    drop
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class State(enum.StrEnum):
    RINGING = "ringing"  # caller on hold, the target rings
    CONSULTING = "consulting"  # caller on hold, user talks with the target
    COMPLETING = "completing"  # user hung up; caller goes to the target on answer
    COMPLETED = "completed"  # caller and target talk; the user is out
    CANCELLED = "cancelled"  # user and caller talk again
    FAILED = "failed"  # the target could not be reached
    ABANDONED = "abandoned"  # the caller hung up


class Trigger(enum.StrEnum):
    TARGET_ANSWERED = "target_answered"
    TARGET_FAILED = "target_failed"
    TARGET_HUNG_UP = "target_hung_up"
    COMPLETE = "complete"
    CANCEL = "cancel"
    TRANSFERER_HUNG_UP = "transferer_hung_up"
    CALLER_HUNG_UP = "caller_hung_up"


class Step(enum.StrEnum):
    """What the service does on a transition."""

    CONNECT_TARGET = "connect_target"  # user <-> target, caller keeps music
    CONNECT_CALLER = "connect_caller"  # caller <-> target, user's leg ends
    AWAIT_TARGET = "await_target"  # user gone: music for the caller meanwhile
    RESTORE = "restore"  # target ends, user takes the caller off hold
    RECONNECT = "reconnect"  # caller <-> user again, target ends
    RETURN_CALLER = "return_caller"  # user gone, target failed: ring the user
    DROP = "drop"  # caller gone while the target rang: end it all
    RELEASE = "release"  # caller gone: user and target talk on


TERMINAL = frozenset({State.COMPLETED, State.CANCELLED, State.FAILED, State.ABANDONED})

TRANSITIONS: dict[tuple[State, Trigger], tuple[State, Step]] = {
    (State.RINGING, Trigger.TARGET_ANSWERED): (State.CONSULTING, Step.CONNECT_TARGET),
    (State.RINGING, Trigger.TARGET_FAILED): (State.FAILED, Step.RESTORE),
    (State.RINGING, Trigger.TARGET_HUNG_UP): (State.FAILED, Step.RESTORE),
    (State.RINGING, Trigger.CANCEL): (State.CANCELLED, Step.RESTORE),
    (State.RINGING, Trigger.TRANSFERER_HUNG_UP): (State.COMPLETING, Step.AWAIT_TARGET),
    (State.RINGING, Trigger.CALLER_HUNG_UP): (State.ABANDONED, Step.DROP),
    (State.CONSULTING, Trigger.COMPLETE): (State.COMPLETED, Step.CONNECT_CALLER),
    (State.CONSULTING, Trigger.TRANSFERER_HUNG_UP): (
        State.COMPLETED,
        Step.CONNECT_CALLER,
    ),
    (State.CONSULTING, Trigger.CANCEL): (State.CANCELLED, Step.RECONNECT),
    (State.CONSULTING, Trigger.TARGET_HUNG_UP): (State.CANCELLED, Step.RECONNECT),
    (State.CONSULTING, Trigger.CALLER_HUNG_UP): (State.ABANDONED, Step.RELEASE),
    (State.COMPLETING, Trigger.TARGET_ANSWERED): (State.COMPLETED, Step.CONNECT_CALLER),
    (State.COMPLETING, Trigger.TARGET_FAILED): (State.FAILED, Step.RETURN_CALLER),
    (State.COMPLETING, Trigger.TARGET_HUNG_UP): (State.FAILED, Step.RETURN_CALLER),
    (State.COMPLETING, Trigger.CALLER_HUNG_UP): (State.ABANDONED, Step.DROP),
}

# Triggers a user gives (through the API); the others come from the switch.
USER_TRIGGERS = frozenset({Trigger.COMPLETE, Trigger.CANCEL})


class TransitionRefused(Exception):
    """A user asked for something the transfer's state does not allow."""

    def __init__(self, state: State, trigger: Trigger) -> None:
        super().__init__(f"cannot {trigger.value} a transfer that is {state.value}")
        self.state = state
        self.trigger = trigger


def _utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class Transfer:
    """One attended transfer: its legs, its state, and how it got there."""

    transferer: str  # the user's leg UUID, the transfer's key
    caller: str
    target: str
    destination: str
    user: str  # username
    state: State = State.RINGING
    reason: str = ""  # why it ended, e.g. the target's hangup cause
    history: list[tuple[str, str, str]] = field(default_factory=list)
    # Variables changed on the legs while the transfer runs, to put back.
    saved: dict[str, dict[str, str]] = field(default_factory=dict)
    started_at: str = field(default_factory=_utcnow)

    @property
    def active(self) -> bool:
        return self.state not in TERMINAL

    def fire(self, trigger: Trigger, reason: str = "") -> Step | None:
        """Move on by ``trigger``; the step to take, or None to do nothing.

        A switch event that does not apply (a duplicate, or one caused by
        the transfer's own steps after it ended) is ignored; a user's
        request that does not apply raises `TransitionRefused`.
        """
        found = TRANSITIONS.get((self.state, trigger))
        if found is None:
            if trigger in USER_TRIGGERS:
                raise TransitionRefused(self.state, trigger)
            return None
        new_state, step = found
        self.history.append((self.state.value, trigger.value, new_state.value))
        self.state = new_state
        if reason:
            self.reason = reason
        return step

    def role_of(self, uuid: str) -> str | None:
        for role in ("caller", "transferer", "target"):
            if getattr(self, role) == uuid:
                return role
        return None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        data["history"] = [list(step) for step in self.history]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transfer:
        values = dict(data)
        values["state"] = State(values["state"])
        values["history"] = [tuple(step) for step in values.get("history", [])]
        return cls(**values)

    def public(self) -> dict[str, Any]:
        """What the user's app is shown."""
        return {
            "uuid": self.transferer,
            "caller": self.caller,
            "target": self.target,
            "destination": self.destination,
            "state": self.state.value,
            "reason": self.reason,
            "started_at": self.started_at,
        }
