import pytest

from orchestrator.domain.numbering import NumberKind, classify
from orchestrator.domain.traffic import (
    INTERNAL_ONLY,
    CallBarred,
    Rights,
    check_call,
    classify_dialled,
    dial_rules,
    effective_rights,
)
from orchestrator.store import models as m

NUMBERS = {
    "0317492301": NumberKind.LOCAL,
    "+31317492301": NumberKind.LOCAL,
    "0031317492301": NumberKind.LOCAL,
    "0201234567": NumberKind.NATIONAL,
    "0884567890": NumberKind.NATIONAL,
    "0612345678": NumberKind.MOBILE,
    "+31612345678": NumberKind.MOBILE,
    "08001234": NumberKind.FREEPHONE,
    "08001234567": NumberKind.FREEPHONE,
    "09001234567": NumberKind.PREMIUM,
    "090612345": NumberKind.PREMIUM,
    "09091234567": NumberKind.PREMIUM,
    "00442079460958": NumberKind.INTERNATIONAL,
    "+4915123456789": NumberKind.INTERNATIONAL,
    "112": NumberKind.EMERGENCY,
    "0123": NumberKind.UNKNOWN,
    "0317": NumberKind.UNKNOWN,
}


@pytest.mark.parametrize("dialled,kind", NUMBERS.items())
def test_dialplan_rules_classify_like_the_number_library(dialled, kind):
    assert classify_dialled(dialled) == kind
    assert classify(dialled, own_area="+31317") == kind


def test_rules_give_e164_for_the_trunk():
    rules = {r.kind: r for r in dial_rules()}
    assert rules[NumberKind.MOBILE].to_e164("0612345678") == "+31612345678"
    assert rules[NumberKind.LOCAL].to_e164("0031317492301") == "+31317492301"
    assert rules[NumberKind.INTERNATIONAL].to_e164("00442079460958") == "+442079460958"


def test_local_depends_on_own_area():
    assert classify_dialled("0201234567", own_area="+3120") == NumberKind.LOCAL
    assert classify_dialled("0317492301", own_area="+3120") == NumberKind.NATIONAL


def tc(**allow) -> m.TrafficClass:
    values = {
        f"allow_{k}": allow.get(k, False)
        for k in ("national", "mobile", "international", "premium", "special")
    }
    return m.TrafficClass(name=allow.pop("name", "t"), max_call_minutes=0, **values)


CLASSES = {
    "internal": None,
    "national": tc(name="national", national=True, special=True),
    "mobile": tc(name="mobile", national=True, mobile=True, special=True),
    "international": tc(
        name="international",
        national=True,
        mobile=True,
        international=True,
        special=True,
    ),
    "premium": tc(
        name="premium",
        national=True,
        mobile=True,
        international=True,
        premium=True,
        special=True,
    ),
}
# Which kinds each class reaches; emergency always.
REACHES = {
    "internal": {NumberKind.EMERGENCY, NumberKind.INTERNAL},
    "national": {
        NumberKind.EMERGENCY,
        NumberKind.INTERNAL,
        NumberKind.LOCAL,
        NumberKind.NATIONAL,
        NumberKind.FREEPHONE,
    },
}
REACHES["mobile"] = REACHES["national"] | {NumberKind.MOBILE}
REACHES["international"] = REACHES["mobile"] | {NumberKind.INTERNATIONAL}
REACHES["premium"] = REACHES["international"] | {NumberKind.PREMIUM}


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("dialled", ["2301", *NUMBERS])
def test_matrix(name, dialled):
    rights = effective_rights(CLASSES[name], None)
    kind = classify(dialled, own_area="+31317")
    if kind in REACHES[name]:
        assert check_call(rights, dialled, own_area="+31317") == kind
    else:
        with pytest.raises(CallBarred):
            check_call(rights, dialled, own_area="+31317")


def test_user_class_overrides_profile_and_default():
    user_tc, profile_tc, default_tc = CLASSES["premium"], CLASSES["national"], None
    assert effective_rights(user_tc, profile_tc).name == "premium"
    assert effective_rights(None, profile_tc, CLASSES["mobile"]).name == "national"
    assert effective_rights(None, None, CLASSES["mobile"]).name == "mobile"
    assert effective_rights(None, None, default_tc) == INTERNAL_ONLY


def test_rights_variable_lists_granted_rights_in_order():
    assert Rights.from_class(CLASSES["mobile"]).variable() == "national,mobile,special"
    assert INTERNAL_ONLY.variable() == ""


def test_barred_message_is_clear():
    with pytest.raises(CallBarred, match="'0900 1234567' is a premium number"):
        check_call(Rights.from_class(CLASSES["national"]), "0900 1234567")
