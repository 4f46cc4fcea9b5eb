"""The header sets FreeSWITCH puts on channel events, in its order.

FreeSWITCH builds a channel event from three blocks, each appended in turn
(switch_channel_event_set_basic_data, switch_caller_profile_event_set_data,
switch_channel_event_set_extended_data):

1. the event's own leading headers (e.g. ``Original-Channel-Call-State`` on
   CHANNEL_CALLSTATE, ``Bridge-A-Unique-ID`` on CHANNEL_BRIDGE);
2. basic data: ``Channel-State`` (the running state) ... ``Answer-State``,
   ``Hangup-Cause`` once the channel has one, the codec headers once media
   is set up, the ``Caller-*`` profile, and ``Other-Type`` with an
   ``Other-Leg-*`` profile when the channel has an originator/originatee;
3. extended data: every channel variable as ``variable_<name>``, but only
   on the event types listed in ``VARIABLE_EVENTS``;
4. the event's trailing headers (``Application`` ..., ``Playback-*`` ...).

``docs/simulator.md`` has the table of headers with the events they appear
on. This module only builds header lists; `simulator.channel` decides
when to fire what.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from simulator.events import CallSite, Event, HeaderValue

if TYPE_CHECKING:
    from simulator.channel import CallerProfile, Channel

Headers = list[tuple[str, HeaderValue]]

# switch_channel_event_set_extended_data: the event types that carry the
# channel variables (with verbose_events off, FreeSWITCH's default).
VARIABLE_EVENTS = frozenset(
    {
        "CHANNEL_CREATE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_UUID",
        "CHANNEL_ANSWER",
        "CHANNEL_PARK",
        "CHANNEL_UNPARK",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "REQUEST_PARAMS",
        "CHANNEL_DATA",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_DESTROY",
        "SESSION_HEARTBEAT",
        "API",
        "RECORD_START",
        "RECORD_STOP",
        "PLAYBACK_START",
        "PLAYBACK_STOP",
        "CALL_UPDATE",
        "MEDIA_BUG_START",
        "MEDIA_BUG_STOP",
        "CHANNEL_HOLD",
        "CHANNEL_UNHOLD",
        "TEXT",
        "CUSTOM",
    }
)

# Where FreeSWITCH 1.10.12 fires each event (Event-Calling-* headers), as
# seen in the captures.
SITES = {
    "CHANNEL_STATE": CallSite(
        "switch_channel.c", "switch_channel_perform_set_running_state", 2408
    ),
    "CHANNEL_CALLSTATE": CallSite(
        "switch_channel.c", "switch_channel_perform_set_callstate", 301
    ),
    "CHANNEL_CREATE": CallSite(
        "switch_core_state_machine.c", "switch_core_session_run", 626
    ),
    "CHANNEL_ORIGINATE": CallSite(
        "switch_core_state_machine.c", "switch_core_session_run", 632
    ),
    "CHANNEL_OUTGOING": CallSite(
        "switch_core_session.c", "switch_core_session_outgoing_channel", 768
    ),
    "CHANNEL_PROGRESS": CallSite(
        "switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3505
    ),
    "CHANNEL_PROGRESS_MEDIA": CallSite(
        "switch_channel.c", "switch_channel_perform_mark_pre_answered", 3560
    ),
    "CHANNEL_ANSWER": CallSite(
        "switch_channel.c", "switch_channel_perform_mark_answered", 3846
    ),
    "CHANNEL_HANGUP": CallSite(
        "switch_channel.c", "switch_channel_perform_hangup", 3445
    ),
    "CHANNEL_HANGUP_COMPLETE": CallSite(
        "switch_core_state_machine.c", "switch_core_session_reporting_state", 943
    ),
    "CHANNEL_DESTROY": CallSite(
        "switch_core_session.c", "switch_core_session_perform_destroy", 1584
    ),
    "CHANNEL_EXECUTE": CallSite(
        "switch_core_session.c", "switch_core_session_exec", 2944
    ),
    "CHANNEL_EXECUTE_COMPLETE": CallSite(
        "switch_core_session.c", "switch_core_session_exec", 2967
    ),
    "CHANNEL_PARK": CallSite("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": CallSite("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_BRIDGE": CallSite(
        "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689
    ),
    "CHANNEL_UNBRIDGE": CallSite(
        "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879
    ),
    "CALL_UPDATE": CallSite("mod_sofia.c", "sofia_receive_message", 2100),
    "CALL_UPDATE_FLIP": CallSite("switch_channel.c", "switch_channel_flip_cid", 3277),
    "CALL_UPDATE_PICKUP": CallSite("mod_dptools.c", "pickup_function", 4147),
    "CODEC_READ": CallSite(
        "switch_core_codec.c", "switch_core_session_set_real_read_codec", 168
    ),
    "CODEC_SET_READ": CallSite(
        "switch_core_codec.c", "switch_core_session_set_read_codec", 279
    ),
    "CODEC_WRITE": CallSite(
        "switch_core_codec.c", "switch_core_session_set_write_codec", 450
    ),
    "PRESENCE_IN": CallSite("switch_channel.c", "switch_channel_perform_presence", 805),
    "PLAYBACK_START": CallSite("switch_ivr_play_say.c", "switch_ivr_play_file", 1646),
    "PLAYBACK_STOP": CallSite("switch_ivr_play_say.c", "switch_ivr_play_file", 2020),
    "RECORD_START": CallSite(
        "switch_ivr_play_say.c", "switch_ivr_record_file_event", 767
    ),
    "RECORD_STOP": CallSite(
        "switch_ivr_play_say.c", "switch_ivr_record_file_event", 1030
    ),
    "COMMAND": CallSite("switch_ivr_async.c", "switch_ivr_broadcast", 5731),
    "PRIVATE_COMMAND": CallSite("switch_ivr.c", "switch_ivr_parse_next_event", 804),
    "CHANNEL_HOLD": CallSite("switch_channel.c", "switch_channel_mark_hold", 875),
    "CHANNEL_UNHOLD": CallSite("switch_channel.c", "switch_channel_mark_hold", 875),
    "UUID_BRIDGE_EXECUTE_A": CallSite(
        "switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1236
    ),
    "UUID_BRIDGE_EXECUTE_B": CallSite(
        "switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1243
    ),
    "DTMF": CallSite("switch_channel.c", "switch_channel_dequeue_dtmf", 677),
    "API": CallSite("switch_loadable_module.c", "switch_api_execute", 2954),
    "HEARTBEAT": CallSite("switch_core.c", "send_heartbeat", 95),
    "RE_SCHEDULE": CallSite("switch_scheduler.c", "switch_scheduler_execute", 73),
    "REQUEST_PARAMS_DIALPLAN": CallSite(
        "mod_dialplan_xml.c", "dialplan_xml_locate", 610
    ),
    "REQUEST_PARAMS_USER_CALL": CallSite(
        "mod_dptools.c", "user_outgoing_channel", 4366
    ),
    "REQUEST_PARAMS_SIP_AUTH": CallSite("sofia_reg.c", "sofia_reg_parse_auth", 3124),
    "REQUEST_PARAMS_INVITE": CallSite("sofia.c", "sofia_handle_sip_i_invite", 10723),
    "SOFIA_REINVITE": CallSite("sofia.c", "sofia_handle_sip_i_state", 8489),
    "SOFIA_PRE_REGISTER": CallSite(
        "sofia_reg.c", "sofia_reg_handle_register_token", 1810
    ),
    "SOFIA_REGISTER_ATTEMPT": CallSite(
        "sofia_reg.c", "sofia_reg_handle_register_token", 1606
    ),
    "SOFIA_REGISTER": CallSite("sofia_reg.c", "sofia_reg_handle_register_token", 2059),
    "SOFIA_REGISTER_FAILURE": CallSite(
        "sofia_reg.c", "sofia_reg_handle_register_token", 1792
    ),
    "SOFIA_UNREGISTER": CallSite(
        "sofia_reg.c", "sofia_reg_handle_register_token", 2213
    ),
    "PRESENCE_IN_UNREGISTER": CallSite(
        "sofia_reg.c", "sofia_reg_handle_register_token", 2103
    ),
    "MESSAGE_QUERY": CallSite("sofia_reg.c", "sofia_reg_handle_register_token", 2168),
    "VOICEMAIL_RESOLVE": CallSite("mod_voicemail.c", "resolve_id", 1363),
    "MESSAGE_WAITING": CallSite(
        "mod_voicemail.c", "actual_message_query_handler", 4026
    ),
}

# The Caller-*-Time headers and the timetable keys they come from.
_TIME_HEADERS = (
    ("Profile-Created-Time", "profile_created"),
    ("Channel-Created-Time", "created"),
    ("Channel-Answered-Time", "answered"),
    ("Channel-Progress-Time", "progress"),
    ("Channel-Progress-Media-Time", "progress_media"),
    ("Channel-Hangup-Time", "hungup"),
    ("Channel-Transfer-Time", "transferred"),
    ("Channel-Resurrect-Time", "resurrected"),
    ("Channel-Bridged-Time", "bridged"),
    ("Channel-Last-Hold", "last_hold"),
    ("Channel-Hold-Accum", "hold_accum"),
)

# Profile fields that are only written when not empty, in FreeSWITCH's order.
_PROFILE_FIELDS = (
    ("Username", "username"),
    ("Dialplan", "dialplan"),
    ("Caller-ID-Name", "caller_id_name"),
    ("Caller-ID-Number", "caller_id_number"),
)
_PROFILE_FIELDS_2 = (
    ("Callee-ID-Name", "callee_id_name"),
    ("Callee-ID-Number", "callee_id_number"),
    ("Network-Addr", "network_addr"),
    ("ANI", "ani"),
    ("ANI-II", "aniii"),
    ("Destination-Number", "destination_number"),
    ("Unique-ID", "uuid"),
    ("Source", "source"),
    ("Transfer-Source", "transfer_source"),
    ("Context", "context"),
    ("RDNIS", "rdnis"),
    ("Channel-Name", "chan_name"),
)


def profile_headers(profile: CallerProfile, prefix: str) -> Headers:
    """switch_caller_profile_event_set_data for one profile."""
    headers: Headers = [
        (_name(prefix, "Direction"), profile.direction),
        (_name(prefix, "Logical-Direction"), profile.logical_direction),
    ]
    for suffix, attr in _PROFILE_FIELDS:
        value = getattr(profile, attr)
        if value:
            headers.append((_name(prefix, suffix), value))
    # The Orig-* pair is written when the current id is set, even if empty.
    if profile.caller_id_name:
        headers.append(
            (_name(prefix, "Orig-Caller-ID-Name"), profile.orig_caller_id_name)
        )
    if profile.caller_id_number:
        headers.append(
            (_name(prefix, "Orig-Caller-ID-Number"), profile.orig_caller_id_number)
        )
    for suffix, attr in _PROFILE_FIELDS_2:
        value = getattr(profile, attr)
        if value:
            headers.append((_name(prefix, suffix), value))
    if profile.profile_index:
        headers.append((_name(prefix, "Profile-Index"), str(profile.profile_index)))
    times = profile.times
    for suffix, key in _TIME_HEADERS:
        headers.append((_name(prefix, suffix), str(times.get(key, 0))))
    headers.append((_name(prefix, "Screen-Bit"), "true"))
    headers.append((_name(prefix, "Privacy-Hide-Name"), "false"))
    headers.append((_name(prefix, "Privacy-Hide-Number"), "false"))
    return headers


def _name(prefix: str, suffix: str) -> str:
    # One string per header name, shared by every event that carries it:
    # a recorded event holds a hundred and more.
    return sys.intern(f"{prefix}-{suffix}")


def basic_headers(channel: Channel) -> Headers:
    """switch_channel_event_set_basic_data."""
    variables = channel.variables
    headers: Headers = [
        ("Channel-State", channel.state),
        ("Channel-Call-State", channel.callstate),
        ("Channel-State-Number", str(channel.state_number)),
        ("Channel-Name", channel.name),
        ("Unique-ID", channel.uuid),
        ("Call-Direction", channel.direction),
        ("Presence-Call-Direction", channel.direction),
        ("Channel-HIT-Dialplan", "true" if channel.hit_dialplan else "false"),
    ]
    presence_id = variables.get("presence_id")
    if presence_id:
        headers.append(("Channel-Presence-ID", presence_id))
    presence_data = variables.get("presence_data")
    if presence_data:
        headers.append(("Channel-Presence-Data", presence_data))
    headers.append(("Channel-Call-UUID", variables.get("call_uuid") or channel.uuid))
    headers.append(("Answer-State", channel.answer_state))
    if channel.hangup_cause:
        headers.append(("Hangup-Cause", channel.hangup_cause))
    if channel.codec:
        name, rate, bit_rate = channel.read_codec or channel.codec
        headers += [
            ("Channel-Read-Codec-Name", name),
            ("Channel-Read-Codec-Rate", rate),
            ("Channel-Read-Codec-Bit-Rate", bit_rate),
        ]
        name, rate, bit_rate = channel.codec
        headers += [
            ("Channel-Write-Codec-Name", name),
            ("Channel-Write-Codec-Rate", rate),
            ("Channel-Write-Codec-Bit-Rate", bit_rate),
        ]
    if not channel.show_profile:
        return headers
    headers += profile_headers(channel.profile, "Caller")
    if channel.other_type and channel.other_profile is not None:
        headers.append(("Other-Type", channel.other_type))
        headers += profile_headers(channel.other_profile, "Other-Leg")
    return headers


def variable_headers(channel: Channel) -> Headers:
    """switch_channel_event_set_extended_data: ``variable_<name>`` headers."""
    return [
        (sys.intern("variable_" + name), value)
        for name, value in channel.variables.items()
    ]


def channel_event(
    channel: Channel,
    name: str,
    *,
    lead: Headers = (),  # type: ignore[assignment]
    tail: Headers = (),  # type: ignore[assignment]
    site: str | None = None,
    subclass: str | None = None,
) -> Event:
    """A channel event as FreeSWITCH builds it (core headers come at fire)."""
    origin = SITES.get(site or name)
    headers: Headers = list(lead)
    headers += basic_headers(channel)
    if name in VARIABLE_EVENTS:
        headers += variable_headers(channel)
    headers += tail
    return Event(name, headers, subclass=subclass, origin=origin)
