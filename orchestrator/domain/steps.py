"""Steps: what the dialplan does with a call at one point of its way.

A user's forwarding, a hunt group's fallback and a menu choice all end in
one of a few things: ring a user, ring a hunt group, join a queue, call an
external number, leave a voicemail, offer the "voicemail or contact centre"
choice, play an announcement, or hang up. :class:`Step` names that thing
and carries what the template needs to render it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Action(enum.StrEnum):
    USER = "user"
    HUNT_GROUP = "hunt_group"
    QUEUE = "queue"
    IVR = "ivr"
    ONCALL = "oncall"
    EXTERNAL = "external"
    VOICEMAIL = "voicemail"
    VM_OR_QUEUE = "vm_or_queue"
    ANNOUNCEMENT = "announcement"
    HANGUP = "hangup"


@dataclass(frozen=True)
class Step:
    """One destination of a call, ready to render.

    - ``USER``: ``extension`` is the user's extension, ``target_id`` the user.
    - ``HUNT_GROUP``/``QUEUE``/``IVR``/``ONCALL``: ``target_id`` and the
      ``extension`` it is reached on (None for a queue without one).
    - ``EXTERNAL``: ``number`` in E.164.
    - ``VOICEMAIL``: ``mailbox`` (a user's extension or a group's box).
    - ``VM_OR_QUEUE``: ``mailbox`` and the queue ``target_id``.
    - ``ANNOUNCEMENT``: ``target_id`` of the announcement, then hang up.
    - ``HANGUP``: ``cause`` (a FreeSWITCH hangup cause).

    ``announce`` asks for the "not available, you are being put through"
    announcement before the step.
    """

    action: Action
    target_id: int | None = None
    extension: str | None = None
    number: str | None = None
    mailbox: str | None = None
    cause: str = "NORMAL_CLEARING"
    announce: bool = False

    @property
    def leaves_switch(self) -> bool:
        return self.action == Action.EXTERNAL


def hangup(cause: str) -> Step:
    return Step(Action.HANGUP, cause=cause)
