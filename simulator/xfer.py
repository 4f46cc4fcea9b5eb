"""Transfers during a call: mod_dptools' bind_meta_app, execute_extension
and att_xfer.

``bind_meta_app KEY LISTEN_TO FLAGS APP[::ARGS]`` (switch_ivr_async's
meta-key handling): on the leg it runs on, the meta key (``bind_meta_key``,
``*`` by default) followed within 5 s by KEY runs APP. LISTEN_TO says whose
keys count: ``a`` this leg's own phone, ``b`` its bridged partner's (keys
the bridge passes on to this leg), ``ab`` both. FLAGS say where APP runs:
``s`` on the leg whose phone pressed the keys, ``o`` on the other one,
``a`` on this leg, ``b`` on its partner (the default is this leg); ``i``
runs it at once in the pressing leg's thread instead of queueing it, ``1``
unbinds the key after one use. The meta key and KEY go no further; APP is
queued like a broadcast with "hold-bleg": the leg's partner hears hold
music while APP runs, and the bridge stays up unless APP moves a leg.
While a leg is in att_xfer's consultation (CF_INNER_BRIDGE) meta keys are
ignored.

``transfer_vars VAR|~PREFIX`` copies variables to the bridged partner.

``execute_extension EXT [DIALPLAN [CONTEXT]]`` hunts EXT and runs the
extension's actions on the leg, inline, then returns to whatever ran it.

``att_xfer DIALSTRING``: the leg's partner waits (hold music from the
meta-app broadcast); the leg originates DIALSTRING and is bridged to the
target. While they talk, the transferring phone's ``attxfer_cancel_key``
(``#``) hangs the target up, ``attxfer_hangup_key`` (``*``) hangs the
transferring leg up, ``attxfer_conf_key`` (``0``) would start a three-way
call (not modelled: the key is ignored). Then: transferring leg gone and
target up, the target is bridged to the partner; otherwise the transferring
leg is bridged back to the partner. ``att_xfer_result`` says how that went.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simulator.channel import Command, bridge_channels, call_update, unbridge_channels
from simulator.originate import DialStringError, b_leg_bridged, originate

if TYPE_CHECKING:
    from simulator.apps import AppCall
    from simulator.channel import Channel

log = logging.getLogger(__name__)

DTMF_KEYS = "0123456789*#ABCD"
# switch_ivr_async: a meta sequence older than this is dropped.
META_TIMEOUT = 5.0


# --------------------------------------------------------------------------
# bind_meta_app
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MetaBinding:
    """One bound key: the application and the bind flags."""

    app: str
    execute: str  # same opposite a b
    inline: bool = False
    once: bool = False


@dataclass
class MetaSide:
    """The keys of one direction ("recv": own phone, "send": the partner's)."""

    meta: str = "*"
    armed: bool = False
    last_digit: float = 0.0
    keys: dict[str, MetaBinding] = field(default_factory=dict)


class MetaKeys:
    """A leg's meta-key bindings; its DTMF hook."""

    def __init__(self) -> None:
        self.sides = {"recv": MetaSide(), "send": MetaSide()}

    def bind(self, key: str, listen: str, meta: str, binding: MetaBinding) -> None:
        for side, letter in (("recv", "a"), ("send", "b")):
            if letter in listen:
                self.sides[side].meta = meta
                self.sides[side].keys[key] = binding

    def __call__(self, channel: Channel, digit: str, direction: str) -> bool:
        """The hook: True when the digit belongs to a meta sequence."""
        side = self.sides[direction]
        if not side.keys or channel.inner_bridge:
            return False
        now = channel.switch.clock.monotonic()
        if side.armed and now - side.last_digit > META_TIMEOUT:
            side.armed = False
            log.info("channel %s: meta digit timeout at %s", channel.uuid, digit)
            return False
        side.last_digit = now
        if digit == side.meta:
            # The meta key twice passes the second one on.
            side.armed = not side.armed
            return side.armed
        if not side.armed:
            return False
        side.armed = False
        binding = side.keys.get(digit)
        if binding is None:
            log.warning("channel %s: meta digit %s not mapped", channel.uuid, digit)
            return True
        if binding.once:
            del side.keys[digit]
        _run_binding(channel, binding, direction)
        return True


def _run_binding(channel: Channel, binding: MetaBinding, direction: str) -> None:
    """switch_ivr_broadcast of the bound application on the chosen leg."""
    pressed_here = direction == "recv"
    on_self = {
        "same": pressed_here,
        "opposite": not pressed_here,
        "a": True,
        "b": False,
    }[binding.execute]
    target = channel if on_self else channel.partner
    if target is None or target.hungup:
        log.warning("channel %s: meta app %s: no leg to run on", channel.uuid,
                    binding.app)  # fmt: skip
        return
    app, _, arg = binding.app.partition("::")
    log.debug("channel %s: meta key runs %s(%s) on %s", channel.uuid, app, arg,
              target.uuid)  # fmt: skip
    if binding.inline:
        target.switch.run_app(target, app, arg)
        return
    switch = target.switch
    target.queue_command(
        Command(
            app=app,
            arg=arg,
            headers=[
                ("call-command", "execute"),
                ("execute-app-name", app),
                ("execute-app-arg", arg),
                ("event-lock", "true"),
                ("lead-frames", "5"),
                ("hold-bleg", "true"),
            ],
            sequence=switch.next_sequence(),
            hold_partner=True,
        )
    )


def _execute_flag(flags: str) -> str | None:
    """The leg APP runs on; None when the flags name more than one."""
    chosen = [name for letter, name in _EXECUTE_FLAGS if letter in flags]
    if len(chosen) > 1:
        return None
    return chosen[0] if chosen else "a"


_EXECUTE_FLAGS = (("a", "a"), ("b", "b"), ("o", "opposite"), ("s", "same"))


def app_bind_meta_app(call: AppCall) -> None:
    """``bind_meta_app KEY LISTEN_TO FLAGS APP[::ARGS]``."""
    channel = call.channel
    args = call.args(4)
    if len(args) != 4:
        log.error("channel %s: bind_meta_app: usage <key> [a|b|ab] "
                  "[a|b|o|s|i|1] <app>", channel.uuid)  # fmt: skip
        return
    key, listen, flags, app = args
    key = key.upper()
    meta = (channel.get_variable("bind_meta_key") or "*")[:1]
    if meta not in DTMF_KEYS:
        log.warning("channel %s: invalid meta key %r", channel.uuid, meta)
        meta = "*"
    execute = _execute_flag(flags)
    if len(key) != 1 or key not in DTMF_KEYS or key == meta or execute is None:
        log.error("channel %s: bind_meta_app %s: bind error", channel.uuid, call.data)
        return
    keys = next((h for h in channel.dtmf_hooks if isinstance(h, MetaKeys)), None)
    if keys is None:
        keys = MetaKeys()
        channel.dtmf_hooks.append(keys)
    binding = MetaBinding(app, execute, inline="i" in flags, once="1" in flags)
    keys.bind(key, listen, meta, binding)
    log.info("channel %s: bound %s%s (%s) to %s", channel.uuid, meta, key, listen,
             app)  # fmt: skip


# --------------------------------------------------------------------------
# execute_extension
# --------------------------------------------------------------------------


def app_execute_extension(call: AppCall) -> None:
    """``execute_extension EXT [DIALPLAN [CONTEXT]]``."""
    channel = call.channel
    args = call.args(3)
    router = call.apps.router
    if not args:
        log.error("channel %s: execute_extension: usage <ext> [dialplan] [context]",
                  channel.uuid)  # fmt: skip
        return
    if router is None:
        log.error("channel %s: execute_extension: no dialplan", channel.uuid)
        return
    original = channel.profile
    hunted = original.clone(index=False)
    hunted.destination_number = args[0]
    if len(args) > 1:
        hunted.dialplan = args[1]
    if len(args) > 2:
        hunted.context = args[2]
    # The hunt caller profile: the lookup sees it, the actions run with the
    # channel's own profile again.
    channel.profile = hunted
    try:
        actions = router.find_actions(channel)
    finally:
        channel.profile = original
    if actions is None:
        log.info("channel %s: execute_extension %s: no extension", channel.uuid,
                 call.data)  # fmt: skip
        return
    for action in actions:
        if channel.interrupted:
            return
        if not call.apps.run(channel, action.application, action.data):
            return


# --------------------------------------------------------------------------
# att_xfer
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    cancel: str
    complete: str
    conference: str


def _key(channel: Channel, peer: Channel, name: str, default: str) -> str:
    return channel.get_variable(name) or peer.get_variable(name) or default


def app_att_xfer(call: AppCall) -> None:
    """``att_xfer DIALSTRING``: consult the target, then hand the call over."""
    channel = call.channel
    switch = call.switch
    bond = channel.partner
    channel.set_variable("soft_holding_uuid", bond.uuid if bond else None)
    try:
        result = originate(switch, call.data, a_leg=channel)
    except DialStringError as error:
        log.warning("channel %s: att_xfer: bad dial string: %s", channel.uuid, error)
        result = None
    if result is None or result.channel is None:
        log.info("channel %s: att_xfer to %s failed", channel.uuid, call.data)
        _back_to(channel, bond)
        return
    peer = result.channel
    keys = _Keys(
        _key(channel, peer, "attxfer_cancel_key", "#"),
        _key(channel, peer, "attxfer_hangup_key", "*"),
        _key(channel, peer, "attxfer_conf_key", "0"),
    )
    _consult(channel, peer, keys)
    channel.set_variable("soft_holding_uuid", None)
    if bond is None or bond.hungup:
        return
    if channel.hungup and not peer.hungup:
        log.info("channel %s: att_xfer: %s takes over %s", channel.uuid, peer.uuid,
                 bond.uuid)  # fmt: skip
        peer.set_variable("att_xfer_result", "success")
        switch.uuid_bridge(peer, bond)
        return
    if not peer.hungup:
        # The transferring leg left the consultation some other way
        # (transferred, bridged elsewhere): nothing to hand over.
        return
    _back_to(channel, bond)


def _back_to(channel: Channel, bond: Channel | None) -> None:
    """switch_ivr_uuid_bridge of the transferring leg and its old partner."""
    if bond is None or bond.hungup or channel.hungup:
        return
    log.info("channel %s: att_xfer: back to %s", channel.uuid, bond.uuid)
    channel.set_variable("att_xfer_result", "success")
    channel.switch.uuid_bridge(channel, bond)


def _consult(channel: Channel, peer: Channel, keys: _Keys) -> None:
    """The transferring leg bridged to the target (CF_INNER_BRIDGE)."""

    def on_key(leg: Channel, digit: str, direction: str) -> bool:
        if direction != "recv":
            return False
        if digit == keys.complete:
            leg.hangup("NORMAL_CLEARING")
            return True
        if digit == keys.cancel:
            peer.hangup("NORMAL_CLEARING")
            return True
        if digit == keys.conference:
            log.warning("channel %s: att_xfer: three-way calls are not modelled",
                        leg.uuid)  # fmt: skip
            return True
        return False

    for leg in (channel, peer):
        leg.inner_bridge = True
    peer.set_driver(lambda: b_leg_bridged(peer, channel))
    peer.other_profile = channel.profile.clone(keep_times=False, index=False)
    peer.fire("CHANNEL_OUTGOING")
    bridge_channels(channel, peer)
    call_update(channel, peer)
    channel.dtmf_hooks.insert(0, on_key)
    try:
        channel.bridge_wait()
    finally:
        channel.dtmf_hooks.remove(on_key)
    for leg in (channel, peer):
        leg.inner_bridge = False
    channel.set_variable(
        "bridge_hangup_cause", peer.hangup_cause or channel.hangup_cause
    )
    unbridge_channels(channel, peer)


# --------------------------------------------------------------------------
# transfer_vars
# --------------------------------------------------------------------------


def app_transfer_vars(call: AppCall) -> None:
    """``transfer_vars <variable|~prefix>``: copy to the bridged partner."""
    channel = call.channel
    args = call.args()
    partner = channel.partner
    if not args or partner is None:
        log.error("channel %s: transfer_vars: usage <~variable_prefix|variable> "
                  "on a bridged leg", channel.uuid)  # fmt: skip
        return
    name = args[0]
    if not name.startswith("~"):
        value = channel.get_variable(name)
        if value is not None:
            partner.set_variable(name, value)
        return
    prefix = name[1:]
    for var, value in list(channel.variables.items()):
        if var.startswith(prefix) and value is not None:
            partner.set_variable(var, value)
