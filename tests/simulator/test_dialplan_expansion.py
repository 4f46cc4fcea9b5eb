"""Variable expansion, capture substitution and time matching helpers."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from simulator.dialplan import (
    Match,
    SimpleCall,
    asterisk_to_regex,
    expand_globals,
    expand_variables,
    needs_expansion,
    number_matches,
    substitute,
    time_of_day_matches,
    weekday_matches,
)


def scope(**variables: str | list[str]) -> SimpleCall:
    calls: list[tuple[str, str]] = []

    def api(command: str, args: str) -> str | None:
        calls.append((command, args))
        if command == "upper":
            return args.upper()
        return None

    call = SimpleCall("3100", "0201234567", "public", variables=variables, api=api)
    call.api_calls = calls  # type: ignore[attr-defined]
    return call


def expand(text: str, **variables: str | list[str]) -> str:
    return expand_variables(text, scope(**variables))


def test_plain_variables_and_unknown_ones():
    assert expand("a=${a} b=${b}", a="1") == "a=1 b="


def test_caller_profile_fields_and_globals_are_variables_too():
    call = scope()
    call.globals["domain"] = "pbx.example"
    text = "${destination_number}@${domain} $${domain}"
    assert expand_variables(text, call) == "3100@pbx.example pbx.example"


def test_nested_names_and_recursive_values():
    assert expand("${${which}}", which="x", x="found") == "found"
    assert expand("${outer}", outer="<${inner}>", inner="deep") == "<deep>"


def test_substrings():
    assert expand("${n:2}", n="0612345678") == "12345678"
    assert expand("${n:-4}", n="0612345678") == "5678"
    assert expand("${n:0:2}", n="0612345678") == "06"
    assert expand("${n:20}", n="0612") == ""


def test_array_variables_and_index():
    assert expand("${a[1]}", a=["x", "y"]) == "y"
    assert expand("${a}", a=["x", "y"]) == "ARRAY::x|:y"
    assert expand("${a[5]}", a=["x"]) == ""


def test_api_calls_with_parentheses_or_space():
    call = scope(name="anna")
    assert expand_variables("${upper(${name})}!", call) == "ANNA!"
    assert expand_variables("${upper hello world}", call) == "HELLO WORLD"
    assert expand_variables("[${missing(x)}]", call) == "[]"
    assert call.api_calls == [
        ("upper", "anna"),
        ("upper", "hello world"),
        ("missing", "x"),
    ]


def test_escapes():
    assert expand("\\${a}", a="1") == "${a}"
    assert expand("cost \\$5 ${a}", a="1") == "cost $5 1"
    assert expand("a\\\\b ${a}", a="1") == "a\\b 1"
    assert expand("it\\'s ${a}", a="1") == "its 1"
    # Without anything to expand, backslashes are left alone.
    assert expand("^\\d+$") == "^\\d+$"
    assert not needs_expansion("^\\d+$")


def test_lone_dollars_stay():
    assert expand("$5 and $ and ${a}$", a="x") == "$5 and $ and x$"


@given(st.text(alphabet=st.characters(blacklist_characters="$\\")))
def test_text_without_references_is_unchanged(text):
    assert expand(text) == text


@given(
    st.text(alphabet=st.characters(blacklist_characters="$\\{}")),
    st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True),
    st.text(alphabet=st.characters(blacklist_characters="$\\")),
    st.text(alphabet=st.characters(blacklist_characters="$\\{}")),
)
def test_a_reference_is_replaced_by_its_value(prefix, name, value, suffix):
    variables = {name: value}
    assert (
        expand(f"{prefix}${{{name}}}{suffix}", **variables) == prefix + value + suffix
    )


def test_expand_globals():
    assert expand_globals("a=$${x} b=$${y} ${z}", {"x": "1"}) == "a=1 b= ${z}"


def match(pattern: str, subject: str) -> Match:
    found = re.search(pattern, subject)
    assert found
    return Match(found)


def test_substitute_forms():
    m = match(r"^(\d)(\d)(\d)$", "123")
    assert substitute("$3$2$1 ${1}0 $0 $", m) == "321 10 123 $"
    assert substitute("${x} $a ${1", m) == "${x} $a ${1"
    assert substitute("$12", m) == ""  # group 12 does not exist


@given(st.from_regex(r"[0-9]{1,9}", fullmatch=True))
def test_substitute_reverses_digits(digits):
    pattern = "^" + "(\\d)" * len(digits) + "$"
    m = match(pattern, digits)
    template = "".join(f"${{{n}}}" for n in range(len(digits), 0, -1))
    assert substitute(template, m) == digits[::-1]


def test_asterisk_patterns():
    assert asterisk_to_regex("NXXZ.") == "^[2-9][0-9][0-9][1-9].*$"


@given(st.integers(0, 23), st.integers(0, 23), st.integers(0, 23))
def test_number_ranges_wrap(low, high, value):
    inside = low <= value <= high if low <= high else (value >= low or value <= high)
    assert number_matches(f"{low}-{high}", value) is inside
    assert number_matches(f"99,{low}-{high}", value) is inside


@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7))
def test_weekday_names_equal_numbers(low, high, value):
    names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    by_name = weekday_matches(f"{names[low - 1]}-{names[high - 1]}", value)
    assert by_name == weekday_matches(f"{low}-{high}", value)
    assert weekday_matches(f"{low},{high}", value) is (value in (low, high))


def test_time_of_day_with_and_without_seconds():
    assert time_of_day_matches("08:00-17:00", 17 * 3600)
    assert not time_of_day_matches("08:00-17:00", 17 * 3600 + 1)
    assert time_of_day_matches("bad,08:00:30-08:00:40", 8 * 3600 + 35)
