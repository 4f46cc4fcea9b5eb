"""Hunt groups end to end: linear, cyclic, simultaneous, login, fallbacks.

Demo organisation: Burgerzaken (linear) karin, lars, marieke, niels, olga;
Vergunningen (cyclic) pieter .. tessa; Servicedesk ICT (simultaneous)
ulrike .. xandra, falling back to "voicemail or contact centre"; Financiën
(simultaneous) yara .. fatima, falling back to Burgerzaken. Members ring
15 s each, the group waits 30 s.
"""

from feature_support import rang

from orchestrator.features import service


def phones(sim, demo, group_name, **behaviour):
    group = demo.group(group_name)
    return group, [
        sim.phone(name, demo.user(name).extension, **behaviour)
        for name in group.member_names
    ]


def test_linear_rings_members_in_turn(sim, demo):
    group, (karin, lars, marieke, *_rest) = phones(
        sim, demo, "Burgerzaken", answers=False
    )
    lars.answers_after(2)
    call = sim.dial("0201234567", group.number)
    call.expect_answered_by(lars, within=40)
    assert (rang(sim, karin), rang(sim, lars), rang(sim, marieke)) == (1, 1, 0)
    # The member sees which group the call came through.
    (leg,) = [c for c in sim.legs.values() if lars.owns(c)]
    assert leg.profile.caller_id_name == "Burgerzaken: 0201234567"


def test_cyclic_starts_one_further_each_call(sim, demo):
    group, members = phones(sim, demo, "Vergunningen", answers_after=1)
    answered = []
    for caller in ("0201234561", "0201234562", "0201234563"):
        call = sim.dial(caller, group.number)
        leg = call.expect_event("CHANNEL_BRIDGE", within=30)
        other = sim.leg(leg.get("Other-Leg-Unique-ID"))
        answered.append(next(p.name for p in members if p.owns(other)))
        call.hangup()
        call.expect_hangup(within=10)
    assert answered == group.member_names[:3]


def test_simultaneous_rings_everyone(sim, demo):
    group, members = phones(sim, demo, "Servicedesk ICT", answers=False)
    members[-1].answers_after(3)
    call = sim.dial("0201234567", group.number)
    call.expect_answered_by(members[-1], within=30)
    assert [rang(sim, phone) for phone in members] == [1, 1, 1, 1]


def test_only_logged_in_members_ring(sim, demo, store):
    group, (karin, lars, *_rest) = phones(sim, demo, "Burgerzaken", answers_after=1)
    service.set_hunt_membership(store, demo.user("karin").id, group.id, False)
    call = sim.dial("0201234567", group.number)
    call.expect_answered_by(lars, within=30)
    assert rang(sim, karin) == 0


def test_unanswered_goes_to_the_queue(sim, demo):
    group, members = phones(sim, demo, "Burgerzaken", answers=False)
    call = sim.dial("0201234567", group.number)
    call.expect_parked(within=60)
    assert call.variable("schakel_target") == "queue"
    assert call.variable("schakel_queue_id") == str(group.fallback_id)
    # Two members rang 15 s each within the group's 30 s.
    assert [rang(sim, phone) for phone in members] == [1, 1, 0, 0, 0]


def test_unanswered_goes_to_another_hunt_group(sim, demo):
    _financien, members = phones(sim, demo, "Financiën", answers=False)
    burgerzaken, (karin, *_rest) = phones(sim, demo, "Burgerzaken", answers_after=1)
    call = sim.dial("0201234567", _financien.number)
    call.expect_answered_by(karin, within=60)
    assert all(rang(sim, phone) == 1 for phone in members)
    assert call.variable("schakel_hunt_group_id") == str(burgerzaken.id)


def test_unanswered_offers_voicemail_or_the_contact_centre(sim, demo):
    group, _members = phones(sim, demo, "Servicedesk ICT", answers=False)
    call = sim.dial("0201234567", group.number)
    call.expect_variable("schakel_target", "vm_or_queue", within=60)
    call.press("2")
    call.expect_parked(within=20)
    assert call.variable("schakel_target") == "queue"


def test_nobody_logged_in_goes_straight_to_the_fallback(sim, demo, store):
    group, members = phones(sim, demo, "Burgerzaken", answers_after=1)
    for name in group.member_names:
        service.set_hunt_membership(store, demo.user(name).id, group.id, False)
    call = sim.dial("0201234567", group.number)
    call.expect_parked(within=20)
    assert call.variable("schakel_target") == "queue"
    assert sum(rang(sim, phone) for phone in members) == 0


def test_the_member_who_answers_can_transfer_with_the_phone_keys(sim, demo):
    group, (karin, lars, *_rest) = phones(sim, demo, "Burgerzaken", answers=False)
    karin.answers_after(1)
    anna = sim.phone("anna", demo.user("anna").extension, answers_after=1)
    call = sim.dial("0201234567", group.number)
    leg = call.expect_answered_by(karin, within=40)
    karin_call = sim.track(leg, karin)

    karin_call.press(f"*1{demo.user('anna').extension}#")

    call.expect_answered_by(anna, within=40)
    assert karin_call.channel.wait_hangup(30)
    call.hangup()
    sim.wait_idle()
