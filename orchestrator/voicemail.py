"""Voicemail per user: greeting, messages, and each new message by e-mail.

The switch's mod_voicemail records the message and fires ``vm::maintenance``
with ``VM-Action: leave-message`` (box, domain, caller, file, length). The
`VoicemailService` turns that into a `VoicemailMessage` row (through the
record writer, so a store outage loses nothing), counts the call as missed
in the user's call list, and mails the message with its audio attached.
Messages not yet mailed are retried until the mail server takes them.

A hunt group's box (its extension) is shared: a message left there is kept
once for each member, with the group, so it shows in every member's list;
it is mailed once to the group's address, or else to each member who has
one.

The switch keeps its own index of a box (for the phone's message lamp and
the voicemail menu); marking a message heard or deleting it here tells the
switch too (``vm_read``, ``vm_delete``), keyed by the message UUID the
switch gave it (``VM-UUID``, stored as ``call_uuid``).

Files: the switch writes under its voicemail storage directory, which the
orchestrator sees as ``settings.voicemail_dir`` (the same directory when
both run on one machine, a shared volume otherwise); a path the switch
names is looked up there by its last components.

    VoicemailError
     ├── MessageNotFound      no such message for this user
     ├── AudioMissing         the message's sound file is not there
     ├── GreetingNotFound     the user recorded no greeting
     ├── GreetingInvalid      an uploaded greeting is not a usable WAV file
     └── SwitchUnavailable    the switch could not be told (nothing changed)
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
import time
import uuid as uuidlib
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from orchestrator.calls import legs
from orchestrator.calls.directory import find_user
from orchestrator.calls.records import (
    MISSED,
    LegRecord,
    LogEntry,
    RecordWriter,
    item_type,
    to_json,
)
from orchestrator.esl.errors import CommandFailed, EslError
from orchestrator.esl.events import Event
from orchestrator.mail import (
    Mailer,
    MailRefused,
    MailUnavailable,
    VoicemailNotice,
    voicemail_message,
)
from orchestrator.settings import Settings
from orchestrator.store import models as m
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

EVENTS = ("vm::maintenance",)
LEAVE_MESSAGE = "leave-message"
PROFILE = "default"
GREETING_SLOT = 1
# A file that is not there yet may still be on its way over a shared volume.
AUDIO_GRACE_S = 300.0
MAX_GREETING_BYTES = 8 * 1024 * 1024


class VoicemailError(Exception):
    status = 500
    error_id = "voicemail-error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class MessageNotFound(VoicemailError):
    status = 404
    error_id = "voicemail-message-not-found"


class AudioMissing(VoicemailError):
    status = 404
    error_id = "voicemail-audio-missing"


class GreetingNotFound(VoicemailError):
    status = 404
    error_id = "voicemail-greeting-not-found"


class GreetingInvalid(VoicemailError):
    status = 422
    error_id = "voicemail-greeting-invalid"


class SwitchUnavailable(VoicemailError):
    status = 503
    error_id = "voicemail-switch-unavailable"


@item_type
@dataclass
class VoicemailItem:
    """A message the switch recorded, on its way into the store."""

    type_name: ClassVar[str] = "voicemail"

    box: str
    domain: str
    call_uuid: str
    path: str
    created_at: dt.datetime
    duration_s: int = 0
    caller_number: str | None = None
    caller_name: str | None = None

    def apply(self, session: Session) -> None:
        group = find_group_box(session, self.box)
        if group is not None:
            members = sorted(group.members, key=lambda member: member.position)
            for member in members:
                self._keep(session, member.user_id, group.id)
            log.info(
                "voicemail %s in the box of hunt group %s for %d members",
                self.call_uuid,
                group.name,
                len(members),
            )
            return
        user = find_user(session, self.box)
        if user is None:
            log.warning(
                "voicemail %s for unknown box %r not kept", self.call_uuid, self.box
            )
            return
        self._keep(session, user.id, None)

    def _keep(self, session: Session, user_id: int, group_id: int | None) -> None:
        exists = session.scalar(
            select(m.VoicemailMessage.id).where(
                m.VoicemailMessage.user_id == user_id,
                m.VoicemailMessage.call_uuid == self.call_uuid,
                m.VoicemailMessage.path == self.path,
            )
        )
        if exists is None:
            session.add(
                m.VoicemailMessage(
                    user_id=user_id,
                    hunt_group_id=group_id,
                    call_uuid=self.call_uuid,
                    caller_number=self.caller_number,
                    caller_name=self.caller_name,
                    path=self.path,
                    duration_s=self.duration_s,
                    created_at=self.created_at,
                )
            )

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


@dataclass(frozen=True)
class MessageView:
    """A message as the user's list shows it."""

    id: int
    caller_number: str | None
    caller_name: str | None
    created_at: dt.datetime
    duration_s: int
    heard: bool
    emailed: bool

    @classmethod
    def of(cls, row: m.VoicemailMessage) -> MessageView:
        created = row.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.UTC)
        return cls(
            row.id,
            row.caller_number,
            row.caller_name,
            created,
            row.duration_s,
            row.heard,
            row.emailed,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "created_at": self.created_at.isoformat(),
            "duration_s": self.duration_s,
            "heard": self.heard,
            "emailed": self.emailed,
        }


def find_group_box(session: Session, box: str) -> m.HuntGroup | None:
    """The hunt group whose voicemail box ``box`` is (its extension).

    A phone registered as the same id keeps it, as the directory does.
    """
    if not box:
        return None
    phone = session.scalar(select(m.Device.id).where(m.Device.sip_user == box))
    if phone is not None:
        return None
    return session.scalar(select(m.HuntGroup).where(m.HuntGroup.extension == box))


def item_of(event: Event) -> VoicemailItem | None:
    """The message a ``vm::maintenance`` event announces; None for others."""
    if legs.text(event, "VM-Action") != LEAVE_MESSAGE:
        return None
    box, path = legs.text(event, "VM-User"), legs.text(event, "VM-File-Path")
    message_uuid = legs.text(event, "VM-UUID") or event.unique_id
    if not box or not path or not message_uuid:
        log.warning("vm::maintenance without box, file or UUID ignored: %r", event)
        return None
    stamp = legs.text(event, "VM-Timestamp")
    created = (
        dt.datetime.fromtimestamp(int(stamp), dt.UTC)
        if stamp and stamp.isdigit()
        else legs.event_time(event)
    )
    length = legs.text(event, "VM-Message-Len") or "0"
    return VoicemailItem(
        box=box,
        domain=legs.text(event, "VM-Domain") or "",
        call_uuid=message_uuid,
        path=path,
        created_at=created,
        duration_s=int(length) if length.isdigit() else 0,
        caller_number=legs.number(legs.text(event, "VM-Caller-ID-Number")),
        caller_name=legs.text(event, "VM-Caller-ID-Name"),
    )


class VoicemailService:
    """Keeps messages from the switch, lists them, mails them."""

    def __init__(
        self,
        store: Store,
        writer: RecordWriter,
        settings: Settings,
        *,
        mailer: Mailer | None = None,
        gateway: Any | None = None,
        clock: Callable[[], float] = time.time,
        poll_s: float = 60.0,
    ) -> None:
        self.store = store
        self.writer = writer
        self.settings = settings
        self.mailer = mailer or Mailer.from_settings(settings)
        self.gateway = gateway
        self.poll_s = poll_s
        self._clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._mail_failures = 0
        self._mail_lock = threading.Lock()

    # -- events from the switch -----------------------------------------------

    def handle(self, event: Event) -> None:
        item = item_of(event)
        if item is None:
            return
        log.info(
            "call %s: voicemail for box %s from %s (%d s)",
            item.call_uuid,
            item.box,
            item.caller_number,
            item.duration_s,
        )
        self.writer.submit(item)
        self.writer.submit(
            LogEntry(
                kind="voicemail.left",
                at=item.created_at,
                call_uuid=item.call_uuid,
                user=item.box,
                data={"from": item.caller_number, "length": item.duration_s},
            )
        )
        # The user did not take this call: it belongs in the missed calls.
        self.writer.submit(
            LegRecord(
                call_uuid=item.call_uuid,
                leg_uuid=item.call_uuid,
                user=item.box,
                direction=legs.IN,
                result=MISSED,
                started_at=item.created_at,
                ended_at=item.created_at,
                caller_number=item.caller_number,
                caller_name=item.caller_name,
            )
        )

    def written(self, items: list[Any]) -> None:
        """The record writer stored ``items``: mail new messages now."""
        if any(isinstance(item, VoicemailItem) for item in items):
            self._wake.set()

    # -- mail -------------------------------------------------------------------

    def mail_pending(self) -> int:
        """Mail every message not mailed yet; how many went out.

        Raises `MailUnavailable` when the mail server cannot be reached;
        the messages stay pending.
        """
        with self._mail_lock:
            sent = 0
            for message_id in self._unmailed():
                if self._mail_one(message_id):
                    sent += 1
            return sent

    def _unmailed(self) -> list[int]:
        message = m.VoicemailMessage
        own = and_(
            message.hunt_group_id.is_(None),
            m.User.voicemail_to_email.is_(True),
            m.User.email.is_not(None),
        )
        # A group's message goes to the group's address, else to each
        # member who has one.
        of_group = and_(
            message.hunt_group_id.is_not(None),
            or_(m.HuntGroup.email.is_not(None), m.User.email.is_not(None)),
        )
        with self.store.session() as session:
            rows = session.scalars(
                select(message.id)
                .join(m.User, m.User.id == message.user_id)
                .outerjoin(m.HuntGroup, m.HuntGroup.id == message.hunt_group_id)
                .where(message.emailed.is_(False), or_(own, of_group))
                .order_by(message.id)
            )
            return list(rows)

    def _mail_one(self, message_id: int) -> bool:
        with self.store.session() as session:
            row = session.get(m.VoicemailMessage, message_id)
            if row is None or row.emailed:
                return False
            recipient = _recipient(session, row)
            if recipient is None:
                return False
            to, name, language = recipient
            audio = self._read_audio(row.path)
            age = self._clock() - _aware(row.created_at).timestamp()
            if audio is None and age < AUDIO_GRACE_S:
                log.info("voicemail %s: audio not there yet, mail later", row.call_uuid)
                return False
            notice = VoicemailNotice(
                to=to,
                user_name=name,
                language=language,
                caller_number=row.caller_number,
                caller_name=row.caller_name,
                received_at=_aware(row.created_at),
                duration_s=row.duration_s,
                audio=audio,
                filename=PurePosixPath(row.path).name,
            )
            message = voicemail_message(
                notice, timezone=self.settings.timezone, country=self.settings.country
            )
            try:
                self.mailer.send(message)
            except MailRefused as exc:
                # Retrying cannot help; the message stays in the user's list.
                log.error(
                    "voicemail %s: mail to %s refused: %s", row.call_uuid, to, exc
                )
                session.add(
                    m.EventLog(
                        kind="voicemail.mail_refused",
                        call_uuid=row.call_uuid,
                        user_id=row.user_id,
                        data={"reason": str(exc)},
                    )
                )
            for mailed in _mailed_with(session, row, to):
                mailed.emailed = True
            return True

    def start(self) -> None:
        """Mail new messages from a thread of its own (and retry)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name="voicemail-mail", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.mail_pending()
                self._mail_failures = 0
            except MailUnavailable as exc:
                self._mail_failures += 1
                log.warning("voicemail mail waits for the mail server: %s", exc)
            except Exception:
                log.exception("voicemail mail failed; retrying")
                self._mail_failures += 1
            delay = min(self.poll_s, 2.0**self._mail_failures)
            self._wake.wait(delay if self._mail_failures else self.poll_s)
            self._wake.clear()

    # -- the user's box -----------------------------------------------------------

    def messages(self, user_id: int) -> list[MessageView]:
        with self.store.session() as session:
            rows = session.scalars(
                select(m.VoicemailMessage)
                .where(m.VoicemailMessage.user_id == user_id)
                .order_by(
                    m.VoicemailMessage.created_at.desc(), m.VoicemailMessage.id.desc()
                )
            )
            return [MessageView.of(row) for row in rows]

    def audio(self, user_id: int, message_id: int) -> tuple[bytes, str]:
        """The message's sound file and its name."""
        with self.store.session() as session:
            row = self._own(session, user_id, message_id)
            data = self._read_audio(row.path)
            if data is None:
                raise AudioMissing(
                    "the sound file of this message is not available",
                    {"message": message_id},
                )
            return data, PurePosixPath(row.path).name

    def mark_heard(self, user_id: int, message_id: int, heard: bool = True) -> None:
        with self.store.session() as session:
            row = self._own(session, user_id, message_id)
            box, domain = self._box_of(session, row)
            flag = "read" if heard else "unread"
            self._tell_switch(f"vm_read {box}@{domain} {flag} {row.call_uuid}")
            row.heard = heard

    def delete(self, user_id: int, message_id: int) -> None:
        with self.store.session() as session:
            row = self._own(session, user_id, message_id)
            box, domain = self._box_of(session, row)
            # A group message is each member's copy of one recording: the
            # switch and the file keep it until the last copy goes.
            shared = session.scalar(
                select(m.VoicemailMessage.id).where(
                    m.VoicemailMessage.path == row.path,
                    m.VoicemailMessage.id != row.id,
                )
            )
            local = None
            if shared is None:
                self._tell_switch(f"vm_delete {box}@{domain} {row.call_uuid}")
                local = self.local_path(row.path)
            session.delete(row)
        if local is not None:
            local.unlink(missing_ok=True)
        log.info("voicemail %s of user %s deleted", message_id, user_id)

    def _own(
        self, session: Session, user_id: int, message_id: int
    ) -> m.VoicemailMessage:
        row = session.get(m.VoicemailMessage, message_id)
        if row is None or row.user_id != user_id:
            raise MessageNotFound("no such voicemail message", {"message": message_id})
        return row

    def _box_of(self, session: Session, row: m.VoicemailMessage) -> tuple[str, str]:
        # The switch's path is <storage>/<domain>/<box>/msg_<uuid>.<ext>.
        parts = PurePosixPath(row.path).parts
        if len(parts) >= 3:
            return parts[-2], parts[-3]
        user = session.get(m.User, row.user_id)
        box = (user.extension or user.username) if user else ""
        return box, self.settings.sip_domain

    def _tell_switch(self, command: str) -> None:
        if self.gateway is None:
            return
        try:
            self.gateway.api(command)
        except CommandFailed as exc:
            # The switch no longer has the message: ours is all there is.
            log.warning("%s: %s", command, exc.reply)
        except EslError as exc:
            raise SwitchUnavailable(
                "the switch cannot be reached; nothing was changed",
                {"reason": str(exc)},
            ) from exc

    # -- greeting -------------------------------------------------------------------

    def greeting_path(self, username: str) -> Path:
        return Path(self.settings.voicemail_dir) / "greetings" / f"{username}.wav"

    def greeting(self, username: str) -> bytes | None:
        path = self.greeting_path(username)
        return path.read_bytes() if path.exists() else None

    def greeting_or_fail(self, username: str) -> bytes:
        data = self.greeting(username)
        if data is None:
            raise GreetingNotFound("no greeting recorded", {"user": username})
        return data

    def set_greeting(self, user_id: int, data: bytes) -> None:
        """Make ``data`` (a WAV file) the greeting callers hear."""
        check_greeting(data)
        with self.store.session() as session:
            user = session.get(m.User, user_id)
            if user is None:
                raise MessageNotFound("no such user", {"user": user_id})
            box = user.extension or user.username
            username = user.username
        incoming = Path(self.settings.voicemail_dir) / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        handover = incoming / f"greeting-{uuidlib.uuid4()}.wav"
        handover.write_bytes(data)
        try:
            self._set_switch_greeting(box, handover)
        finally:
            # The switch moves the file into the box; if it did not, tidy up.
            handover.unlink(missing_ok=True)
        path = self.greeting_path(username)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        log.info("user %s: new voicemail greeting (%d bytes)", username, len(data))

    def _set_switch_greeting(self, box: str, handover: Path) -> None:
        if self.gateway is None:
            return
        command = (
            f"vm_fsdb_pref_greeting_set {PROFILE} {self.settings.sip_domain} "
            f"{box} {GREETING_SLOT} {handover}"
        )
        try:
            reply = self.gateway.api(command)
        except EslError as exc:
            raise SwitchUnavailable(
                "the switch cannot be reached; the greeting was not changed",
                {"reason": str(exc)},
            ) from exc
        # Quirk: mod_voicemail answers success with "-OK", not "+OK".
        if not reply.startswith(("-OK", "+OK")):
            raise SwitchUnavailable(
                "the switch refused the greeting", {"reason": reply.strip()}
            )

    # -- files ----------------------------------------------------------------------

    def local_path(self, switch_path: str) -> Path | None:
        """Where a file the switch names is found here, if anywhere."""
        path = Path(switch_path)
        if path.is_file():
            return path
        root = Path(self.settings.voicemail_dir)
        parts = PurePosixPath(switch_path).parts
        for keep in range(min(5, len(parts) - 1), 0, -1):
            candidate = root.joinpath(*parts[-keep:])
            if candidate.is_file():
                return candidate
        return None

    def _read_audio(self, switch_path: str) -> bytes | None:
        path = self.local_path(switch_path)
        return path.read_bytes() if path is not None else None


def check_greeting(data: bytes) -> None:
    """Refuse what the switch could not play as a greeting."""
    if len(data) > MAX_GREETING_BYTES:
        raise GreetingInvalid(
            "the greeting is too large", {"max_bytes": MAX_GREETING_BYTES}
        )
    try:
        with wave.open(io.BytesIO(data)) as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
    except (wave.Error, EOFError) as exc:
        raise GreetingInvalid(
            "the greeting is not a WAV file", {"reason": str(exc)}
        ) from exc
    if frames == 0 or rate == 0:
        raise GreetingInvalid("the greeting is empty")


def _recipient(
    session: Session, row: m.VoicemailMessage
) -> tuple[str, str, str] | None:
    """(address, name, language) the message is mailed to, if anywhere."""
    user = session.get(m.User, row.user_id)
    group = (
        session.get(m.HuntGroup, row.hunt_group_id)
        if row.hunt_group_id is not None
        else None
    )
    if group is not None and group.email:
        # One mail for the group, in Dutch: it goes to a shared address.
        return group.email, group.name, "nl"
    if user is None or not user.email:
        return None
    if group is None and not user.voicemail_to_email:
        return None
    return user.email, user.name, user.language or "nl"


def _mailed_with(
    session: Session, row: m.VoicemailMessage, to: str
) -> list[m.VoicemailMessage]:
    """The rows one mail to ``to`` covers: the members' copies of a group
    message all went with the group's mail."""
    group = (
        session.get(m.HuntGroup, row.hunt_group_id)
        if row.hunt_group_id is not None
        else None
    )
    if group is None or group.email != to:
        return [row]
    return list(
        session.scalars(
            select(m.VoicemailMessage).where(
                m.VoicemailMessage.hunt_group_id == group.id,
                m.VoicemailMessage.call_uuid == row.call_uuid,
                m.VoicemailMessage.path == row.path,
            )
        )
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
