"""Failures of the call features, one class each, with HTTP status and id.

    CallError                      500 call-error
     ├── CallNotFound              404 call-not-found
     ├── TransferNotFound          404 transfer-not-found
     ├── NotBridged                409 call-not-bridged
     ├── AlreadyOnHold             409 call-already-on-hold
     ├── NotOnHold                 409 call-not-on-hold
     ├── TransferInProgress        409 transfer-in-progress
     ├── TransferNotAllowed        409 transfer-not-allowed
     ├── InvalidDestination        422 invalid-destination
     ├── SwitchRefused             502 switch-refused
     └── SwitchUnavailable         503 switch-unavailable

``message`` is English for logs; ``orchestrator.calls.api`` shows users a
Dutch or English text chosen by ``error_id``.
"""

from __future__ import annotations

from typing import Any


class CallError(Exception):
    status = 500
    error_id = "call-error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class CallNotFound(CallError):
    """No live call with that UUID belongs to the user."""

    status = 404
    error_id = "call-not-found"


class TransferNotFound(CallError):
    status = 404
    error_id = "transfer-not-found"


class NotBridged(CallError):
    """The call has no other party (yet) to hold or transfer."""

    status = 409
    error_id = "call-not-bridged"


class AlreadyOnHold(CallError):
    status = 409
    error_id = "call-already-on-hold"


class NotOnHold(CallError):
    status = 409
    error_id = "call-not-on-hold"


class TransferInProgress(CallError):
    status = 409
    error_id = "transfer-in-progress"


class TransferNotAllowed(CallError):
    """The transfer's state does not allow this (complete before answer ...)."""

    status = 409
    error_id = "transfer-not-allowed"


class InvalidDestination(CallError):
    status = 422
    error_id = "invalid-destination"


class SwitchRefused(CallError):
    """The switch answered -ERR to a command the feature needed."""

    status = 502
    error_id = "switch-refused"


class SwitchUnavailable(CallError):
    """No connection to the switch right now; nothing was changed."""

    status = 503
    error_id = "switch-unavailable"
