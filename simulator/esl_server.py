"""The simulator's mod_event_socket: an inbound Event Socket server.

It speaks the protocol exactly as FreeSWITCH 1.10 does on the wire and asks
the simulated switch (anything implementing `SwitchCore`) for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from simulator.events import Event

EventListener = Callable[[Event], None]


class SwitchCore(Protocol):
    """What the Event Socket server needs from the simulated switch.

    Every method is called from a gevent greenlet of the server; a method may
    block that greenlet (e.g. ``api`` waiting for an originate) but must not
    block the hub.
    """

    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener(event)`` for every event the switch fires from now on.

        Events are passed in firing order, already stamped with the core
        headers (``Event-Name``, ``Core-UUID`` ... ``Event-Sequence``, see
        `simulator.events.stamp`), including the ``API`` event of every api
        command and the BACKGROUND_JOB events handed to `fire`. The listener
        only queues the event and returns at once; the same `Event` object
        goes to every listener, which must not modify it.
        """

    def remove_listener(self, listener: EventListener) -> None:
        """Stop calling a listener given to `add_listener` (no error if absent)."""

    def api(self, command: str, args: str) -> str:
        """Run an api command and return its output exactly as FreeSWITCH would.

        ``command`` is the first word, ``args`` the rest of the line ("" if
        none): ``api("uuid_kill", "<uuid>")``. The return value is the whole
        ``api/response`` body, e.g. ``"+OK\\n"``, ``"-ERR No such channel!\\n"``,
        ``'{"row_count": 0}\\n'``, or for a command the switch does not know
        ``"-ERR <command> Command not found!\\n"``. Like FreeSWITCH, the switch
        fires an ``API`` event (``API-Command``, ``API-Command-Argument``) once
        the command has finished. Also used for ``bgapi``, from a separate
        greenlet.
        """

    def sendmsg(
        self, uuid: str, headers: Sequence[tuple[str, str]], body: str | None
    ) -> str:
        """Queue a message on a channel; return the ``Reply-Text``.

        ``headers`` are the lines after ``sendmsg <uuid>`` in order, e.g.
        ``[("call-command", "execute"), ("execute-app-name", "playback"),
        ("execute-app-arg", "tone_stream://%(500,0,440)")]`` (values are
        given as sent; the server does not URL-decode them), ``body`` the
        frame's body if it had a ``Content-Length``. Returns ``"+OK"`` when
        queued, ``"-ERR invalid session id [<uuid>]"`` for an unknown channel.
        """

    def channel_exists(self, uuid: str) -> bool:
        """Whether a channel with this Unique-ID exists now (for ``myevents``)."""

    def fire(self, event: Event) -> None:
        """Stamp the core headers on an event and deliver it to every listener.

        The server fires BACKGROUND_JOB events through this, so they get the
        switch's clock, identity and global Event-Sequence.
        """
