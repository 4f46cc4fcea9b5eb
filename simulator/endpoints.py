"""SIP endpoints the simulated switch calls and is called by.

Nothing here speaks SIP: an endpoint is the far end of a leg, and a
``SipLeg`` keeps what mod_sofia would know about that leg (addresses, tags,
Call-ID, SDP) and sets the channel variables sofia sets at each step of a
call, so that the events carry the variables a real FreeSWITCH puts there.

``Behaviour`` says what a called party does with an INVITE:

- ``answer_after`` seconds (None: never answers; it rings until CANCEL);
- ``reject`` with a SIP status after ``reject_after`` seconds: 486 busy
  (USER_BUSY), 603 decline (CALL_REJECTED), 480 (NO_USER_RESPONSE), 404
  (UNALLOCATED_NUMBER) ...;
- ``ring`` (180 first; a busy phone often answers 486 without ringing),
  ``early_media`` (183 with SDP: the caller hears the far end's ring tone);
- ``on_answer``: ``callable(channel)`` run in its own greenlet once the
  call is answered: the scripted party; ``hang_up_after``, ``press`` and
  ``hold_for`` make the usual ones.

``Phone``: a directory user's phone; ``register()``/``unregister()`` on the
switch fire the sofia::* events. On DND a phone rejects with 486, as most
desk phones do (FreeSWITCH reports USER_BUSY).

``Gateway``: the trunk (``sofia/gateway/<name>/<number>``); the parties
behind it get a ``Behaviour`` by number, with a default for the rest.

Public interface: ``Behaviour``, ``Phone``, ``Gateway``, ``Registration``,
``hang_up_after``, ``press``, ``hold_for``, ``register``, ``unregister``,
``Endpoints`` (the registry the switch owns), ``SipLeg`` (used by
``simulator.channel`` and ``simulator.originate``), ``SIP_CAUSES``.
"""

from __future__ import annotations

import logging
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simulator.events import Event

if TYPE_CHECKING:
    from simulator.channel import Channel
    from simulator.switch import DirectoryUser, Switch

log = logging.getLogger(__name__)

# SIP final responses and the hangup cause FreeSWITCH maps each to
# (sofia_glue_sip_cause_to_freeswitch).
SIP_CAUSES = {
    404: "UNALLOCATED_NUMBER",
    408: "RECOVERY_ON_TIMER_EXPIRE",
    410: "NUMBER_CHANGED",
    480: "NO_USER_RESPONSE",
    484: "INVALID_NUMBER_FORMAT",
    486: "USER_BUSY",
    487: "ORIGINATOR_CANCEL",
    488: "INCOMPATIBLE_DESTINATION",
    500: "NORMAL_TEMPORARY_FAILURE",
    502: "NETWORK_OUT_OF_ORDER",
    503: "NORMAL_TEMPORARY_FAILURE",
    600: "USER_BUSY",
    603: "CALL_REJECTED",
    604: "UNALLOCATED_NUMBER",
}

# The reason phrase sofia logs with each status (sip_hangup_phrase).
SIP_PHRASES = {
    200: "OK",
    404: "Not Found",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    486: "Busy Here",
    487: "Request Terminated",
    503: "Service Unavailable",
    600: "Busy Everywhere",
    603: "Decline",
}

# The reverse mapping FreeSWITCH uses when it ends a call itself
# (hangup_cause_to_sip), for sip_term_status.
CAUSE_TO_SIP = {
    "NORMAL_CLEARING": 200,
    "USER_BUSY": 486,
    "NO_ANSWER": 480,
    "NO_USER_RESPONSE": 408,
    "CALL_REJECTED": 603,
    "UNALLOCATED_NUMBER": 404,
    "NO_ROUTE_DESTINATION": 404,
    "ORIGINATOR_CANCEL": 487,
    "NORMAL_TEMPORARY_FAILURE": 503,
    "USER_NOT_REGISTERED": 404,
    "SUBSCRIBER_ABSENT": 480,
}

# Virtual seconds between our 200 OK and the caller's ACK.
ACK_DELAY = 0.02

CODEC_STRING = (
    "CORE_PCM_MODULE.PCMU@8000h@20i@64000b,CORE_PCM_MODULE.PCMA@8000h@20i@64000b"
)
ANSWER_CODEC = "CORE_PCM_MODULE.PCMU@8000h@20i@64000b"


@dataclass
class Behaviour:
    """What a called party does with an INVITE."""

    answer_after: float | None = 1.0
    reject: int | None = None
    reject_after: float = 0.5
    ring: bool = True
    early_media: bool = False
    on_answer: Callable[[Channel], None] | None = None

    @classmethod
    def busy(cls) -> Behaviour:
        return cls(answer_after=None, reject=486, ring=False)

    @classmethod
    def no_answer(cls) -> Behaviour:
        return cls(answer_after=None)

    @classmethod
    def rejecting(cls, status: int = 603, after: float = 1.0) -> Behaviour:
        return cls(answer_after=None, reject=status, reject_after=after)


Script = Callable[["Channel"], None]


def hang_up_after(seconds: float) -> Script:
    """A party that hangs up (BYE) ``seconds`` after the answer."""

    def script(channel: Channel) -> None:
        if channel.sleep_until_hangup(seconds):
            channel.switch.remote_hangup(channel.uuid)

    return script


def press(digits: str, after: float = 1.0, then: Script | None = None) -> Script:
    """A party that sends DTMF ``after`` seconds into the call, then ``then``."""

    def script(channel: Channel) -> None:
        if channel.sleep_until_hangup(after):
            channel.switch.inject_dtmf(channel.uuid, digits)
            if then is not None:
                then(channel)

    return script


def hold_for(seconds: float, after: float = 1.0, then: Script | None = None) -> Script:
    """A party that puts the call on hold ``after`` s in, for ``seconds``."""

    def script(channel: Channel) -> None:
        if not channel.sleep_until_hangup(after):
            return
        channel.switch.hold(channel.uuid)
        if channel.sleep_until_hangup(seconds):
            channel.switch.unhold(channel.uuid)
            if then is not None:
                then(channel)

    return script


@dataclass
class Phone:
    """A directory user's SIP phone on the internal profile."""

    user_id: str
    domain: str = "127.0.0.1"
    behaviour: Behaviour = field(default_factory=Behaviour)
    host: str = "127.0.0.1"
    port: int = 5071
    user_agent: str = "schakel-sim-phone"
    dnd: bool = False

    @property
    def contact_uri(self) -> str:
        return f"sip:{self.user_id}@{self.host}:{self.port};transport=UDP"

    def current_behaviour(self) -> Behaviour:
        if self.dnd:
            return Behaviour.busy()
        return self.behaviour


@dataclass
class Gateway:
    """A SIP trunk and the parties reached through it."""

    name: str
    host: str = "127.0.0.1"
    port: int = 5090
    default: Behaviour = field(default_factory=Behaviour)
    by_number: dict[str, Behaviour] = field(default_factory=dict)

    def behaviour_for(self, number: str) -> Behaviour:
        return self.by_number.get(number, self.default)


@dataclass
class Registration:
    """One row of sofia's registration table."""

    phone: Phone
    call_id: str
    expires: int
    registered_at: float
    profile: str = "internal"

    @property
    def user(self) -> str:
        return f"{self.phone.user_id}@{self.phone.domain}"

    @property
    def expires_at(self) -> float:
        """sofia keeps a registration 60 s past what the phone asked for."""
        return self.registered_at + self.expires + 60


class Endpoints:
    """The phones, registrations and gateways the switch knows."""

    def __init__(self) -> None:
        self.phones: dict[str, Phone] = {}
        self.registrations: dict[str, Registration] = {}
        self.gateways: dict[str, Gateway] = {}

    @staticmethod
    def key(user_id: str, domain: str) -> str:
        return f"{user_id}@{domain}"

    def add_phone(self, phone: Phone) -> Phone:
        self.phones[self.key(phone.user_id, phone.domain)] = phone
        return phone

    def phone(self, user_id: str, domain: str) -> Phone | None:
        return self.phones.get(self.key(user_id, domain))

    def registration(self, user_id: str, domain: str) -> Registration | None:
        return self.registrations.get(self.key(user_id, domain))

    def add_gateway(self, gateway: Gateway) -> Gateway:
        self.gateways[gateway.name] = gateway
        return gateway

    def gateway(self, name: str) -> Gateway | None:
        return self.gateways.get(name)


def random_tag(length: int = 13) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(random.choices(alphabet, k=length))


# G.711 codecs: RTP payload type by name.
PAYLOADS = {"PCMU": "0", "PCMA": "8"}


def sdp(
    origin: str, session: int, ip: str, port: int, payloads: str, ptime: int = 20
) -> str:
    """A plain audio SDP like the ones in the captures."""
    lines = [
        "v=0",
        f"o={origin} {session} {session} IN IP4 {ip}",
        "s=-" if origin != "FreeSWITCH" else "s=FreeSWITCH",
        f"c=IN IP4 {ip}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {payloads}",
    ]
    offered = payloads.split()
    if "0" in offered:
        lines.append("a=rtpmap:0 PCMU/8000")
    if "8" in offered:
        lines.append("a=rtpmap:8 PCMA/8000")
    lines += [
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        f"a=ptime:{ptime}",
    ]
    return "\r\n".join(lines) + "\r\n"


@dataclass
class SipProfile:
    """A sofia profile: where the switch listens."""

    name: str
    ip: str
    port: int

    @property
    def url(self) -> str:
        return f"sip:mod_sofia@{self.ip}:{self.port}"


class SipLeg:
    """What mod_sofia knows about one leg, and the variables it sets."""

    def __init__(
        self,
        profile: SipProfile,
        *,
        remote_user: str,
        remote_host: str,
        remote_port: int,
        user_agent: str = "",
        call_id: str | None = None,
        local_tag: str | None = None,
        codec: str = "PCMU",
        ptime: int = 20,
    ) -> None:
        if codec not in PAYLOADS:
            raise ValueError(f"unsupported codec {codec!r} (PCMU or PCMA)")
        self.codec = codec
        self.ptime = ptime
        self.profile = profile
        self.remote_user = remote_user
        self.remote_host = remote_host
        self.remote_port = remote_port
        self.user_agent = user_agent
        self.call_id = (
            call_id
            or f"{random.randrange(1, 10**6)}-{random.randrange(10**5)}@{remote_host}"
        )
        self.local_tag = local_tag or random_tag()
        self.remote_tag = f"{random.randrange(10**5)}SIPpTag00{random.randrange(10)}"
        self.local_media_port = random.randrange(16384, 32768, 2)
        self.remote_media_port = random.randrange(6000, 7000, 2)
        self.ssrc = str(random.randrange(1, 2**32))
        self.inbound = True
        self.answered_by_us = False
        self.cseq = 1
        self.bye_sent = False

    @property
    def remote(self) -> str:
        return f"{self.remote_host}:{self.remote_port}"

    # --------------------------------------------------------- creation

    def inbound_create(
        self,
        channel: Channel,
        to_user: str,
        display: str,
        *,
        from_domain: str | None = None,
        authorized: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Variables of an inbound INVITE (sofia_handle_sip_i_invite).

        ``from_domain``: a registered phone's From carries its domain, not
        its address. ``authorized``: the variables of a challenged and
        authorised INVITE (the auth event and the user's directory entry).
        """
        p = self.profile
        from_user = self.remote_user
        from_host = from_domain or self.remote
        v = channel.set_variable
        v("direction", "inbound")
        v("uuid", channel.uuid)
        v("call_uuid", channel.uuid)
        v("session_id", str(channel.switch.next_session_id()))
        v("sip_from_user", from_user)
        if from_domain is None:
            v("sip_from_port", str(self.remote_port))
        v("sip_from_uri", f"{from_user}@{from_host}")
        v("sip_from_host", from_domain or self.remote_host)
        v("video_media_flow", "disabled")
        v("audio_media_flow", "disabled")
        v("text_media_flow", "disabled")
        v("channel_name", channel.name)
        v("sip_call_id", self.call_id)
        v("sip_local_network_addr", p.ip)
        v("sip_network_ip", self.remote_host)
        v("sip_network_port", str(self.remote_port))
        v("sip_invite_stamp", str(channel.now_us()))
        v("sip_received_ip", self.remote_host)
        v("sip_received_port", str(self.remote_port))
        v("sip_via_protocol", "udp")
        for name, value in authorized:
            v(name, value)
        v("sip_from_user_stripped", from_user)
        v("sip_from_tag", self.remote_tag)
        v("sofia_profile_name", p.name)
        v("sofia_profile_url", p.url)
        v("recovery_profile_name", p.name)
        v("sip_full_via", f"SIP/2.0/UDP {self.remote};branch=z9hG4bK-{random_tag(8)}")
        if display:
            v("sip_from_display", display)
        from_uri = f"<sip:{from_user}@{from_host}>;tag={self.remote_tag}"
        v("sip_full_from", f'"{display}" {from_uri}' if display else from_uri)
        v("sip_full_to", f"<sip:{to_user}@{p.ip}:{p.port}>")
        v("sip_req_user", to_user)
        v("sip_req_port", str(p.port))
        v("sip_req_uri", f"{to_user}@{p.ip}:{p.port}")
        v("sip_req_host", p.ip)
        v("sip_to_user", to_user)
        v("sip_to_port", str(p.port))
        v("sip_to_uri", f"{to_user}@{p.ip}:{p.port}")
        v("sip_to_host", p.ip)
        v("sip_contact_params", "transport=UDP")
        v("sip_contact_user", from_user)
        v("sip_contact_port", str(self.remote_port))
        v("sip_contact_uri", f"{from_user}@{self.remote}")
        v("sip_contact_host", self.remote_host)
        v("rtp_use_codec_string", "OPUS,G722,PCMU,PCMA,H264,VP8")
        if self.user_agent:
            v("sip_user_agent", self.user_agent)
        v("sip_via_host", self.remote_host)
        v("sip_via_port", str(self.remote_port))
        v("max_forwards", "70")
        if from_domain is not None:
            v("presence_id", f"{from_user}@{from_domain}")
        v(
            "switch_r_sdp",
            sdp(
                "caller",
                1,
                self.remote_host,
                self.remote_media_port,
                self._offer(),
                self.ptime,
            ),
        )
        v("ep_codec_string", self._endpoint_codecs())
        v("endpoint_disposition", "DELAYED NEGOTIATION")

    def outbound_create(
        self,
        channel: Channel,
        originator: Channel | None,
        dialed: tuple[str, str] | None,
    ) -> None:
        """Variables of a leg sofia is about to INVITE (sofia_outgoing_channel)."""
        self.inbound = False
        p = self.profile
        v = channel.set_variable
        v("direction", "outbound")
        v("is_outbound", "true")
        v("uuid", channel.uuid)
        if originator is None:
            v("call_uuid", channel.uuid)
        v("session_id", str(channel.switch.next_session_id()))
        v("sip_local_network_addr", p.ip)
        v("sip_profile_name", p.name)
        v("text_media_flow", "disabled")
        v("channel_name", channel.name)
        v("sip_destination_url", f"sip:{self.remote_user}@{self.remote};transport=UDP")
        if originator is not None:
            v("max_forwards", "69")
            v("originator_codec", CODEC_STRING)
            v("originator", originator.uuid)
            v("signal_bond", originator.uuid)
            remote_sdp = originator.variables.get("switch_r_sdp")
            if remote_sdp:
                v("switch_m_sdp", remote_sdp)
            v("call_uuid", originator.variables.get("call_uuid") or originator.uuid)

    def outbound_invite(self, channel: Channel, originator: Channel | None) -> None:
        """What sofia sets while sending the INVITE (after CHANNEL_ORIGINATE)."""
        p = self.profile
        v = channel.set_variable
        v("rtp_use_codec_string", CODEC_STRING)
        v("local_media_ip", p.ip)
        v("local_media_port", str(self.local_media_port))
        v("advertised_media_ip", p.ip)
        v("audio_media_flow", "sendrecv")
        if originator is None:
            # Without a caller to copy codecs from, sofia offers video too.
            v("local_video_ip", p.ip)
            v("local_video_port", str(self.local_media_port + 2))
        v("video_media_flow", "sendrecv")
        v(
            "rtp_local_sdp_str",
            sdp(
                "FreeSWITCH",
                random.randrange(10**9, 2 * 10**9),
                p.ip,
                self.local_media_port,
                "0 8 101",
            ),
        )
        v("sip_outgoing_contact_uri", f"<{p.url}>")
        v("sip_req_uri", f"{self.remote_user}@{self.remote};transport=UDP")
        v("sip_to_host", self.remote)
        v("sip_from_host", p.ip)
        v("sofia_profile_name", p.name)
        v("recovery_profile_name", p.name)
        v("sofia_profile_url", p.url)

    def _offer(self) -> str:
        """The payload types the far end offers (PCMU offers PCMA too)."""
        return "0 8 101" if self.codec == "PCMU" else f"{PAYLOADS[self.codec]} 101"

    def _endpoint_codecs(self) -> str:
        if self.codec == "PCMU" and self.ptime == 20:
            return CODEC_STRING
        return f"CORE_PCM_MODULE.{self.codec}@8000h@{self.ptime}i@64000b"

    # ----------------------------------------------------------- progress

    def on_ring(self, channel: Channel) -> None:
        """180 Ringing: received on an outbound leg, sent on an inbound one."""
        if self.inbound:
            channel.set_variable("sip_to_tag", self.local_tag)
            return
        self._reply_variables(channel)

    def _reply_variables(self, channel: Channel) -> None:
        """The variables sofia takes from a provisional or final reply."""
        p = self.profile
        if not channel.profile.network_addr:
            channel.profile.network_addr = self.remote_host
        v = channel.set_variable
        caller = channel.profile
        display = caller.caller_id_name
        number = caller.caller_id_number
        v("sip_local_network_addr", p.ip)
        v("sip_reply_host", self.remote_host)
        v("sip_reply_port", str(self.remote_port))
        v("sip_network_ip", self.remote_host)
        v("sip_network_port", str(self.remote_port))
        contact = f"<sip:{self.remote_user}@{self.remote};transport=UDP>"
        v("sip_recover_contact", contact)
        via = f"SIP/2.0/UDP {p.ip};rport;branch=z9hG4bK{random_tag(13)}"
        v("sip_full_via", via)
        v("sip_recover_via", via)
        if display:
            v("sip_from_display", display)
        from_uri = f"<sip:{number}@{p.ip}>;tag={self.local_tag}"
        v("sip_full_from", f'"{display}" {from_uri}' if display else from_uri)
        to_uri = f"<sip:{self.remote_user}@{self.remote};transport=UDP>"
        v("sip_full_to", f"{to_uri};tag={self.remote_tag}")
        v("sip_from_user", number)
        v("sip_from_uri", f"{number}@{p.ip}")
        v("sip_from_host", p.ip)
        v("sip_to_params", "transport=UDP")
        v("sip_to_user", self.remote_user)
        v("sip_to_port", str(self.remote_port))
        v("sip_to_uri", f"{self.remote_user}@{self.remote}")
        v("sip_to_host", self.remote_host)
        v("sip_contact_params", "transport=UDP")
        v("sip_contact_user", self.remote_user)
        v("sip_contact_port", str(self.remote_port))
        v("sip_contact_uri", f"{self.remote_user}@{self.remote}")
        v("sip_contact_host", self.remote_host)
        v("sip_to_tag", self.remote_tag)
        v("sip_from_tag", self.local_tag)
        v("sip_cseq", str(random.randrange(10**8, 2 * 10**8)))
        v("sip_call_id", self.call_id)

    def on_media(self, channel: Channel, media_sdp: str | None = None) -> None:
        """Codec negotiation: the rtp_* and media variables."""
        p = self.profile
        v = channel.set_variable
        if self.inbound:
            if media_sdp:
                # Media negotiated against the bridged leg's SDP.
                v("switch_m_sdp", media_sdp)
                v("video_media_flow", "inactive")
                v("text_media_flow", "inactive")
            v("rtp_use_codec_string", "OPUS,G722,PCMU,PCMA,H264,VP8")
        else:
            self._reply_variables(channel)
            v(
                "switch_r_sdp",
                sdp(
                    f"phone{self.remote_user}",
                    2,
                    self.remote_host,
                    self.remote_media_port,
                    "0 101",
                ),
            )
            v("ep_codec_string", ANSWER_CODEC)
            v("rtp_use_codec_string", CODEC_STRING)
        v("remote_video_media_flow", "inactive")
        v("remote_text_media_flow", "inactive")
        v("remote_audio_media_flow", "sendrecv")
        v("audio_media_flow", "sendrecv")
        codec, payload, ptime = self.codec, PAYLOADS[self.codec], self.ptime
        v("rtp_audio_recv_pt", payload)
        v("rtp_use_codec_name", codec)
        v("rtp_use_codec_rate", "8000")
        v("rtp_use_codec_ptime", str(ptime))
        v("rtp_use_codec_channels", "1")
        v("rtp_last_audio_codec_string", f"{codec}@8000h@{ptime}i@1c")
        v("read_codec", codec)
        v("original_read_codec", codec)
        v("read_rate", "8000")
        v("original_read_rate", "8000")
        v("write_codec", codec)
        v("write_rate", "8000")
        v("dtmf_type", "rfc2833")
        v("local_media_ip", p.ip)
        v("local_media_port", str(self.local_media_port))
        v("advertised_media_ip", p.ip)
        v("rtp_use_timer_name", "soft")
        v("rtp_use_pt", payload)
        v("rtp_use_ssrc", self.ssrc)
        v("rtp_2833_send_payload", "101")
        v("rtp_2833_recv_payload", "101")
        v("remote_media_ip", self.remote_host)
        v("remote_media_port", str(self.remote_media_port))
        if self.inbound:
            v("endpoint_disposition", "EARLY MEDIA")

    def on_answer_sent(self, channel: Channel) -> None:
        """FreeSWITCH answers an inbound leg: its 200 OK carries our SDP."""
        self.answered_by_us = True
        p = self.profile
        channel.set_variable(
            "rtp_local_sdp_str",
            sdp(
                "FreeSWITCH",
                random.randrange(10**9, 2 * 10**9),
                p.ip,
                self.local_media_port,
                f"{PAYLOADS[self.codec]} 101",
                self.ptime,
            ),
        )

    def expect_ack(self, channel: Channel) -> None:
        """The caller ACKs our 200 OK a network round trip later."""
        clock = channel.clock

        def ack() -> None:
            if channel.hungup:
                return
            if "sip_to_tag" not in channel.variables:
                channel.set_variable("sip_to_tag", self.local_tag)
            if "sip_cseq" not in channel.variables:
                channel.set_variable("sip_cseq", str(self.cseq))

        clock.spawn_later(ACK_DELAY, ack)

    def on_call_update(self, channel: Channel) -> None:
        """sofia tells the caller's phone whom it talks to now (UPDATE)."""
        if self.inbound:
            channel.set_variable("sip_cseq", str(self.cseq))
            self.cseq += 1

    def on_answer_received(self, channel: Channel) -> None:
        """200 OK on an outbound leg (the media variables are already set)."""

    # ------------------------------------------------------------- hangup

    def remote_bye(self) -> None:
        """The far end sent BYE: the hangup that follows is theirs."""
        self.remote_reason = "bye"

    def remote_cancel(self) -> None:
        """The caller sent CANCEL before the call was answered."""
        self.remote_reason = "cancel"

    def remote_refuse(self, status: int) -> None:
        """The far end answered the INVITE with a final error status."""
        self.remote_reason = "refuse"
        self.refuse_status = status

    def on_hangup(self, channel: Channel, cause: str) -> None:
        """Variables sofia sets as the leg goes down (before CHANNEL_HANGUP)."""
        v = channel.set_variable
        reason = getattr(self, "remote_reason", None)
        if reason == "bye":
            v("sip_term_status", "200")
            v("proto_specific_hangup_cause", "sip:200")
            v("sip_term_cause", "16")
        elif reason == "refuse":
            status = self.refuse_status
            phrase = SIP_PHRASES.get(status, "")
            v("sip_call_id", self.call_id)
            v("sip_local_network_addr", self.profile.ip)
            v("sip_reply_host", self.remote_host)
            v("sip_reply_port", str(self.remote_port))
            v("sip_network_ip", self.remote_host)
            v("sip_network_port", str(self.remote_port))
            v("sip_hangup_disposition", "recv_refuse")
            v("sip_invite_failure_status", str(status))
            v("sip_invite_failure_phrase", phrase)
            v("sip_term_status", str(status))
            v("proto_specific_hangup_cause", f"sip:{status}")
            v("sip_term_cause", str(_cause_number(cause)))
        elif (
            channel.answered
            and not self.inbound
            and channel.get_variable("last_bridge_hangup_cause")
        ):
            # The bridged caller's BYE is passed on; its reply phrase stays.
            v("sip_hangup_phrase", "OK")

    def after_hangup(self, channel: Channel) -> None:
        """sofia's BYE handler sets the disposition right after the hangup."""
        if getattr(self, "remote_reason", None) == "bye":
            channel.set_variable("sip_hangup_disposition", "recv_bye")

    def on_reporting(self, channel: Channel) -> None:
        """Variables sofia adds in its hangup handler: disposition, RTP stats."""
        v = channel.set_variable
        reason = getattr(self, "remote_reason", None)
        if reason == "cancel":
            v("sip_hangup_disposition", "recv_cancel")
        elif reason is None:
            if channel.answered:
                v("sip_hangup_disposition", "send_bye")
            elif self.inbound:
                v("sip_hangup_disposition", "send_refuse")
            else:
                v("sip_hangup_disposition", "send_cancel")
                v("sip_invite_failure_status", "487")
                v("sip_invite_failure_phrase", "CANCEL")
        if channel.codec is not None:
            for name, value in _rtp_stats(channel):
                v(name, value)


def _cause_number(cause: str) -> int:
    """The switch_call_cause_t value sofia prints into ``sip_term_cause``."""
    from simulator.channel import CAUSE_CODES

    return CAUSE_CODES.get(cause, 0)


def _rtp_stats(channel: Channel) -> list[tuple[str, str]]:
    """The rtp_audio_* statistics sofia sets at the end of a call."""
    return [
        ("rtp_audio_in_raw_bytes", "0"),
        ("rtp_audio_in_media_bytes", "0"),
        ("rtp_audio_in_packet_count", "0"),
        ("rtp_audio_in_media_packet_count", "0"),
        ("rtp_audio_in_skip_packet_count", "0"),
        ("rtp_audio_in_jitter_packet_count", "0"),
        ("rtp_audio_in_dtmf_packet_count", "0"),
        ("rtp_audio_in_cng_packet_count", "0"),
        ("rtp_audio_in_flush_packet_count", "0"),
        ("rtp_audio_in_largest_jb_size", "0"),
        ("rtp_audio_in_jitter_min_variance", "0.00"),
        ("rtp_audio_in_jitter_max_variance", "0.00"),
        ("rtp_audio_in_jitter_loss_rate", "0.00"),
        ("rtp_audio_in_jitter_burst_rate", "0.00"),
        ("rtp_audio_in_mean_interval", "0.00"),
        ("rtp_audio_in_flaw_total", "0"),
        ("rtp_audio_in_quality_percentage", "100.00"),
        ("rtp_audio_in_mos", "4.50"),
        ("rtp_audio_out_raw_bytes", "0"),
        ("rtp_audio_out_media_bytes", "0"),
        ("rtp_audio_out_packet_count", "0"),
        ("rtp_audio_out_media_packet_count", "0"),
        ("rtp_audio_out_skip_packet_count", "0"),
        ("rtp_audio_out_dtmf_packet_count", "0"),
        ("rtp_audio_out_cng_packet_count", "0"),
        ("rtp_audio_rtcp_packet_count", "0"),
        ("rtp_audio_rtcp_octet_count", "0"),
    ]


# ------------------------------------------------------------ registration


def _event(name: str, subclass: str | None, site: str) -> Event:
    from simulator.headers import SITES

    return Event(name, subclass=subclass, origin=SITES[site])


def _register_common(
    phone: Phone, call_id: str, expires: int, profile: str
) -> list[tuple[str, str]]:
    return [
        ("profile-name", profile),
        ("from-user", phone.user_id),
        ("from-host", phone.domain),
        ("contact", f'"" <{phone.contact_uri}>'),
        ("call-id", call_id),
        ("rpid", "unknown"),
        ("status", "Registered(UDP)"),
        ("expires", str(expires)),
        ("to-user", phone.user_id),
        ("to-host", phone.domain),
        ("network-ip", phone.host),
        ("network-port", str(phone.port)),
    ]


def _auth_form(switch: Switch, phone: Phone, call_id: str) -> list[tuple[str, str]]:
    """What sofia_reg_parse_auth posts to the directory (action=sip_auth)."""
    internal = switch.profiles["internal"]
    return [
        ("sip_profile", "internal"),
        ("sip_user_agent", phone.user_agent),
        ("sip_auth_username", phone.user_id),
        ("sip_auth_realm", phone.domain),
        ("sip_auth_nonce", switch.new_uuid()),
        ("sip_auth_uri", f"sip:{internal.ip}:{internal.port}"),
        ("sip_contact_user", phone.user_id),
        ("sip_contact_host", phone.host),
        ("sip_to_user", phone.user_id),
        ("sip_to_host", phone.domain),
        ("sip_via_protocol", "udp"),
        ("sip_from_user", phone.user_id),
        ("sip_from_host", phone.domain),
        ("sip_call_id", call_id),
        ("sip_request_host", internal.ip),
        ("sip_auth_qop", "auth"),
        ("sip_auth_cnonce", random_tag(8).lower()),
        ("sip_auth_nc", "00000001"),
        ("sip_auth_response", "".join(random.choices("0123456789abcdef", k=32))),
        ("sip_auth_method", "REGISTER"),
        ("client_port", str(phone.port)),
    ]


def invite_auth_form(
    switch: Switch, phone: Phone, to_user: str, call_id: str
) -> list[tuple[str, str]]:
    """What sofia posts to authorise a phone's INVITE (action=sip_auth)."""
    internal = switch.profiles["internal"]
    return [
        ("sip_profile", "internal"),
        ("sip_user_agent", phone.user_agent),
        ("sip_auth_username", phone.user_id),
        ("sip_auth_realm", phone.domain),
        ("sip_auth_nonce", switch.new_uuid()),
        ("sip_auth_uri", f"sip:{internal.ip}:{internal.port}"),
        ("sip_contact_user", phone.user_id),
        ("sip_contact_host", phone.host),
        ("sip_to_user", to_user),
        ("sip_to_host", internal.ip),
        ("sip_to_port", str(internal.port)),
        ("sip_via_protocol", "udp"),
        ("sip_from_user", phone.user_id),
        ("sip_from_host", phone.domain),
        ("sip_call_id", call_id),
        ("sip_request_user", to_user),
        ("sip_request_host", internal.ip),
        ("sip_request_port", str(internal.port)),
        ("sip_auth_qop", "auth"),
        ("sip_auth_cnonce", random_tag(8).lower()),
        ("sip_auth_nc", "00000001"),
        ("sip_auth_response", "".join(random.choices("0123456789abcdef", k=32))),
        ("sip_auth_method", "INVITE"),
        ("client_port", str(phone.port)),
    ]


def authorised_variables(
    user: DirectoryUser, phone: Phone, event_headers: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The variables sofia sets once a phone's INVITE is authorised."""
    out = [("sip_authorized", "true"), *event_headers]
    alias = user.params.get("number-alias", phone.user_id)
    out += [
        ("sip_number_alias", alias),
        ("sip_auth_username", phone.user_id),
        ("sip_auth_realm", phone.domain),
        ("number_alias", alias),
        ("requested_user_name", phone.user_id),
        ("requested_domain_name", phone.domain),
    ]
    variables = dict(user.domain_variables)
    variables.update(user.variables)
    out += list(variables.items())
    out += [("user_name", phone.user_id), ("domain_name", phone.domain)]
    return out


def _directory_headers(user: DirectoryUser, phone: Phone) -> list[tuple[str, str]]:
    headers = [
        ("sip_number_alias", user.params.get("number-alias", phone.user_id)),
        ("sip_auth_username", phone.user_id),
        ("sip_auth_realm", phone.domain),
        ("number_alias", user.params.get("number-alias", phone.user_id)),
        ("user_name", phone.user_id),
        ("domain_name", phone.domain),
    ]
    variables = dict(user.domain_variables)
    variables.update(user.variables)
    headers += list(variables.items())
    return headers


def register(
    switch: Switch,
    phone: Phone,
    *,
    password: str | None = None,
    expires: int = 3600,
    call_id: str | None = None,
) -> bool:
    """A REGISTER with digest auth, as sofia_reg_handle_register_token.

    ``password`` is what the phone answers the challenge with (None: the
    directory's own, i.e. right). Returns whether it was accepted.
    """
    existing = switch.endpoints.registration(phone.user_id, phone.domain)
    if call_id is None:
        # A phone refreshes with its own Call-ID; another device has its own.
        same = existing is not None and existing.phone.port == phone.port
        call_id = existing.call_id if same else f"{random_tag(10)}@{phone.host}"
    common = _register_common(phone, call_id, expires, "internal")
    pre = _event("CUSTOM", "sofia::pre_register", "SOFIA_PRE_REGISTER")
    for name, value in common + [("user-agent", phone.user_agent)]:
        pre.add(name, value)
    switch.fire(pre)
    user = switch.lookup_user(
        phone.user_id,
        phone.domain,
        "sip_auth",
        params=_auth_form(switch, phone, call_id),
        site="REQUEST_PARAMS_SIP_AUTH",
    )
    expected = user.params.get("password") if user is not None else None
    accepted = user is not None and (password is None or password == expected)
    attempt = _event("CUSTOM", "sofia::register_attempt", "SOFIA_REGISTER_ATTEMPT")
    for name, value in common:
        attempt.add(name, value)
    attempt.add("username", phone.user_id)
    attempt.add("realm", phone.domain)
    attempt.add("user-agent", phone.user_agent)
    attempt.add("auth-result", "RENEWED" if accepted else "FORBIDDEN")
    switch.fire(attempt)
    if not accepted:
        failure = _event("CUSTOM", "sofia::register_failure", "SOFIA_REGISTER_FAILURE")
        for name, value in (
            ("profile-name", "internal"),
            ("to-user", phone.user_id),
            ("to-host", phone.domain),
            ("network-ip", phone.host),
            ("user-agent", phone.user_agent),
            ("profile-name", "internal"),
            ("network-port", str(phone.port)),
            ("registration-type", "REGISTER"),
        ):
            failure.add(name, value)
        switch.fire(failure)
        log.info("registration of %s@%s refused", phone.user_id, phone.domain)
        return False
    assert user is not None
    if expires == 0:
        _unregistered(switch, phone, user, call_id)
        return True
    done = _event("CUSTOM", "sofia::register", "SOFIA_REGISTER")
    for name, value in common[:3]:
        done.add(name, value)
    done.add("presence-hosts", f"{phone.domain},{phone.domain}")
    for name, value in common[3:]:
        done.add(name, value)
    done.add("username", phone.user_id)
    done.add("realm", phone.domain)
    done.add("user-agent", phone.user_agent)
    for name, value in _directory_headers(user, phone):
        done.add(name, value)
    switch.fire(done)
    switch.endpoints.registrations[Endpoints.key(phone.user_id, phone.domain)] = (
        Registration(phone, call_id, expires, switch.clock.now())
    )
    log.info(
        "%s@%s registered from %s:%s",
        phone.user_id,
        phone.domain,
        phone.host,
        phone.port,
    )
    _message_query(switch, phone, call_id)
    return True


def _message_query(switch: Switch, phone: Phone, call_id: str) -> None:
    """sofia asks mod_voicemail for the box; it answers MESSAGE_WAITING."""
    account = f"sip:{phone.user_id}@{phone.domain}"
    query = _event("MESSAGE_QUERY", None, "MESSAGE_QUERY")
    query.add("Message-Account", account)
    query.add("VM-Sofia-Profile", "internal")
    query.add("VM-Call-ID", call_id)
    switch.fire(query)
    switch.lookup_user(
        phone.user_id,
        phone.domain,
        "message-count",
        site="VOICEMAIL_RESOLVE",
        event_name="GENERAL",
    )
    new, saved = switch.message_counts(phone.user_id, phone.domain)
    waiting = _event("MESSAGE_WAITING", None, "MESSAGE_WAITING")
    waiting.add("MWI-Messages-Waiting", "yes" if new else "no")
    waiting.add("MWI-Message-Account", account)
    if new or saved:
        waiting.add("MWI-Voice-Message", f"{new}/{saved} (0/0)")
    waiting.add("Sofia-Profile", "internal")
    waiting.add("Call-ID", call_id)
    switch.fire(waiting)


def unregister(switch: Switch, phone: Phone) -> bool:
    """REGISTER with Expires: 0 for the phone's registration."""
    existing = switch.endpoints.registration(phone.user_id, phone.domain)
    if existing is None:
        return False
    return register(switch, phone, expires=0, call_id=existing.call_id)


def _unregistered(
    switch: Switch, phone: Phone, user: DirectoryUser, call_id: str
) -> None:
    switch.endpoints.registrations.pop(Endpoints.key(phone.user_id, phone.domain), None)
    presence = _event("PRESENCE_IN", None, "PRESENCE_IN_UNREGISTER")
    for name, value in (
        ("proto", "sip"),
        ("rpid", "unknown"),
        ("login", switch.profiles["internal"].url),
        ("user-agent", phone.user_agent),
        ("from", f"{phone.user_id}@{phone.domain}"),
        ("status", "Unregistered"),
        ("presence-source", "register"),
        ("event_type", "presence"),
    ):
        presence.add(name, value)
    switch.fire(presence)
    gone = _event("CUSTOM", "sofia::unregister", "SOFIA_UNREGISTER")
    for name, value in (
        ("profile-name", "internal"),
        ("username", phone.user_id),
        ("from-user", phone.user_id),
        ("from-host", phone.domain),
        ("contact", f'"" <{phone.contact_uri}>'),
        ("call-id", call_id),
        ("rpid", "unknown"),
        ("realm", phone.domain),
        ("network-ip", phone.host),
        ("network-port", str(phone.port)),
        ("user-agent", phone.user_agent),
        ("expires", "0"),
    ):
        gone.add(name, value)
    for name, value in _directory_headers(user, phone):
        gone.add(name, value)
    switch.fire(gone)
    log.info("%s@%s unregistered", phone.user_id, phone.domain)
