"""Feature-code calls the dialplan parked for us.

The switch cannot change the stored configuration, so a code such as
``*78`` (do not disturb on) answers the call, sets ``schakel_action`` (and
``schakel_action_arg``) and parks it. :class:`FeatureCalls` sees the
CHANNEL_PARK, makes the change for the user the directory put on the
channel (``schakel_user_id``) through :mod:`orchestrator.features.service`,
and transfers the call to ``feature_ok`` or ``feature_refused`` in context
``targets``, where the phone hears a confirmation or a refusal tone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from orchestrator.config.notifier import Notifier
from orchestrator.config.validate import ValidationError
from orchestrator.domain.features import (
    ACTION_VARIABLE,
    ARGUMENT_VARIABLE,
    FeatureAction,
)
from orchestrator.domain.forwarding import ForwardingError
from orchestrator.domain.hunt import HuntGroupError
from orchestrator.esl.errors import EslError
from orchestrator.esl.events import Event
from orchestrator.esl.gateway import Gateway
from orchestrator.esl.snapshot import LiveSnapshot
from orchestrator.features import service
from orchestrator.settings import Settings
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

DONE = "feature_ok"
REFUSED = "feature_refused"
CONTEXT = "targets"

# What a refused change raises; anything else is a fault of ours and is
# logged with its traceback (the caller still hears the refusal).
_REFUSALS = (service.FeatureError, ValidationError, ForwardingError, HuntGroupError)


class FeatureCalls:
    """Carries out parked feature-code calls (one instance per switch)."""

    def __init__(
        self,
        store: Store,
        gateway: Gateway,
        *,
        settings: Settings | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.settings = settings
        self.notifier = notifier
        self._subscription: Any = None
        # Calls carried out by `adopt`: their CHANNEL_PARK, should it still
        # come (parked while connecting), is not acted on twice.
        self._adopted: set[str] = set()
        self._actions: dict[str, Callable[[int, str], object]] = {
            FeatureAction.HUNT_LOGIN: lambda uid, arg: self._hunt(uid, arg, True),
            FeatureAction.HUNT_LOGOUT: lambda uid, arg: self._hunt(uid, arg, False),
            FeatureAction.DND_ON: lambda uid, _arg: self._dnd(uid, True),
            FeatureAction.DND_OFF: lambda uid, _arg: self._dnd(uid, False),
            FeatureAction.FORWARD_ON: self._forward_on,
            FeatureAction.FORWARD_OFF: self._forward_off,
        }

    def start(self) -> None:
        self._subscription = self.gateway.subscribe(self.on_park, ["CHANNEL_PARK"])
        self.gateway.on_resync(self.adopt)

    def adopt(self, snapshot: LiveSnapshot) -> None:
        """After a (re)connect: carry out the feature calls that were parked
        while nobody followed the switch (their CHANNEL_PARK went unseen)."""
        for row in snapshot.channels or ():
            uuid = str(row.get("uuid") or "")
            if row.get("application") != "park" or not uuid:
                continue
            try:
                action = self.gateway.getvar(uuid, ACTION_VARIABLE)
                if not action:
                    continue  # parked for something else (a queue, a menu)
                argument = self.gateway.getvar(uuid, ARGUMENT_VARIABLE) or ""
                user_id = self.gateway.getvar(uuid, "schakel_user_id") or ""
            except EslError as exc:
                log.info("call %s: parked call gone before adoption: %s", uuid, exc)
                continue
            log.info(
                "call %s: feature %s parked while away, carried out now", uuid, action
            )
            if len(self._adopted) > 1000:
                # Their late events, if any, came long ago.
                self._adopted.clear()
            self._adopted.add(uuid)
            self._carry_out(uuid, action, user_id, argument)

    def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None

    def on_park(self, event: Event) -> None:
        action = _text(event.variable(ACTION_VARIABLE))
        uuid = event.unique_id
        if not action or not uuid or uuid in self._adopted:
            return
        argument = _text(event.variable(ARGUMENT_VARIABLE))
        user_id = _text(event.variable("schakel_user_id"))
        self._carry_out(uuid, action, user_id, argument)

    def _carry_out(self, uuid: str, action: str, user_id: str, argument: str) -> None:
        outcome = self.perform(uuid, action, user_id, argument)
        try:
            self.gateway.transfer(uuid, outcome, "XML", CONTEXT)
        except EslError as exc:
            # The caller hung up meanwhile: the change stands all the same.
            log.info("call %s: feature %s done, caller gone: %s", uuid, action, exc)

    def perform(self, uuid: str, action: str, user_id: str, argument: str) -> str:
        """Make the change; the ``targets`` address the caller goes to next."""
        handler = self._actions.get(action)
        if handler is None:
            log.warning("call %s: unknown feature action %r", uuid, action)
            return REFUSED
        if not user_id.isdigit():
            log.warning(
                "call %s: feature %s from a device without a user", uuid, action
            )
            return REFUSED
        try:
            handler(int(user_id), argument)
        except _REFUSALS as exc:
            log.info("call %s: feature %s of user %s refused: %s", uuid, action,
                     user_id, exc)  # fmt: skip
            return REFUSED
        except Exception:
            log.exception(
                "call %s: feature %s of user %s failed", uuid, action, user_id
            )
            return REFUSED
        log.info("call %s: feature %s of user %s done", uuid, action, user_id)
        return DONE

    def _kw(self, user_id: int) -> dict[str, Any]:
        return {
            "actor": f"user:{user_id} (phone)",
            "settings": self.settings,
            "notifier": self.notifier,
        }

    def _hunt(self, user_id: int, argument: str, logged_in: bool) -> None:
        service.set_hunt_login(
            self.store,
            user_id,
            logged_in,
            group_extension=argument or None,
            **self._kw(user_id),
        )

    def _dnd(self, user_id: int, on: bool) -> None:
        service.set_dnd(self.store, user_id, on, **self._kw(user_id))

    def _forward_on(self, user_id: int, argument: str) -> None:
        service.forward_always_to(self.store, user_id, argument, **self._kw(user_id))

    def _forward_off(self, user_id: int, _argument: str) -> None:
        service.clear_forward(self.store, user_id, "always", **self._kw(user_id))


def _text(value: object) -> str:
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value or "").strip()


def run(ctx: Any) -> None:
    """The orchestrator service (:mod:`orchestrator.runtime`): carry out
    feature codes until the process stops."""
    import gevent.event

    notifier = Notifier(switch=ctx.gateway, live=ctx.live)
    calls = FeatureCalls(
        ctx.store, ctx.gateway, settings=ctx.settings, notifier=notifier
    )
    calls.start()
    try:
        gevent.event.Event().wait()
    finally:
        calls.stop()
