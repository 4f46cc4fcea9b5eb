"""Forwarding set by the user, end to end through the simulated switch.

Karin (2311, DID 0317 49 2311) forwards; callers come in over the trunk.
The forwarded leg presents the original caller, with Karin's number as the
diversion; loops that slip past the checks still end.
"""

import pytest
from feature_support import rang

from orchestrator.domain.forwarding import ForwardRule
from orchestrator.features import service
from orchestrator.store import models as m

CALLER = "0201234567"
KARIN_DID = "0317492311"


def forward(store, kind, target_type, **kw):
    return service.set_forward(store, ForwardRule(11, kind, target_type, **kw))


def test_always_to_an_external_number_keeps_the_caller(sim, store):
    karin = sim.phone("karin", "2311", answers_after=1)
    outside = sim.mobile("outside", "+31207654321", answers_after=1)
    forward(store, "always", "external", target_number="020 765 4321")
    call = sim.dial(CALLER, KARIN_DID)
    leg = call.expect_answered_by(outside, within=30)
    assert rang(sim, karin) == 0
    assert leg.profile.caller_id_number == CALLER
    assert leg.get_variable("sip_h_Diversion") == (
        "<sip:+31317492311@pbx.local>;reason=unconditional;counter=1"
    )
    assert leg.get_variable("sip_h_P-Asserted-Identity") == (
        "<sip:+31317492311@pbx.local>"
    )


def test_busy_to_a_colleague(sim, store):
    sim.phone("karin", "2311", busy=True)
    lars = sim.phone("lars", "2312", answers_after=1)
    forward(store, "busy", "user", target_id=12)
    call = sim.dial(CALLER, KARIN_DID)
    leg = call.expect_answered_by(lars, within=30)
    assert leg.profile.caller_id_number == CALLER


def test_no_answer_after_the_set_time_to_the_mobile(sim, store, demo):
    karin = sim.phone("karin", "2311", answers=False)
    mobile = sim.mobile("karin mobile", demo.user("karin").mobile, answers_after=1)
    forward(store, "no_answer", "mobile", no_answer_seconds=8)
    call = sim.dial(CALLER, KARIN_DID)
    call.expect_answered_by(mobile, within=40)
    desk = next(c for c in sim.legs.values() if karin.owns(c))
    hangup = next(
        r for r in sim.events("CHANNEL_HANGUP") if r.get("Unique-ID") == desk.uuid
    )
    # Rung together with the app, the desk phone is a leg of a fork: the
    # switch ends it at its own leg_timeout (ALLOTTED_TIMEOUT), not with the
    # NO_ANSWER of a single user/ leg.
    assert hangup.get("Hangup-Cause") == "ALLOTTED_TIMEOUT"
    outgoing = next(
        r for r in sim.events("CHANNEL_OUTGOING") if r.get("Unique-ID") == desk.uuid
    )
    # Rang for the 8 seconds set (plus the simulator's own processing time).
    assert 8 <= hangup.at - outgoing.at < 12


def test_unreachable_to_voicemail_or_the_contact_centre(sim, store):
    forward(store, "unreachable", "vm_or_queue", target_id=1)
    # Karin has no phone registered.
    call = sim.dial(CALLER, KARIN_DID)
    call.expect_variable("schakel_target", "vm_or_queue", within=30)
    call.press("1")
    call.expect_event(
        "CHANNEL_EXECUTE",
        within=30,
        Application="voicemail",
        Application_Data="default pbx.local 2311",
    )
    second = sim.dial("0201234568", KARIN_DID)
    second.expect_variable("schakel_target", "vm_or_queue", within=30)
    second.press("2")
    second.expect_parked(within=30)
    assert (second.variable("schakel_target"), second.variable("schakel_queue_id")) == (
        "queue",
        "1",
    )


def test_announcement_before_being_put_through(sim, store, settings):
    lars = sim.phone("lars", "2312", answers_after=1)
    forward(store, "unreachable", "user", target_id=12, announce=True)
    call = sim.dial(CALLER, KARIN_DID)
    call.expect_answered_by(lars, within=60)
    played = [r.get("Playback-File-Path") for r in call.events("PLAYBACK_START")]
    assert played == [f"{settings.sounds_dir}/schakel/nl/niet-bereikbaar.wav"]
    # It lasts as long as the recording the organisation stored for it.
    (start,) = call.events("PLAYBACK_START")
    (stop,) = call.events("PLAYBACK_STOP")
    assert stop.at - start.at == pytest.approx(4.9, abs=0.1)


def test_dnd_counts_as_busy(sim, store):
    karin = sim.phone("karin", "2311", answers_after=1)
    service.set_dnd(store, 11, True)
    call = sim.dial(CALLER, KARIN_DID)
    call.expect_event(
        "CHANNEL_EXECUTE",
        within=30,
        Application="voicemail",
        Application_Data="default pbx.local 2311",
    )
    assert rang(sim, karin) == 0


def test_a_loop_that_slipped_past_the_checks_still_ends(sim, store):
    karin = sim.phone("karin", "2311", answers=False)
    lars = sim.phone("lars", "2312", answers=False)
    # Validation refuses this loop; written straight into the store (as an
    # old import might have) with a revision of its own, the switch gets it.
    with store.session() as session:
        session.add_all([
            m.CallForward(user_id=11, kind="no_answer", target_type="user",
                          target_id=12, no_answer_seconds=5),
            m.CallForward(user_id=12, kind="no_answer", target_type="user",
                          target_id=11, no_answer_seconds=5),
            m.ConfigRevision(author="import", summary="unchecked", snapshot={}),
        ])  # fmt: skip
    call = sim.dial(CALLER, KARIN_DID)
    call.expect_event(
        "CHANNEL_EXECUTE",
        within=60,
        Application="voicemail",
        Application_Data="default pbx.local 2312",
    )
    assert (rang(sim, karin), rang(sim, lars)) == (1, 1)
    assert call.variable("schakel_fwd_refused") == "loop"


def test_a_long_chain_is_cut_after_five_hops(sim, demo):
    phones = [
        sim.phone(f"u{uid}", str(2310 + uid), answers_after=1) for uid in range(1, 8)
    ]

    def chain(session):
        session.add_all(
            m.CallForward(user_id=10 + uid, kind="always", target_type="user",
                          target_id=11 + uid)
            for uid in range(1, 7)
        )  # fmt: skip

    demo.change(chain)
    call = sim.dial(CALLER, KARIN_DID)
    call.expect_event(
        "CHANNEL_EXECUTE",
        within=60,
        Application="voicemail",
        Application_Data="default pbx.local 2315",
    )
    assert call.variable("schakel_fwd_refused") == "hops"
    assert sum(rang(sim, phone) for phone in phones) == 0


def test_the_caller_leaves_a_message_in_the_users_box(sim, store):
    forward(store, "unreachable", "vm_or_queue", target_id=1)
    call = sim.dial(CALLER, KARIN_DID)
    call.expect_variable("schakel_target", "vm_or_queue", within=30)
    call.talks(duration=4)
    call.press("1")
    start = call.expect_event("RECORD_START", within=60)
    assert "/pbx.local/2311/" in start.get("Record-File-Path")
    call.wait(6)
    call.hangup()
    sim.expect_event(
        "MESSAGE_WAITING",
        within=30,
        MWI_Messages_Waiting="yes",
        MWI_Message_Account="2311@pbx.local",
    )


def test_unanswered_direct_number_to_the_contact_centre_queue(sim, store):
    sim.phone("karin", "2311", answers=False)
    forward(store, "no_answer", "queue", target_id=1, no_answer_seconds=5)
    call = sim.dial(CALLER, KARIN_DID)
    call.expect_parked(within=30)
    assert (call.variable("schakel_target"), call.variable("schakel_queue_id")) == (
        "queue",
        "1",
    )


def test_unanswered_direct_number_to_a_hunt_group(sim, store, demo):
    sim.phone("karin", "2311", answers=False)
    group = demo.group("Vergunningen")
    first = sim.phone(group.member_names[0], demo.user(group.member_names[0]).extension,
                      answers_after=1)  # fmt: skip
    forward(store, "no_answer", "hunt_group", target_id=group.id, no_answer_seconds=5)
    call = sim.dial(CALLER, KARIN_DID)
    call.expect_answered_by(first, within=40)
    assert call.variable("schakel_hunt_group_id") == str(group.id)
