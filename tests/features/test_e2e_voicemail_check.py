"""*97: a user listens to their own voicemail from their desk phone."""


def test_star_97_opens_the_users_own_box(sim):
    karin = sim.phone("karin", "2311")
    call = karin.dial("*97")
    call.expect_event(
        "CHANNEL_EXECUTE",
        within=30,
        Application="voicemail",
        Application_Data="check default pbx.local 2311",
    )
    call.expect_answered(within=10)
    call.hangup()
    call.expect_hangup(within=10)
