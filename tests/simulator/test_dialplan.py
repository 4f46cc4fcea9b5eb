"""The XML dialplan engine: hunting as mod_dialplan_xml hunts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from simulator.dialplan import (
    DialplanError,
    Hunter,
    SimpleCall,
    hunt,
    parse_dialplan,
)

AMS = ZoneInfo("Europe/Amsterdam")
# A Wednesday, 10:30:15 in Amsterdam (winter time, UTC+1).
WEDNESDAY_MORNING = dt.datetime(2026, 12, 2, 10, 30, 15, tzinfo=AMS)


def plan(body: str, context: str = "default") -> str:
    return (
        '<document type="freeswitch/xml"><section name="dialplan">'
        f'<context name="{context}">{body}</context></section></document>'
    )


def run(body: str, number: str = "1000", caller: str = "0201234567", **kw):
    call = SimpleCall(number, caller, "default", **kw)
    result = hunt(parse_dialplan(plan(body)), call, tz=AMS)
    return result, call


def apps(result) -> list[tuple[str, str]]:
    return [(a.application, a.data) for a in result.actions]


def test_first_matching_extension_wins():
    result, _ = run(
        '<extension name="a"><condition field="destination_number" expression="^2"/>'
        "</extension>"
        '<extension name="b"><condition field="destination_number" expression="^1">'
        '<action application="answer"/></condition></extension>'
        '<extension name="c"><condition field="destination_number" expression="^1">'
        '<action application="hangup"/></condition></extension>'
    )
    assert result.extension == "b"
    assert apps(result) == [("answer", "")]
    assert [e.name for e in result.trace.extensions] == ["a", "b"]
    assert result.trace.matched_extensions() == ["b"]


def test_continue_true_accumulates_actions_into_the_first_extension():
    result, _ = run(
        '<extension name="tag" continue="true"><condition>'
        '<action application="set" data="tagged=yes"/></condition></extension>'
        '<extension name="real"><condition field="destination_number" '
        'expression="^1000$"><action application="park"/></condition></extension>'
        '<extension name="later"><condition><action application="hangup"/>'
        "</condition></extension>"
    )
    # The caller extension keeps the name of the first one that added an action.
    assert result.extension == "tag"
    assert apps(result) == [("set", "tagged=yes"), ("park", "")]


def test_no_match_is_no_route():
    result, _ = run(
        '<extension name="a"><condition field="destination_number" expression="^9">'
        '<action application="answer"/></condition></extension>'
    )
    assert result.extension is None
    assert not result.found
    assert result.actions == []
    assert result.trace.extensions[0].matched is False


def test_missing_context_falls_back_to_global_then_nothing():
    doc = (
        '<document type="freeswitch/xml"><section name="dialplan">'
        '<context name="global"><extension name="g"><condition>'
        '<action application="log" data="INFO global"/></condition></extension>'
        "</context></section></document>"
    )
    result = hunt(parse_dialplan(doc), SimpleCall("1", context="nowhere"))
    assert result.trace.context == "nowhere"
    assert result.trace.context_used == "global"
    assert apps(result) == [("log", "INFO global")]
    empty = parse_dialplan(plan("", context="other"))
    result = hunt(empty, SimpleCall("1", context="nowhere"))
    assert result.trace.context_used is None
    assert result.extension is None


def test_captures_substitute_dollar_numbers_and_set_dp_match():
    result, call = run(
        '<extension name="ext"><condition field="destination_number" '
        'expression="^(\\d{2})(\\d{2})$">'
        '<action application="bridge" data="user/$2$1@${domain} ${1}x $9"/>'
        "</condition></extension>",
        number="1234",
    )
    # ${domain} survives for the run-time expander; unknown $9 becomes "".
    assert apps(result) == [("bridge", "user/3412@${domain} 12x ")]
    assert call.variables["DP_MATCH"] == ["1234", "12", "34"]


def test_no_parenthesis_means_no_substitution_at_all():
    result, call = run(
        '<extension name="ext"><condition field="destination_number" '
        'expression="^1000$"><action application="log" data="$1 stays"/>'
        "</condition></extension>"
    )
    assert apps(result) == [("log", "$1 stays")]
    assert "DP_MATCH" not in call.variables


def test_unset_middle_group_is_left_out_of_dp_match():
    result, call = run(
        '<extension name="e"><condition field="destination_number" '
        'expression="^(0)?(x)?(1)(2)?"><action application="log" data="[$1|$2|$3]"/>'
        "</condition></extension>",
        number="1",
    )
    assert apps(result) == [("log", "[||1]")]
    assert call.variables["DP_MATCH"] == ["1", "1"]


def test_field_from_variable_expansion_and_expression_expansion():
    result, _ = run(
        '<extension name="e"><condition field="${sip_from_user}" '
        'expression="^${prefix}\\d+$"><action application="answer"/>'
        "</condition></extension>",
        variables={"sip_from_user": "0612345678", "prefix": "06"},
    )
    assert result.extension == "e"
    assert result.trace.extensions[0].conditions[0].value == "0612345678"
    assert result.trace.extensions[0].conditions[0].expression == "^06\\d+$"


def test_unknown_profile_field_is_empty_not_a_variable():
    result, _ = run(
        '<extension name="e"><condition field="some_variable" expression="^$">'
        '<action application="answer"/></condition></extension>',
        variables={"some_variable": "set"},
    )
    assert result.extension == "e"


def test_profile_field_names_are_case_insensitive():
    result, _ = run(
        '<extension name="e"><condition field="Caller_ID_Number" '
        'expression="^0201234567$"><action application="answer"/></condition>'
        "</extension>"
    )
    assert result.extension == "e"


def test_anti_actions_run_on_failure_and_make_the_extension_match():
    result, _ = run(
        '<extension name="e"><condition field="destination_number" expression="^9">'
        '<action application="answer"/><anti-action application="hangup" '
        'data="CALL_REJECTED"/></condition></extension>'
        '<extension name="never"><condition><action application="park"/>'
        "</condition></extension>"
    )
    assert result.extension == "e"
    assert apps(result) == [("hangup", "CALL_REJECTED")]
    condition = result.trace.extensions[0].conditions[0]
    assert condition.matched is False
    assert condition.proceed is True
    assert condition.actions[0].anti is True


def test_anti_action_data_is_not_substituted():
    result, _ = run(
        '<extension name="e"><condition field="destination_number" '
        'expression="^(9)"><anti-action application="log" data="$1"/></condition>'
        "</extension>"
    )
    assert apps(result) == [("log", "$1")]


@pytest.mark.parametrize(
    ("mode", "first_passes", "expected"),
    [
        # default on-false: a failing condition ends the extension
        (None, False, []),
        (None, True, [("log", "one"), ("log", "two")]),
        ("on-false", False, []),
        # on-true: a passing condition ends it; a failing one goes on
        ("on-true", True, [("log", "one")]),
        ("on-true", False, [("log", "two")]),
        # always: ends after the first condition either way
        ("always", True, [("log", "one")]),
        ("always", False, []),
        # never: the next condition is looked at either way
        ("never", True, [("log", "one"), ("log", "two")]),
        ("never", False, [("log", "two")]),
    ],
)
def test_break_modes(mode, first_passes, expected):
    expression = "^1000$" if first_passes else "^2000$"
    attribute = f' break="{mode}"' if mode else ""
    result, _ = run(
        f'<extension name="e"><condition field="destination_number" '
        f'expression="{expression}"{attribute}><action application="log" '
        'data="one"/></condition><condition field="caller_id_number" '
        'expression="^0"><action application="log" data="two"/></condition>'
        "</extension>"
    )
    assert apps(result) == expected


def test_break_never_failure_then_success_proceeds():
    result, _ = run(
        '<extension name="e"><condition field="destination_number" expression="^x" '
        'break="never"/><condition field="destination_number" expression="^1">'
        '<action application="answer"/></condition></extension>'
    )
    assert result.extension == "e"
    assert result.trace.extensions[0].matched is True


def test_last_condition_failing_with_break_never_means_no_match():
    result, _ = run(
        '<extension name="e"><condition field="destination_number" expression="^1">'
        '<action application="log" data="added"/></condition>'
        '<condition field="destination_number" expression="^x" break="never"/>'
        "</extension>"
        '<extension name="next"><condition><action application="park"/>'
        "</condition></extension>"
    )
    # The first condition's action stays although the extension did not
    # proceed, and hunting goes on to the next extension (as FreeSWITCH does).
    assert [e.matched for e in result.trace.extensions] == [False, True]
    assert apps(result) == [("log", "added"), ("park", "")]
    assert result.extension == "e"


def test_unknown_break_value_means_on_false():
    result, _ = run(
        '<extension name="e"><condition field="destination_number" expression="^x" '
        'break="sometimes"/><condition><action application="answer"/></condition>'
        "</extension>"
    )
    assert result.extension is None


def test_absolute_condition_and_expression_element():
    result, _ = run(
        '<extension name="e"><condition><action application="answer"/></condition>'
        "</extension>"
    )
    assert apps(result) == [("answer", "")]
    result, _ = run(
        '<extension name="e"><condition field="destination_number">'
        "<expression><![CDATA[^10(0)0$]]></expression>"
        '<action application="log" data="$1"/></condition></extension>'
    )
    assert apps(result) == [("log", "0")]


def test_action_data_from_element_text_and_loop():
    result, _ = run(
        '<extension name="e"><condition>'
        '<action application="log">INFO from text</action>'
        '<action application="playback" data="beep.wav" loop="3"/>'
        "</condition></extension>"
    )
    assert apps(result) == [("log", "INFO from text")] + [("playback", "beep.wav")] * 3


def test_inline_actions_run_during_the_hunt():
    result, call = run(
        '<extension name="first" continue="true"><condition>'
        '<action application="set" data="office=${open}" inline="true"/>'
        "</condition></extension>"
        '<extension name="open"><condition field="${office}" expression="^yes$">'
        '<action application="answer"/></condition></extension>',
        variables={"open": "yes"},
    )
    assert call.variables["office"] == "yes"
    assert call.inline == [("set", "office=yes")]
    # Inline actions are not part of the caller extension but name it.
    assert apps(result) == [("answer", "")]
    assert result.extension == "first"
    assert result.trace.extensions[0].conditions[0].actions[0].inline is True


def test_nested_conditions_evaluated_when_parent_proceeds():
    body = (
        '<extension name="e"><condition field="destination_number" '
        'expression="^1000$"><action application="log" data="outer"/>'
        '<condition field="caller_id_number" expression="^06">'
        '<action application="log" data="mobile"/></condition>'
        '<condition field="caller_id_number" expression="^02">'
        '<action application="log" data="landline"/></condition>'
        "</condition></extension>"
        '<extension name="fallback"><condition><action application="log" '
        'data="fallback"/></condition></extension>'
    )
    result, _ = run(body, caller="0201234567")
    # The first nested condition fails (break on-false), so the nested level
    # returns false and the extension does not proceed.
    assert apps(result) == [("log", "outer"), ("log", "fallback")]
    depths = [c.depth for c in result.trace.extensions[0].conditions]
    assert depths == [0, 1]
    result, _ = run(body, caller="0612345678")
    # A mobile caller: outer and mobile; then landline fails (break on-false)
    # and the nested level returns false again.
    assert apps(result)[:2] == [("log", "outer"), ("log", "mobile")]


def test_nested_require_nested_false():
    body = (
        '<extension name="e"><condition field="destination_number" '
        'expression="^1000$" require-nested="false">'
        '<action application="log" data="outer"/>'
        '<condition field="caller_id_number" expression="^06">'
        '<action application="log" data="mobile"/></condition>'
        "</condition></extension>"
        '<extension name="fallback"><condition><action application="log" '
        'data="fallback"/></condition></extension>'
    )
    result, _ = run(body, caller="0201234567")
    assert apps(result) == [("log", "outer")]
    assert result.trace.extensions[0].matched is True


def test_nested_extension_name_gets_recur_suffix():
    result, _ = run(
        '<extension name="e"><condition field="destination_number" '
        'expression="^1000$"><condition><action application="answer"/>'
        "</condition></condition></extension>"
    )
    assert result.extension == "e_recur_1"


@pytest.mark.parametrize(
    ("mode", "results", "matched"),
    [
        ("all", (True, True), True),
        ("all", (True, False), False),
        ("any", (False, True), True),
        ("any", (False, False), False),
        ("xor", (True, False), True),
        ("xor", (True, True), False),
        ("xor", (False, False), False),
    ],
)
def test_regex_all_any_xor(mode, results, matched):
    regexes = "".join(
        f'<regex field="destination_number" expression="{"^1" if ok else "^9"}"/>'
        for ok in results
    )
    result, _ = run(
        f'<extension name="e"><condition regex="{mode}">{regexes}'
        '<action application="answer"/><anti-action application="hangup"/>'
        "</condition></extension>"
    )
    assert apps(result) == ([("answer", "")] if matched else [("hangup", "")])


def test_regex_all_captures_come_from_the_last_regex_with_a_group():
    result, call = run(
        '<extension name="e"><condition regex="all">'
        '<regex field="caller_id_number" expression="^(02)(\\d+)$"/>'
        '<regex field="destination_number" expression="^(1)(0+)$"/>'
        '<regex field="destination_number" expression="^1000$"/>'
        '<action application="log" data="$1-$2"/></condition></extension>'
    )
    assert apps(result) == [("log", "1-000")]
    assert call.variables["DP_REGEX_MATCH_1"] == ["0201234567", "02", "01234567"]
    assert call.variables["DP_REGEX_MATCH_2"] == ["1000", "1", "000"]
    assert call.variables["DP_MATCH"] == ["1000", "1", "000"]


def test_regex_any_uses_the_passing_regex_unsaved():
    result, call = run(
        '<extension name="e"><condition regex="any">'
        '<regex field="destination_number" expression="^(1)(0+)$"/>'
        '<regex field="caller_id_number" expression="^(02)"/>'
        '<action application="log" data="$2"/></condition></extension>'
    )
    # "any" stops at the first pass before storing DP_REGEX_MATCH_1, but its
    # match still feeds $N and DP_MATCH.
    assert apps(result) == [("log", "000")]
    assert "DP_REGEX_MATCH_1" not in call.variables
    assert call.variables["DP_MATCH"] == ["1000", "1", "000"]


def test_regex_rule_clears_old_dp_regex_match_variables():
    _, call = run(
        '<extension name="e"><condition regex="all">'
        '<regex field="destination_number" expression="^1000$"/>'
        '<action application="answer"/></condition></extension>',
        variables={"DP_REGEX_MATCH_7": "old"},
    )
    assert "DP_REGEX_MATCH_7" not in call.variables


def test_slash_expression_flags_and_asterisk_patterns():
    result, _ = run(
        '<extension name="e"><condition field="caller_id_name" '
        'expression="/^anna$/i"><action application="answer"/></condition>'
        "</extension>",
        profile={"caller_id_name": "ANNA"},
    )
    assert result.extension == "e"
    result, _ = run(
        '<extension name="e"><condition field="destination_number" '
        'expression="_1XXX"><action application="answer"/></condition>'
        "</extension>"
    )
    assert result.extension == "e"
    result, _ = run(
        '<extension name="e"><condition field="destination_number" '
        'expression="_2XXX"><action application="answer"/></condition>'
        "</extension>"
    )
    assert result.extension is None


def test_bad_regex_fails_the_condition_and_is_traced():
    result, _ = run(
        '<extension name="e"><condition field="destination_number" '
        'expression="^(10"><action application="answer"/></condition></extension>'
    )
    assert result.extension is None
    assert result.trace.extensions[0].conditions[0].error


def test_pcre_named_groups_work():
    result, _ = run(
        '<extension name="e"><condition field="destination_number" '
        'expression="^(?&lt;first&gt;1)(0+)$"><action application="log" '
        'data="$1/$2"/></condition></extension>'
    )
    assert apps(result) == [("log", "1/000")]


def test_auto_hunt_starts_at_the_extension_named_like_the_number():
    body = (
        '<extension name="first"><condition><action application="log" data="1"/>'
        "</condition></extension>"
        '<extension name="1000"><condition><action application="log" data="2"/>'
        "</condition></extension>"
    )
    result, _ = run(body)
    assert apps(result) == [("log", "1")]
    result, _ = run(body, variables={"auto_hunt": "true"})
    assert apps(result) == [("log", "2")]


def test_trace_is_plain_data():
    result, _ = run(
        '<extension name="e"><condition field="destination_number" '
        'expression="^(1000)$"><action application="answer"/></condition>'
        "</extension>"
    )
    data = result.trace.to_dict()
    assert data["extensions"][0]["name"] == "e"
    assert data["extensions"][0]["continue"] is False
    condition = data["extensions"][0]["conditions"][0]
    assert condition["field"] == "destination_number"
    assert condition["value"] == "1000"
    assert condition["matched"] is True
    assert condition["actions"] == [
        {"application": "answer", "data": "", "anti": False, "inline": False}
    ]


def test_globals_are_expanded_when_the_document_is_parsed():
    doc = plan(
        '<extension name="e"><condition><action application="set" '
        'data="domain=$${domain} x=$${unknown}"/></condition></extension>'
    )
    result = hunt(parse_dialplan(doc, {"domain": "pbx.example"}), SimpleCall("1"))
    assert apps(result) == [("set", "domain=pbx.example x=")]


def test_documents_that_are_not_dialplans_are_rejected_clearly():
    with pytest.raises(DialplanError, match="does not parse"):
        parse_dialplan("<document><section")
    with pytest.raises(DialplanError, match="no <section"):
        parse_dialplan(
            '<document type="freeswitch/xml"><section name="directory"/></document>'
        )


# -- time of day --------------------------------------------------------------


def timed(attrs: str, at: dt.datetime = WEDNESDAY_MORNING, **variables: str):
    result, _ = run(
        f'<extension name="e"><condition {attrs}><action application="log" '
        'data="open"/><anti-action application="log" data="closed"/></condition>'
        "</extension>",
        at=at,
        variables=variables,
    )
    return apps(result)[0][1]


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ('wday="2-6"', "open"),  # Monday-Friday
        ('wday="mon-fri"', "open"),
        ('wday="thu,fri"', "closed"),
        ('wday="4"', "open"),  # Wednesday is day 4 (Sunday = 1)
        ('wday="sat-mon"', "closed"),  # wraps around the week end
        ('hour="9-16"', "open"),
        ('hour="18-8"', "closed"),  # reversed range = outside 9..17
        ('minute-of-day="540-1020"', "open"),  # 10:30 is minute 631
        ('minute-of-day="632-700"', "closed"),
        ('time-of-day="08:00-17:30"', "open"),
        ('time-of-day="10:30:16-11:00"', "closed"),
        ('time-of-day="22:00-06:00"', "closed"),
        ('mday="1-5"', "open"),
        ('mon="12"', "open"),
        ('year="2025,2027"', "closed"),
        ('yday="336"', "open"),  # 2 December is day 336
        ('week="48"', "open"),  # tm_yday / 7 + 1
        ('mweek="1"', "open"),  # first week of December 2026
        ('wday="2-6" hour="11-17"', "closed"),
        ('date-time="2026-12-01 00:00~2026-12-03 00:00"', "open"),
        ('date-time="2026-12-24 00:00~2026-12-27 00:00"', "closed"),
        ('tz-offset="1"', "open"),
        ('tz-offset="2"', "closed"),
    ],
)
def test_time_conditions(attrs, expected):
    assert timed(attrs) == expected


def test_time_in_channel_timezone_and_offset():
    # 10:30 in Amsterdam is 09:30 UTC and 04:30 in New York.
    assert timed('hour="9"', timezone="UTC") == "open"
    assert timed('hour="4"', timezone="America/New_York") == "open"
    assert timed('hour="4"', tod_tz_offset="-5") == "open"


def test_hunter_default_zone_is_used_without_channel_zone():
    doc = parse_dialplan(
        plan(
            '<extension name="e"><condition hour="9"><action application="answer"/>'
            "</condition></extension>"
        )
    )
    call = SimpleCall("1", at=WEDNESDAY_MORNING)
    assert Hunter("UTC").hunt(doc, call).found
    assert not Hunter(AMS).hunt(doc, call).found


def test_time_and_field_in_one_condition_quirk():
    # FreeSWITCH takes the actions when the time matches even though the
    # regex fails (the regex can only turn a failed time into a match), and
    # the condition then does not proceed.
    result, _ = run(
        '<extension name="e"><condition field="destination_number" '
        'expression="^9" hour="10"><action application="log" data="taken"/>'
        "</condition></extension>",
        at=WEDNESDAY_MORNING,
    )
    assert apps(result) == [("log", "taken")]
    assert result.trace.extensions[0].matched is False
