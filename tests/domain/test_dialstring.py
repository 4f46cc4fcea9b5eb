import pytest

from orchestrator.domain.dialstring import (
    DialStringError,
    Leg,
    check_one_number,
    fork_variables,
    hunt_dial_string,
    render,
    user_legs,
)
from orchestrator.domain.hunt import HuntStep, MemberLeg


def test_user_devices_only():
    legs = user_legs(["2301", "2301-app"], "pbx.local", 20)
    assert render([legs]) == (
        "[leg_timeout=20]user/2301@pbx.local,[leg_timeout=20]user/2301-app@pbx.local"
    )


def test_one_number_together_and_after():
    legs = user_legs(["2301"], "d", 20, one_number="together", mobile="+31612345678")
    assert legs[-1] == Leg(
        "sofia/gateway/trunk/+31612345678",
        {"leg_timeout": 20, "origination_caller_id_number": "${schakel_external_cli}"},
    )
    legs = user_legs(
        ["2301"],
        "d",
        20,
        one_number="after",
        delay=8,
        mobile="+31612345678",
        gateway="kpn",
    )
    assert legs[-1].render() == (
        "[leg_timeout=12,origination_caller_id_number=${schakel_external_cli},"
        "leg_delay_start=8]sofia/gateway/kpn/+31612345678"
    )
    assert len(user_legs(["2301"], "d", 20, one_number="after", mobile=None)) == 1


def test_the_mobile_leg_says_whose_it_is():
    (desk, mobile) = user_legs(
        ["2301"], "d", 20, one_number="together", mobile="+31612345678", owner="anna"
    )
    assert mobile.variables["schakel_user"] == "anna"
    assert mobile.variables["schakel_side"] == "in"
    assert mobile.variables["presence_id"] == "2301@d"
    assert "schakel_user" not in desk.variables


def test_hunt_dial_string_failover():
    a = MemberLeg(1, "2301", ("2301",))
    b = MemberLeg(2, "2302", ("2302", "2302-app"))
    text = hunt_dial_string([HuntStep((a,), 15), HuntStep((b,), 10)], "d")
    assert text == (
        "{originate_continue_on_timeout=true}"
        "[leg_timeout=15]user/2301@d|[leg_timeout=10]user/2302@d,"
        "[leg_timeout=10]user/2302-app@d"
    )
    assert hunt_dial_string([HuntStep((a, b), 30)], "d").startswith("[leg_")


def test_global_variables_and_unsafe_values():
    assert render([[Leg("user/1@d")]], {"ignore_early_media": "true"}) == (
        "{ignore_early_media=true}user/1@d"
    )
    for bad in ("a,b", "a}", "{a", "x]", "a|b"):
        with pytest.raises(DialStringError, match="cannot go into a dial string"):
            render([[Leg("user/1@d", {"x": bad})]])
    assert Leg("u", {"x": "<sip:${a}@d>;r=1"}).render() == "[x=<sip:${a}@d>;r=1]u"


def test_one_number_delay_must_be_inside_the_ring_time():
    check_one_number("after", 5, 20)
    check_one_number("together", 0, 20)
    with pytest.raises(DialStringError, match="between 1 and 19"):
        check_one_number("after", 20, 20)


def test_a_fork_with_a_mobile_ignores_early_media():
    """The mobile network's early media must not end the fork: the desk
    phones would stop ringing and the caller stay on the mobile's leg."""
    phones = user_legs(["2301", "2301-app"], "d", 20)
    assert fork_variables(phones) == {}
    with_mobile = user_legs(
        ["2301"], "d", 20, one_number="together", mobile="+31612345678"
    )
    assert fork_variables(with_mobile) == {"ignore_early_media": "true"}
    assert render([with_mobile], fork_variables(with_mobile)).startswith(
        "{ignore_early_media=true}[leg_timeout=20]user/2301@d,"
    )
    # A mobile alone (a user with no phones) is an ordinary outbound leg.
    alone = user_legs([], "d", 20, one_number="together", mobile="+31612345678")
    assert fork_variables(alone) == {}
