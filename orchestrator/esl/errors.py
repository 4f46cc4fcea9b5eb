"""Exceptions of the Event Socket layer, one class per failure.

    EslError
     ├── NotConnected          no connection to the switch right now
     ├── ConnectionLost        the connection went away while a command waited
     ├── AuthenticationFailed  the switch refused the password
     ├── ProtocolError         a frame that cannot be parsed (bad length, junk)
     ├── CommandTimeout        no reply within the time given
     ├── CommandFailed         the switch answered -ERR (or -USAGE)
     │    └── ChannelNotFound  ... because the channel does not exist
     └── InvalidArgument       an argument was refused before anything was sent
                               (also a ValueError)

Every error has a stable kebab-case ``error_id`` for logs and API answers.
"""

from __future__ import annotations


class EslError(Exception):
    """Base class of every Event Socket failure."""

    error_id = "esl-error"


class NotConnected(EslError):
    """No authenticated connection to the switch at the moment."""

    error_id = "esl-not-connected"


class ConnectionLost(EslError):
    """The connection closed while a command was waiting for its reply."""

    error_id = "esl-connection-lost"


class AuthenticationFailed(EslError):
    """The switch answered ``-ERR invalid`` to ``auth``."""

    error_id = "esl-authentication-failed"


class ProtocolError(EslError):
    """The byte stream is not a valid sequence of Event Socket frames."""

    error_id = "esl-protocol-error"


class CommandTimeout(EslError):
    """A command got no reply (or a job no BACKGROUND_JOB) in time."""

    error_id = "esl-command-timeout"

    def __init__(self, command: str, timeout: float) -> None:
        super().__init__(f"no reply to {command!r} within {timeout:g} s")
        self.command = command
        self.timeout = timeout


class CommandFailed(EslError):
    """The switch refused a command; ``reply`` is its text, e.g. ``-ERR ...``."""

    error_id = "esl-command-failed"

    def __init__(self, command: str, reply: str) -> None:
        super().__init__(f"{command!r} failed: {reply}")
        self.command = command
        self.reply = reply


class ChannelNotFound(CommandFailed):
    """The command named a channel the switch does not have."""

    error_id = "esl-channel-not-found"


class InvalidArgument(EslError, ValueError):
    """An argument cannot be sent safely (newline, space, not a UUID ...)."""

    error_id = "esl-invalid-argument"


# Replies that mean "no such channel", in the words of the various commands.
_NO_CHANNEL_REPLIES = (
    "-ERR No such channel",
    "-ERR invalid session id",
    "-ERR no such channel",
    "-ERR Cannot locate session",
)


def failure(command: str, reply: str) -> CommandFailed:
    """The exception for a ``-ERR`` reply, the most specific class that fits."""
    text = reply.strip()
    if text.startswith(_NO_CHANNEL_REPLIES):
        return ChannelNotFound(command, text)
    return CommandFailed(command, text)
