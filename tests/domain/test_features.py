from pathlib import Path

import pytest

from orchestrator.domain.features import (
    FEATURE_CODES,
    FeatureAction,
    parse,
    readme_table,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "dialled,action,arg",
    [
        ("*60", FeatureAction.HUNT_LOGIN, ""),
        ("*602500", FeatureAction.HUNT_LOGIN, "2500"),
        ("*612500", FeatureAction.HUNT_LOGOUT, "2500"),
        ("*78", FeatureAction.DND_ON, ""),
        ("*79", FeatureAction.DND_OFF, ""),
        ("*210612345678", FeatureAction.FORWARD_ON, "0612345678"),
        ("*212302", FeatureAction.FORWARD_ON, "2302"),
        ("*20", FeatureAction.FORWARD_OFF, ""),
        ("*8", FeatureAction.GROUP_PICKUP, ""),
        ("**2302", FeatureAction.DIRECTED_PICKUP, "2302"),
        ("*97", FeatureAction.VOICEMAIL, ""),
        ("*310201234567", FeatureAction.CALL_AS_MAIN, "0201234567"),
        ("*320201234567", FeatureAction.CALL_AS_MOBILE, "0201234567"),
    ],
)
def test_parse(dialled, action, arg):
    code, argument = parse(dialled)
    assert (code.action, argument) == (action, arg)


@pytest.mark.parametrize("dialled", ["*99", "2301", "*2", "*21", "*8x", ""])
def test_not_a_code(dialled):
    assert parse(dialled) is None


def test_no_dialled_code_shadows_another():
    for code in FEATURE_CODES:
        for other in FEATURE_CODES:
            if other is not code:
                sample = code.code.split("<")[0].split("[")[0]
                assert not other.match(sample) or other.action == code.action


def test_readme_lists_every_code():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme
    assert len(FEATURE_CODES) == readme_table().count("\n") - 1


def test_in_call_codes_are_keys_not_dialled_numbers():
    in_call = {fc.action: fc for fc in FEATURE_CODES if fc.in_call}
    assert in_call[FeatureAction.BLIND_TRANSFER].meta_key == "1"
    assert in_call[FeatureAction.ATTENDED_TRANSFER].meta_key == "2"
    assert in_call[FeatureAction.BLIND_TRANSFER].match("*12302")
    assert parse("*12302") is None and parse("*22302") is None
