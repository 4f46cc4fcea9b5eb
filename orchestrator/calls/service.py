"""Hold and transfer of a user's live call, over the injected `Gateway`.

The user names their own leg (its UUID, as ``/api/v1/calls`` lists it); the
*caller* is the leg bridged to it. What the switch needs:

- hold: ``uuid_hold`` on the user's leg. The switch re-INVITEs the phone
  (sendonly) and plays the leg's ``hold_music`` to the caller, so the
  variable is made sure of first: a caller on hold never hears silence.
- blind transfer: the caller is sent into the dialplan (``uuid_transfer``,
  context ``default``) as if the user had dialled the number, with the
  user's call rights, the original caller's number kept as the number the
  target sees and presented outside, and a ``Diversion`` header naming the
  user (``sip_h_*`` variables are copied to the legs the caller's bridge
  makes), which trunks want before they pass on a number that is not ours.
- attended transfer: `orchestrator.calls.transfer` decides, this module
  acts. The consultation call goes through the dialplan too (a loopback
  leg into ``default``), so traffic classes, hunt groups and forwarding
  apply to it as to any call the user makes. While it runs, the caller and
  the user's leg carry ``park_after_bridge`` so that a leg whose partner
  leaves a bridge waits rather than hangs up (the switch checks it before
  ``hangup_after_bridge``); both are put back when the transfer ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import uuid as uuidlib
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import redis

from orchestrator.calls import legs as legs_mod
from orchestrator.calls.directory import UserDirectory
from orchestrator.calls.errors import (
    AlreadyOnHold,
    CallError,
    CallNotFound,
    InvalidDestination,
    NotBridged,
    NotOnHold,
    SwitchRefused,
    SwitchUnavailable,
    TransferInProgress,
    TransferNotAllowed,
    TransferNotFound,
)
from orchestrator.calls.presence import LegState, LiveLeg, LiveLegs
from orchestrator.calls.records import LogEntry, RecordWriter
from orchestrator.calls.transfer import (
    Transfer,
    TransitionRefused,
    Trigger,
)
from orchestrator.esl.commands import Application
from orchestrator.esl.errors import ChannelNotFound, CommandFailed, EslError
from orchestrator.esl.events import Event

log = logging.getLogger(__name__)

EVENTS = ("CHANNEL_HANGUP_COMPLETE",)

TRANSFER_KEY = "schakel:transfer:{}"
TRANSFER_LEG_KEY = "schakel:transfer-leg:{}"
TRANSFER_TTL_S = 6 * 3600
CONTEXT = "default"
DEFAULT_MUSIC = "local_stream://moh"

# What a user may type as a destination: an extension, a number, a code.
_DESTINATION = re.compile(r"\+?[0-9*#]{2,20}")
_SEPARATORS = re.compile(r"[\s\-./()]")

# The user's rights, which a caller transferred into the dialplan carries
# so that the transfer stays within the user's traffic class.
_RIGHTS_VARIABLES = ("schakel_call_rights", "toll_allow", "schakel_max_call_seconds")
# What the consultation call carries to be routed as the user's own call.
_USER_VARIABLES = (
    *_RIGHTS_VARIABLES,
    "outbound_caller_id_number",
    "outbound_caller_id_name",
    "schakel_username",
    "schakel_user_id",
    "default_language",
)

Spawn = Callable[[Callable[[], None]], None]


def _thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="consultation", daemon=True).start()


def check_destination(text: str) -> str:
    """The digits a user typed as a transfer destination, or an error."""
    cleaned = _SEPARATORS.sub("", text or "")
    if not _DESTINATION.fullmatch(cleaned):
        raise InvalidDestination(
            f"{text!r} is not a number or extension", destination=text
        )
    return cleaned


class TransferBook:
    """Live transfers in live state, by the user's leg and by every leg."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def save(self, transfer: Transfer) -> None:
        pipe = self.redis.pipeline()
        key = TRANSFER_KEY.format(transfer.transferer)
        pipe.set(key, orjson.dumps(transfer.as_json()), ex=TRANSFER_TTL_S)
        for uuid in (transfer.transferer, transfer.caller, transfer.target):
            leg_key = TRANSFER_LEG_KEY.format(uuid)
            pipe.set(leg_key, transfer.transferer, ex=TRANSFER_TTL_S)
        pipe.execute()

    def get(self, transferer: str) -> Transfer | None:
        raw = self.redis.get(TRANSFER_KEY.format(transferer))
        return Transfer.from_json(orjson.loads(raw)) if raw else None

    def by_leg(self, uuid: str) -> Transfer | None:
        transferer = self.redis.get(TRANSFER_LEG_KEY.format(uuid))
        return self.get(transferer) if transferer else None


class CallService:
    """What a user can do with their live calls."""

    def __init__(
        self,
        gateway: Any,
        live: redis.Redis,
        directory: UserDirectory,
        *,
        domain: str,
        music: Callable[[], str] | None = None,
        writer: RecordWriter | None = None,
        spawn: Spawn = _thread,
        legs: LiveLegs | None = None,
    ) -> None:
        self.gateway = gateway
        self.legs = legs or LiveLegs(live)
        self.transfers = TransferBook(live)
        self.directory = directory
        self.domain = domain
        self.music = music or (lambda: DEFAULT_MUSIC)
        self.writer = writer
        self.spawn = spawn
        self._lock = threading.RLock()

    # -- reading ------------------------------------------------------------------

    def calls_of(self, username: str) -> list[dict[str, Any]]:
        """The user's live legs, with the party on the other end."""
        found = []
        for leg in self.legs.of_user(username):
            other = self.legs.get(leg.other) if leg.other else None
            transfer = self.transfers.by_leg(leg.uuid)
            found.append(
                {
                    "uuid": leg.uuid,
                    "call_uuid": leg.call_uuid,
                    "state": leg.state,
                    "direction": leg.side,
                    "from": leg.caller_number,
                    "from_name": leg.caller_name,
                    "to": leg.callee_number,
                    "other": leg.other or None,
                    "other_number": _party_number(leg, other),
                    "since": float(leg.since) if leg.since else None,
                    "transfer": transfer.public() if transfer else None,
                }
            )
        return found

    def transfer_of(self, username: str, uuid: str) -> Transfer:
        self._own(username, uuid)
        transfer = self.transfers.get(uuid)
        if transfer is None:
            raise TransferNotFound("no transfer on this call", uuid=uuid)
        return transfer

    # -- hold -----------------------------------------------------------------------

    def hold(self, username: str, uuid: str) -> None:
        leg = self._own(username, uuid)
        self._partner(leg)
        if leg.state == LegState.HELD:
            raise AlreadyOnHold("the call is already on hold", uuid=uuid)
        self._ensure_music(uuid)
        self._do(self.gateway.hold, uuid)
        log.info("call %s: user %s holds leg %s", leg.call_uuid, username, uuid)
        self._log("call.held", leg, username)

    def unhold(self, username: str, uuid: str) -> None:
        leg = self._own(username, uuid)
        if leg.state != LegState.HELD:
            raise NotOnHold("the call is not on hold", uuid=uuid)
        self._do(self.gateway.unhold, uuid)
        log.info(
            "call %s: user %s takes leg %s off hold", leg.call_uuid, username, uuid
        )
        self._log("call.unheld", leg, username)

    def _ensure_music(self, uuid: str) -> None:
        music = self._do(self.gateway.getvar, uuid, "hold_music")
        if not music:
            self._do(self.gateway.setvar, uuid, "hold_music", self.music())

    # -- blind transfer ----------------------------------------------------------

    def blind_transfer(self, username: str, uuid: str, destination: str) -> str:
        """Send the caller to ``destination``; returns the caller's UUID."""
        number = check_destination(destination)
        leg = self._own(username, uuid)
        caller = self._partner(leg)
        self._refuse_if_transferring(uuid)
        user_vars = self._variables(uuid)
        caller_vars = self._variables(caller)

        for name, value in self._caller_variables(
            username, user_vars, caller_vars
        ).items():
            self._do(self.gateway.setvar, caller, name, value)
        self._do(self.gateway.transfer, caller, number, "XML", CONTEXT)
        log.info(
            "call %s: user %s transferred caller %s to %s",
            leg.call_uuid,
            username,
            caller,
            number,
        )
        self._log("call.transferred", leg, username, to=number, caller=caller)
        return caller

    def _caller_variables(
        self,
        username: str,
        user_vars: Mapping[str, Any],
        caller_vars: Mapping[str, Any],
    ) -> dict[str, str]:
        user = self.directory.by_username(username)
        variables = {
            name: value
            for name in _RIGHTS_VARIABLES
            if (value := _var(user_vars, name))
        }
        number = legs_mod.text(caller_vars, "Caller-Caller-ID-Number")
        name = legs_mod.text(caller_vars, "Caller-Caller-ID-Name")
        # The target sees who is calling, not who transferred the call.
        if number:
            variables["effective_caller_id_number"] = number
        if name:
            variables["effective_caller_id_name"] = name
        if not _var(caller_vars, "schakel_external_cli") and _external(number):
            variables["schakel_external_cli"] = legs_mod.number(number) or number
        user_number = user.number if user else None
        if user_number:
            variables["sip_h_Diversion"] = (
                f"<sip:{user_number}@{self.domain}>;reason=deflection"
            )
        variables["schakel_transferred_by"] = username
        return variables

    # -- attended transfer ---------------------------------------------------------

    def start_attended(self, username: str, uuid: str, destination: str) -> Transfer:
        """Put the caller on hold and call ``destination`` for the user."""
        number = check_destination(destination)
        leg = self._own(username, uuid)
        caller = self._partner(leg)
        with self._lock:
            self._refuse_if_transferring(uuid)
            user_vars = self._variables(uuid)
            transfer = Transfer(
                transferer=uuid,
                caller=caller,
                target=str(uuidlib.uuid4()),
                destination=number,
                user=username,
            )
            self._prepare(transfer)
            self.transfers.save(transfer)
        variables = self._consultation_variables(username, user_vars, transfer)
        log.info(
            "call %s: user %s consults %s (leg %s), caller %s on hold",
            leg.call_uuid,
            username,
            number,
            transfer.target,
            caller,
        )
        self._log("transfer.started", leg, username, to=number, caller=caller)
        self.spawn(lambda: self._consult(transfer, variables))
        return transfer

    def cancel_transfer(self, username: str, uuid: str) -> Transfer:
        return self._by_user(username, uuid, Trigger.CANCEL)

    def complete_transfer(self, username: str, uuid: str) -> Transfer:
        return self._by_user(username, uuid, Trigger.COMPLETE)

    def _by_user(self, username: str, uuid: str, trigger: Trigger) -> Transfer:
        self._own(username, uuid)
        try:
            transfer = self.fire(uuid, trigger, strict=True)
        except TransitionRefused as exc:
            raise TransferNotAllowed(
                str(exc), state=exc.state.value, action=trigger.value
            ) from exc
        if transfer is None:
            raise TransferNotFound("no transfer on this call", uuid=uuid)
        return transfer

    def _prepare(self, transfer: Transfer) -> None:
        caller, user = transfer.caller, transfer.transferer
        transfer.saved = {
            caller: self._saved(caller, ("park_after_bridge", "hangup_after_bridge")),
            user: self._saved(user, ("park_after_bridge",)),
        }
        self._do(self.gateway.setvar, caller, "park_after_bridge", "true")
        self._do(self.gateway.setvar, caller, "hangup_after_bridge", "false")
        self._do(self.gateway.setvar, user, "park_after_bridge", "true")
        self._ensure_music(user)
        self._do(self.gateway.hold, user)

    def _saved(self, uuid: str, names: tuple[str, ...]) -> dict[str, str]:
        return {name: self._do(self.gateway.getvar, uuid, name) or "" for name in names}

    def _consultation_variables(
        self, username: str, user_vars: Mapping[str, Any], transfer: Transfer
    ) -> dict[str, str]:
        user = self.directory.by_username(username)
        variables = {
            name: value for name in _USER_VARIABLES if (value := _var(user_vars, name))
        }
        outside = _var(user_vars, "schakel_external_cli") or variables.get(
            "outbound_caller_id_number"
        )
        if outside:
            variables["schakel_external_cli"] = outside
        if user is not None:
            variables["origination_caller_id_number"] = user.extension or (
                user.number or ""
            )
            variables["origination_caller_id_name"] = user.name
        variables["hold_music"] = self.music()
        # Otherwise the loopback pair steps out once both halves are
        # bridged, and the target leg named here would hang up.
        variables["loopback_bowout"] = "false"
        variables["schakel_consultation_of"] = transfer.caller
        return {k: v for k, v in variables.items() if _safe_value(v)}

    def _consult(self, transfer: Transfer, variables: dict[str, str]) -> None:
        endpoint = f"loopback/{transfer.destination}/{CONTEXT}"
        try:
            self.gateway.originate(
                endpoint, Application("park"), variables, uuid=transfer.target
            )
        except CommandFailed as exc:
            self._fire_quietly(transfer, Trigger.TARGET_FAILED, exc.reply.strip())
        except EslError as exc:
            self._fire_quietly(transfer, Trigger.TARGET_FAILED, str(exc))
        else:
            self._fire_quietly(transfer, Trigger.TARGET_ANSWERED)

    def _fire_quietly(
        self, transfer: Transfer, trigger: Trigger, reason: str = ""
    ) -> None:
        try:
            self.fire(transfer.transferer, trigger, reason)
        except CallError as exc:
            log.error(
                "transfer %s: %s failed: %s", transfer.transferer, trigger.value, exc
            )

    # -- the state machine's steps ------------------------------------------------

    def fire(
        self, transferer: str, trigger: Trigger, reason: str = "", strict: bool = False
    ) -> Transfer | None:
        """Move the transfer of leg ``transferer`` on and take the step."""
        with self._lock:
            transfer = self.transfers.get(transferer)
            if transfer is None:
                return None
            try:
                step = transfer.fire(trigger, reason)
            except TransitionRefused:
                if strict:
                    raise
                return transfer
            if step is None:
                return transfer
            log.info(
                "transfer %s: %s -> %s (%s)",
                transferer,
                trigger.value,
                transfer.state.value,
                step.value,
            )
            try:
                getattr(self, "_step_" + step.value)(transfer)
            finally:
                self.transfers.save(transfer)
                self._log_transfer(transfer, trigger)
            return transfer

    def _step_connect_target(self, t: Transfer) -> None:
        self._do(self.gateway.bridge, t.transferer, t.target)
        # The caller left the bridge and waits parked: music again.
        self._do(self.gateway.broadcast, t.caller, self.music(), "aleg")
        self._do(self.gateway.unhold, t.transferer)

    def _step_connect_caller(self, t: Transfer) -> None:
        self._quietly(self.gateway.break_media, t.caller, True)
        self._do(self.gateway.bridge, t.caller, t.target)
        self._put_back(t, t.caller)
        self._quietly(self.gateway.kill, t.transferer)

    def _step_await_target(self, t: Transfer) -> None:
        self._quietly(self.gateway.broadcast, t.caller, self.music(), "aleg")

    def _step_restore(self, t: Transfer) -> None:
        self._quietly(self.gateway.kill, t.target, "ORIGINATOR_CANCEL")
        self._put_back(t, t.caller)
        self._put_back(t, t.transferer)
        self._do(self.gateway.unhold, t.transferer)

    def _step_reconnect(self, t: Transfer) -> None:
        self._quietly(self.gateway.break_media, t.caller, True)
        self._do(self.gateway.bridge, t.caller, t.transferer)
        self._quietly(self.gateway.kill, t.target)
        self._put_back(t, t.caller)
        self._put_back(t, t.transferer)

    def _step_return_caller(self, t: Transfer) -> None:
        user = self.directory.by_username(t.user)
        self._quietly(self.gateway.break_media, t.caller, True)
        self._put_back(t, t.caller)
        if user is not None and (user.extension or user.number):
            number = user.extension or user.number or ""
            self._quietly(self.gateway.transfer, t.caller, number, "XML", CONTEXT)
        else:
            self._quietly(self.gateway.kill, t.caller)

    def _step_drop(self, t: Transfer) -> None:
        self._quietly(self.gateway.kill, t.target, "ORIGINATOR_CANCEL")
        self._quietly(self.gateway.kill, t.transferer)

    def _step_release(self, t: Transfer) -> None:
        self._put_back(t, t.transferer)

    def _put_back(self, t: Transfer, uuid: str) -> None:
        for name, value in t.saved.get(uuid, {}).items():
            self._quietly(self.gateway.setvar, uuid, name, value)

    # -- switch events ------------------------------------------------------------

    def handle(self, event: Event) -> None:
        uuid = event.unique_id
        if event.name != "CHANNEL_HANGUP_COMPLETE" or not uuid:
            return
        transfer = self.transfers.by_leg(uuid)
        if transfer is None or not transfer.active:
            return
        trigger = {
            "caller": Trigger.CALLER_HUNG_UP,
            "transferer": Trigger.TRANSFERER_HUNG_UP,
            "target": Trigger.TARGET_HUNG_UP,
        }.get(transfer.role_of(uuid) or "")
        if trigger is not None:
            self._fire_quietly(transfer, trigger, event.hangup_cause or "")

    # -- helpers --------------------------------------------------------------------

    def _own(self, username: str, uuid: str) -> LiveLeg:
        leg = self.legs.get(uuid)
        if leg is None or leg.user != username:
            raise CallNotFound("no such call of yours", uuid=uuid)
        return leg

    def _partner(self, leg: LiveLeg) -> str:
        if leg.other:
            return leg.other
        other = self._do(self.gateway.getvar, leg.uuid, "bridge_uuid")
        if not other:
            raise NotBridged("the call is not connected to anyone", uuid=leg.uuid)
        return other

    def _refuse_if_transferring(self, uuid: str) -> None:
        current = self.transfers.by_leg(uuid)
        if current is not None and current.active:
            raise TransferInProgress(
                "a transfer of this call is under way", state=current.state.value
            )

    def _variables(self, uuid: str) -> dict[str, Any]:
        """All of a channel's headers and variables (``uuid_dump``)."""
        text = self._do(self.gateway.api, f"uuid_dump {uuid} json")
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            log.warning("leg %s: uuid_dump gave no JSON", uuid)
            return {}
        return data if isinstance(data, dict) else {}

    def _do(self, command: Callable[..., Any], *args: Any) -> Any:
        try:
            return command(*args)
        except ChannelNotFound as exc:
            raise CallNotFound("the call has ended", uuid=args[0]) from exc
        except CommandFailed as exc:
            raise SwitchRefused(exc.reply, command=exc.command) from exc
        except EslError as exc:
            raise SwitchUnavailable(str(exc)) from exc

    def _quietly(self, command: Callable[..., Any], *args: Any) -> None:
        """A command on a leg that may already be gone."""
        try:
            command(*args)
        except EslError as exc:
            log.debug("%s%r: %s", getattr(command, "__name__", command), args, exc)

    def _log(self, kind: str, leg: LiveLeg, username: str, **data: Any) -> None:
        if self.writer is None:
            return
        self.writer.submit(
            LogEntry(
                kind=kind,
                at=_now(),
                call_uuid=leg.call_uuid,
                user=username,
                actor=username,
                data={"leg": leg.uuid, **data},
            )
        )

    def _log_transfer(self, transfer: Transfer, trigger: Trigger) -> None:
        if self.writer is None:
            return
        leg = self.legs.get(transfer.transferer)
        self.writer.submit(
            LogEntry(
                kind=f"transfer.{transfer.state.value}",
                at=_now(),
                call_uuid=leg.call_uuid if leg else transfer.caller,
                user=transfer.user,
                actor=transfer.user,
                data={
                    "leg": transfer.transferer,
                    "trigger": trigger.value,
                    "to": transfer.destination,
                    "reason": transfer.reason,
                },
            )
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _var(data: Mapping[str, Any], name: str) -> str | None:
    return legs_mod.variable(data, name)


def _external(number: str | None) -> bool:
    return bool(number) and (number.startswith("+") or len(number) > 6)


def _safe_value(value: str) -> bool:
    # Quotes and braces cannot be written inside an originate's {...}.
    return bool(value) and not any(char in value for char in "'{}[]\n")


def _party_number(leg: LiveLeg, other: LiveLeg | None) -> str | None:
    if leg.side == legs_mod.OUT:
        return leg.callee_number or (other.caller_number if other else None)
    return leg.caller_number or None
