"""The Event Socket layer: the orchestrator's only way to talk to the switch.

- `Gateway` (`EslGateway` over a live socket, `FakeGateway` for unit tests):
  call commands with checked arguments and typed results, event subscriptions;
- `EslClient`: connection, authentication, reconnect with backoff,
  ``api``/``bgapi`` with Job-UUID correlation, resync hooks;
- `Event`, `FrameParser`, `Dispatcher`: the receive path;
- `orchestrator.esl.errors`: the exception tree.
"""

from orchestrator.esl.client import DEFAULT_EVENTS, Backoff, EslClient
from orchestrator.esl.commands import Application, Extension
from orchestrator.esl.dispatch import Dispatcher, Subscription
from orchestrator.esl.errors import (
    AuthenticationFailed,
    ChannelNotFound,
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    EslError,
    InvalidArgument,
    NotConnected,
    ProtocolError,
)
from orchestrator.esl.events import Event
from orchestrator.esl.fake import FakeGateway
from orchestrator.esl.frames import Frame, FrameParser
from orchestrator.esl.gateway import EslGateway, Gateway
from orchestrator.esl.snapshot import LiveSnapshot

__all__ = [
    "DEFAULT_EVENTS",
    "Application",
    "AuthenticationFailed",
    "Backoff",
    "ChannelNotFound",
    "CommandFailed",
    "CommandTimeout",
    "ConnectionLost",
    "Dispatcher",
    "EslClient",
    "EslError",
    "EslGateway",
    "Event",
    "Extension",
    "FakeGateway",
    "Frame",
    "FrameParser",
    "Gateway",
    "InvalidArgument",
    "LiveSnapshot",
    "NotConnected",
    "ProtocolError",
    "Subscription",
]
