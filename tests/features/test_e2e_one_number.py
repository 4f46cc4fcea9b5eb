"""One number: a DID rings the desk phone, the app and the mobile.

Karin's mobile is reached through the trunk; her desk phone and app ring
as well. "together" rings all at once, "after" starts the mobile later.
"""

from feature_support import rang

from orchestrator.store import models as m

CALLER = "0201234567"


def one_number(demo, mode: str, delay: int = 0) -> None:
    def change(session):
        user = session.get(m.User, 11)
        user.one_number = mode
        user.one_number_delay = delay

    demo.change(change)


def test_together_rings_desk_app_and_mobile(sim, demo):
    one_number(demo, "together")
    karin = demo.user("karin")
    desk = sim.phone("karin", "2311", answers=False)
    app = sim.phone("karin app", "2311-app", answers=False)
    mobile = sim.mobile("karin mobile", karin.mobile, answers_after=2)
    call = sim.dial(CALLER, "0317492311")
    leg = call.expect_answered_by(mobile, within=30)
    assert (rang(sim, desk), rang(sim, app)) == (1, 1)
    # The mobile shows who calls, not the switch's own number.
    assert leg.profile.caller_id_number == CALLER


def test_after_a_delay_the_mobile_joins(sim, demo):
    one_number(demo, "after", 6)
    karin = demo.user("karin")
    desk = sim.phone("karin", "2311", answers=False)
    mobile = sim.mobile("karin mobile", karin.mobile, answers_after=1)
    call = sim.dial(CALLER, "0317492311")
    leg = call.expect_answered_by(mobile, within=30)
    desk_leg = next(c for c in sim.legs.values() if desk.owns(c))

    def rings(channel):
        return next(
            r.at
            for r in sim.events("CHANNEL_PROGRESS")
            if r.get("Unique-ID") == channel.uuid
        )

    assert 5 <= rings(leg) - rings(desk_leg) < 8


def test_a_colleague_calling_shows_their_own_number_on_the_mobile(sim, demo):

    one_number(demo, "together")
    karin = demo.user("karin")
    sim.phone("karin", "2311", answers=False)
    mobile = sim.mobile("karin mobile", karin.mobile, answers_after=1)
    lars = sim.phone("lars", "2312")
    call = lars.dial("2311")
    leg = call.expect_answered_by(mobile, within=30)
    assert leg.profile.caller_id_number == demo.user("lars").did


def test_off_rings_no_mobile(sim, demo):
    karin = demo.user("karin")
    desk = sim.phone("karin", "2311", answers_after=1)
    mobile = sim.mobile("karin mobile", karin.mobile, answers_after=1)
    call = sim.dial(CALLER, "0317492311")
    call.expect_answered_by(desk, within=30)
    assert rang(sim, mobile) == 0
