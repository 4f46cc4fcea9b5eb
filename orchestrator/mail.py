"""Outgoing mail: an SMTP client and the messages Schakel sends.

Texts are Dutch by default and English for users who chose English. Only
the standard library talks SMTP here (``smtplib``); the server is
``settings.smtp_host``/``smtp_port``.

    MailError
     ├── MailUnavailable   the server cannot be reached or dropped us (retry)
     └── MailRefused       the server refused the message or its recipient
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from orchestrator.domain import numbering
from orchestrator.settings import Settings

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """A message was not sent."""

    error_id = "mail-error"


class MailUnavailable(MailError):
    """The SMTP server could not be reached or broke off; try again later."""

    error_id = "mail-unavailable"


class MailRefused(MailError):
    """The SMTP server refused the message (a bad address, say)."""

    error_id = "mail-refused"


@dataclass(frozen=True)
class Mailer:
    """Sends messages through one SMTP server."""

    host: str
    port: int
    sender: str
    timeout: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        return cls(settings.smtp_host, settings.smtp_port, settings.mail_from)

    def send(self, message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = self.sender
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailRefused(f"recipient refused: {exc.recipients}") from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise MailRefused(f"message refused: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailable(
                f"SMTP server {self.host}:{self.port} unavailable: {exc}"
            ) from exc
        log.info("mail %r sent to %s", message["Subject"], message["To"])


# -- voicemail --------------------------------------------------------------------

_VOICEMAIL_TEXTS = {
    "nl": {
        "subject": "Nieuw voicemailbericht van {caller}",
        "body": (
            "Beste {name},\n\n"
            "{caller} heeft op {when} een voicemailbericht voor u ingesproken"
            " ({length}).\n"
            "{attached}\n\n"
            "U kunt het bericht ook beluisteren in de app of op uw telefoon.\n"
        ),
        "attached": "Het bericht zit als geluidsbestand bij deze e-mail.",
        "missing": "Het geluidsbestand kon niet worden bijgevoegd.",
        "unknown": "Een onbekend nummer",
        "when": "d MMMM y 'om' HH:mm",
        "seconds": "{n} seconden",
        "second": "1 seconde",
    },
    "en": {
        "subject": "New voicemail from {caller}",
        "body": (
            "Dear {name},\n\n"
            "{caller} left you a voicemail message on {when} ({length}).\n"
            "{attached}\n\n"
            "You can also listen to it in the app or on your phone.\n"
        ),
        "attached": "The message is attached to this e-mail as a sound file.",
        "missing": "The sound file could not be attached.",
        "unknown": "An unknown number",
        "when": "d MMMM y 'at' HH:mm",
        "seconds": "{n} seconds",
        "second": "1 second",
    },
}


@dataclass(frozen=True)
class VoicemailNotice:
    """What a voicemail e-mail tells its user."""

    to: str
    user_name: str
    language: str
    caller_number: str | None
    caller_name: str | None
    received_at: dt.datetime
    duration_s: int
    audio: bytes | None
    filename: str


def voicemail_message(
    notice: VoicemailNotice, *, timezone: str = "Europe/Amsterdam", country: str = "NL"
) -> EmailMessage:
    """The e-mail about a new voicemail message, audio attached."""
    language = notice.language if notice.language in _VOICEMAIL_TEXTS else "nl"
    texts = _VOICEMAIL_TEXTS[language]
    caller = _caller(notice, texts["unknown"], country)
    when = format_datetime(
        notice.received_at, texts["when"], tzinfo=ZoneInfo(timezone), locale=language
    )
    length = (
        texts["second"]
        if notice.duration_s == 1
        else texts["seconds"].format(n=notice.duration_s)
    )

    message = EmailMessage()
    message["To"] = formataddr((notice.user_name, notice.to))
    message["Subject"] = texts["subject"].format(caller=caller)
    message["Message-ID"] = make_msgid(domain="schakel")
    message["Content-Language"] = language
    message.set_content(
        texts["body"].format(
            name=notice.user_name,
            caller=caller,
            when=when,
            length=length,
            attached=texts["attached" if notice.audio is not None else "missing"],
        )
    )
    if notice.audio is not None:
        kind = mimetypes.guess_type(notice.filename)[0] or "audio/wav"
        main, _, sub = kind.partition("/")
        message.add_attachment(
            notice.audio, maintype=main, subtype=sub, filename=notice.filename
        )
    return message


def _caller(notice: VoicemailNotice, unknown: str, country: str) -> str:
    number = notice.caller_number
    if number and number.startswith("+"):
        number = numbering.national(number, country)
    name = notice.caller_name
    if name and number and name != notice.caller_number:
        return f"{name} ({number})"
    return number or name or unknown
