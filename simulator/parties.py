"""Scripted parties: the people and devices around the simulated switch.

Built on the switch's endpoints (``simulator.endpoints``):

- `PhoneParty`: a directory user's desk phone or softphone. It registers
  (or not), and when called it rings and answers after a delay, is busy,
  rejects, never answers, or is on do-not-disturb. It can also place calls
  itself (the internal profile, so the call is routed in the user's
  context).
- `AgentParty`: a phone that answers whatever it is offered, optionally
  hanging up after talking for a while (contact-centre agents).
- `CallerParty`: someone calling in over the trunk: dials a number, then
  presses keys, talks, holds and hangs up through the returned call.
- `MobileParty`: a number behind the trunk gateway that the switch calls
  out to (mobiles of on-call staff, external numbers).

Each party knows which legs are its own (`Party.owns`), so that a test can
ask "was the call answered by anna?".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from simulator.endpoints import Behaviour, Gateway, Phone

if TYPE_CHECKING:
    from simulator.channel import Channel
    from simulator.scenario import Call, Simulation

log = logging.getLogger(__name__)

DEFAULT_GATEWAY = "trunk"


def behaviour_for(
    *,
    answers_after: float | None = 1.0,
    answers: bool = True,
    busy: bool = False,
    rejects: int | None = None,
    rejects_after: float = 0.5,
    rings: bool = True,
    early_media: bool = False,
    on_answer: Callable[[Channel], None] | None = None,
) -> Behaviour:
    """A `Behaviour` from the words a scenario uses."""
    if busy:
        return Behaviour(answer_after=None, reject=486, reject_after=rejects_after,
                         ring=False)  # fmt: skip
    if rejects is not None:
        return Behaviour(
            answer_after=None, reject=rejects, reject_after=rejects_after, ring=rings
        )
    if not answers or answers_after is None:
        return Behaviour(answer_after=None, ring=rings, early_media=early_media)
    return Behaviour(
        answer_after=answers_after,
        ring=rings,
        early_media=early_media,
        on_answer=on_answer,
    )


class Party:
    """Someone in a scenario, known by a name."""

    def __init__(self, sim: Simulation, name: str) -> None:
        self.sim = sim
        self.name = name

    def owns(self, channel: Channel) -> bool:
        """Whether a leg is this party's (its phone, its line)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class PhoneParty(Party):
    """A directory user's phone."""

    def __init__(
        self,
        sim: Simulation,
        name: str,
        user_id: str,
        *,
        domain: str | None = None,
        registered: bool = True,
        dnd: bool = False,
        talks_for: float | None = None,
        **behaviour: object,
    ) -> None:
        super().__init__(sim, name)
        switch = sim.switch
        self.user_id = user_id
        self.domain = domain or switch.domain
        self.talks_for = talks_for
        self.phone: Phone = switch.add_phone(user_id, domain=self.domain)
        self.phone.dnd = dnd
        self.set_behaviour(**behaviour)  # type: ignore[arg-type]
        if registered:
            self.register()

    # -- how it answers -----------------------------------------------------

    def set_behaviour(self, **words: object) -> None:
        """Change how the phone answers (``answers_after``, ``busy`` ...)."""
        if self.talks_for is not None and "on_answer" not in words:
            words["on_answer"] = self._hang_up_after(self.talks_for)
        self.phone.behaviour = behaviour_for(**words)  # type: ignore[arg-type]

    def answers_after(self, seconds: float) -> None:
        self.set_behaviour(answers_after=seconds)

    def busy(self) -> None:
        self.set_behaviour(busy=True)

    def no_answer(self) -> None:
        self.set_behaviour(answers=False)

    def rejects(self, status: int = 603) -> None:
        self.set_behaviour(rejects=status)

    def set_dnd(self, on: bool = True) -> None:
        self.phone.dnd = on

    def _hang_up_after(self, seconds: float) -> Callable[[Channel], None]:
        def script(channel: Channel) -> None:
            channel.switch.clock.sleep(seconds)
            if not channel.hungup:
                channel.switch.remote_hangup(channel.uuid)

        return script

    # -- registration -------------------------------------------------------

    def register(self, *, password: str | None = None) -> bool:
        """REGISTER; ``password`` None answers the challenge right."""
        ok = self.sim.switch.register(
            self.user_id, domain=self.domain, password=password
        )
        if not ok and password is None:
            log.warning("phone %s@%s did not register (not in the directory?)",
                        self.user_id, self.domain)  # fmt: skip
        return ok

    def unregister(self) -> bool:
        return self.sim.switch.unregister(self.user_id, domain=self.domain)

    @property
    def registered(self) -> bool:
        return self.sim.switch.registration(self.user_id, self.domain) is not None

    # -- its own calls --------------------------------------------------------

    def dial(self, number: str, *, caller_name: str | None = None) -> Call:
        """The phone calls ``number`` (internal profile, the user's context)."""
        channel = self.sim.switch.new_inbound_call(
            self.user_id,
            number,
            profile="internal",
            caller_name=caller_name or self.name,
            endpoint=self.phone,
        )
        return self.sim.track(channel, self)

    def owns(self, channel: Channel) -> bool:
        return channel.endpoint is self.phone

    def legs(self) -> list[Channel]:
        return [c for c in self.sim.switch.channels.values() if self.owns(c)]


class AgentParty(PhoneParty):
    """A phone that answers whatever it is offered (after ``answers_after``)."""

    def __init__(
        self,
        sim: Simulation,
        name: str,
        user_id: str,
        *,
        answers_after: float = 1.0,
        talks_for: float | None = None,
        **kw: object,
    ) -> None:
        super().__init__(
            sim, name, user_id, answers_after=answers_after, talks_for=talks_for, **kw
        )  # type: ignore[arg-type]


class CallerParty(Party):
    """Someone outside who calls in over the trunk."""

    def __init__(
        self, sim: Simulation, name: str, number: str, *, display: str | None = None
    ) -> None:
        super().__init__(sim, name)
        self.number = number
        self.display = display
        self._uuids: set[str] = set()

    def dial(self, destination: str, **variables: str) -> Call:
        channel = self.sim.switch.new_inbound_call(
            self.number,
            destination,
            caller_name=self.display,
            variables=variables or None,
        )
        self._uuids.add(channel.uuid)
        return self.sim.track(channel, self)

    def owns(self, channel: Channel) -> bool:
        return channel.uuid in self._uuids


class MobileParty(Party):
    """A number behind the trunk gateway that the switch may call."""

    def __init__(
        self,
        sim: Simulation,
        name: str,
        number: str,
        *,
        gateway: str = DEFAULT_GATEWAY,
        aliases: Iterable[str] = (),
        talks_for: float | None = None,
        **behaviour: object,
    ) -> None:
        super().__init__(sim, name)
        self.number = number
        self.numbers = {number, *aliases}
        self.talks_for = talks_for
        switch = sim.switch
        existing = switch.endpoints.gateway(gateway)
        self.gateway: Gateway = existing or switch.add_gateway(
            gateway, default=Behaviour(answer_after=None, reject=404, ring=False)
        )
        self.set_behaviour(**behaviour)  # type: ignore[arg-type]

    def set_behaviour(self, **words: object) -> None:
        if self.talks_for is not None and "on_answer" not in words:
            seconds = self.talks_for

            def script(channel: Channel) -> None:
                channel.switch.clock.sleep(seconds)
                if not channel.hungup:
                    channel.switch.remote_hangup(channel.uuid)

            words["on_answer"] = script
        behaviour = behaviour_for(**words)  # type: ignore[arg-type]
        for number in self.numbers:
            self.gateway.by_number[number] = behaviour

    def owns(self, channel: Channel) -> bool:
        if channel.endpoint is not self.gateway:
            return False
        return channel.profile.destination_number in self.numbers
