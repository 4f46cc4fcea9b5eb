"""FreeSWITCH's XML dialplan (mod_dialplan_xml), hunted the way it hunts.

Given a ``<section name="dialplan">`` document and a call (a `HuntTarget`:
its caller profile fields, its channel variables, the clock), `hunt` walks
the context's extensions in order and returns the applications to run plus
a structured trace of why each extension matched or not.

The semantics follow mod_dialplan_xml 1.10 closely, quirks included:

- extensions are tried in order; the first one that "proceeds" ends the
  hunt unless it has ``continue="true"``; its actions accumulate in ONE
  caller extension named after the first extension that added an action;
- a condition tests ``field`` (a caller-profile field name such as
  ``destination_number``, or a string with ``${...}`` that is expanded)
  against ``expression`` (expanded first); no field and no time attributes
  is an "absolute" condition that always passes;
- ``break`` is ``on-false`` (default), ``on-true``, ``always`` or ``never``;
  a failed condition runs its anti-actions, and a condition that has
  anti-actions counts as proceeding even though it failed;
- ``regex="all|any|xor"`` tests the ``<regex>`` children instead;
- time attributes (``wday``, ``hour``, ``minute-of-day``, ``time-of-day``,
  ``date-time``, ``year``, ``mon``, ``mday``, ``yday``, ``week``, ``mweek``,
  ``minute``, ``tz-offset``, ``dst``) are checked in the channel's
  ``tod_tz_offset``/``timezone`` or the switch's local time;
- ``$1``..``$N`` in action data are replaced from the condition's match only
  when the expression contains ``(``; ``DP_MATCH`` (an array variable: the
  whole match, then each group) is set likewise;
- ``inline="true"`` actions run during the hunt (only applications that
  FreeSWITCH allows in routing); ``loop="N"`` adds an action N times;
- nested ``<condition>`` elements are evaluated when their parent proceeds.

Action data is NOT variable-expanded here: FreeSWITCH expands it when the
application runs. `expand_variables` implements that expansion
(``${var}``, ``${var:offset:length}``, ``${var[index]}``, ``${api(args)}``,
``${api args}``, ``$${global}``, backslash escapes) for the session.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import math
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from xml.etree import ElementTree

log = logging.getLogger(__name__)

# Recursion limits FreeSWITCH applies to variable expansion and nesting.
_MAX_EXPANSION_DEPTH = 100
_MAX_NESTING = 100

_BREAK_MODES = ("on-true", "on-false", "always", "never")

_TIME_ATTRIBUTES = (
    "date-time",
    "year",
    "yday",
    "mon",
    "mday",
    "week",
    "mweek",
    "wday",
    "hour",
    "minute",
    "minute-of-day",
    "time-of-day",
    "tz-offset",
    "dst",
)


class DialplanError(Exception):
    """A dialplan document that cannot be used at all (not XML, no section)."""


# --------------------------------------------------------------------------
# variable expansion
# --------------------------------------------------------------------------


class ExpansionScope(Protocol):
    """Where ``${...}`` gets its values."""

    def variable(self, name: str, index: int) -> str | None:
        """A channel variable, caller-profile field or global (index -1: all)."""

    def api(self, command: str, args: str) -> str | None:
        """Run an api command for ``${command(args)}``; None if it failed."""


def needs_expansion(text: str) -> bool:
    """Whether FreeSWITCH would run its expander on ``text`` at all.

    It does when the text holds ``${`` (a backslash may sit between) or an
    escape sequence ``\\\\``, ``\\n``, ``\\s``, ``\\t`` or ``\\'``; anything
    else is returned untouched, backslashes included.
    """
    dollar = False
    for char in text:
        if char == "$":
            dollar = True
        elif dollar:
            if char == "{":
                return True
            if char != "\\":
                dollar = False
    return bool(_ESCAPED.search(text))


_ESCAPED = re.compile(r"\\[\\nst']")


def expand_variables(text: str, scope: ExpansionScope, depth: int = 0) -> str:
    """Expand ``text`` as switch_channel_expand_variables does."""
    if depth > _MAX_EXPANSION_DEPTH or not text or not needs_expansion(text):
        return text
    out: list[str] = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        literal = False
        if char == "\\" and pos + 1 < length:
            following = text[pos + 1]
            if following == "$":
                # "\$" (and "\$$") yield a literal dollar.
                pos += 1
                if pos + 1 < length and text[pos + 1] == "$":
                    pos += 1
                literal = True
            elif following == "'":
                # "\'" vanishes entirely, quote included.
                pos += 2
                continue
            elif following == "\\":
                out.append("\\")
                pos += 2
                continue
        if literal or text[pos] != "$":
            out.append(text[pos])
            pos += 1
            continue
        start = pos
        if pos + 1 < length and text[pos + 1] == "$":
            pos += 1
        if pos + 1 >= length or text[pos + 1] != "{":
            # A lone '$' (or '$$' not followed by '{') is literal text.
            out.append(text[start : pos + 1])
            pos += 1
            continue
        body, pos = _braced(text, pos + 2)
        out.append(_expand_reference(body, scope, depth))
    return "".join(out)


def _braced(text: str, pos: int) -> tuple[str, int]:
    """The text up to the '}' matching an opened '{', and the index after it."""
    level = 1
    start = pos
    while pos < len(text):
        char = text[pos]
        if char == "{" and pos != start:
            level += 1
        elif char == "}":
            level -= 1
            if level == 0:
                return text[start:pos], pos + 1
        pos += 1
    return text[start:], pos


def _expand_reference(body: str, scope: ExpansionScope, depth: int) -> str:
    split = _api_split(body)
    if split is not None:
        command, args = split
        command = expand_variables(command, scope, depth + 1)
        args = expand_variables(args, scope, depth + 1)
        return scope.api(command, args) or ""
    name = expand_variables(body, scope, depth + 1)
    offset = length = 0
    if ":" in name:
        name, _, rest = name.partition(":")
        offset_text, _, length_text = rest.partition(":")
        offset, length = _atoi(offset_text), _atoi(length_text)
    index = -1
    bracket = name.find("[")
    if bracket >= 0 and "]" in name[bracket:]:
        index = _atoi(name[bracket + 1 :])
        name = name[:bracket]
    value = scope.variable(name, index)
    if value is None:
        return ""
    value = expand_variables(value, scope, depth + 1)
    return _substring(value, offset, length)


def _api_split(body: str) -> tuple[str, str] | None:
    """``cmd(args)`` or ``cmd args`` -> (cmd, args); a plain name -> None."""
    for index, char in enumerate(body):
        if char == " ":
            return body[:index].rstrip(" "), body[index + 1 :]
        if char == "(":
            return body[:index].rstrip(" "), _paren_args(body[index + 1 :])
    return None


def _paren_args(rest: str) -> str:
    level = 1
    for index, char in enumerate(rest):
        if char == "(":
            level += 1
        elif char == ")":
            level -= 1
            if level == 0:
                return rest[:index]
    return rest


def _substring(value: str, offset: int, length: int) -> str:
    if offset >= 0:
        value = value[offset:] if offset <= len(value) else ""
    elif -offset <= len(value):
        value = value[len(value) + offset :]
    if 0 < length < len(value):
        value = value[:length]
    return value


def _atoi(text: str) -> int:
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def expand_globals(text: str, globals_: Mapping[str, str]) -> str:
    """Replace ``$${name}`` as FreeSWITCH's XML preprocessor does (unknown: "")."""
    if "$${" not in text:
        return text
    out: list[str] = []
    pos = 0
    while True:
        found = text.find("$${", pos)
        if found < 0:
            out.append(text[pos:])
            return "".join(out)
        body, end = _braced(text, found + 3)
        if end > len(text) or not text[end - 1 : end] == "}":
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:found])
        out.append(globals_.get(body, ""))
        pos = end


# --------------------------------------------------------------------------
# regular expressions as switch_regex_perform sees them
# --------------------------------------------------------------------------


class Match:
    """A successful regex match, with PCRE's notion of the match count."""

    __slots__ = ("groups", "count")

    def __init__(self, match: re.Match[str]) -> None:
        groups = [match.group(0)]
        groups.extend(match.groups())
        self.groups: list[str | None] = groups
        # pcre2_match returns one more than the highest group that was set.
        highest = 0
        for number in range(len(groups) - 1, 0, -1):
            if groups[number] is not None:
                highest = number
                break
        self.count = highest + 1

    def group(self, number: int) -> str:
        if 0 <= number < len(self.groups):
            return self.groups[number] or ""
        return ""

    def captures(self) -> list[str]:
        """What switch_capture_regex stores: set groups below the count."""
        return [g for g in self.groups[: self.count] if g is not None]


def asterisk_to_regex(pattern: str) -> str:
    """switch_ast2regex: ``_NXXX.`` style patterns (after the '_')."""
    table = {"N": "[2-9]", "X": "[0-9]", "Z": "[1-9]", ".": ".*"}
    return "^" + "".join(table.get(char, char) for char in pattern) + "$"


_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> re.Pattern[str]:
    """Compile a dialplan expression; raises re.error when PCRE would fail."""
    flags = 0
    if expression.startswith("_"):
        converted = asterisk_to_regex(expression[1:])
        if converted != expression:
            expression = converted
    if expression.startswith("/"):
        body, slash, options = expression[1:].rpartition("/")
        if not slash:
            raise re.error("missing ending '/' delimiter")
        expression = body
        if "i" in options:
            flags |= re.IGNORECASE
        if "s" in options:
            flags |= re.DOTALL
    # PCRE's (?<name>...) is Python's (?P<name>...).
    expression = _NAMED_GROUP.sub("(?P<", expression)
    return re.compile(expression, flags)


def regex_perform(subject: str, expression: str) -> tuple[Match | None, str | None]:
    """Match like switch_regex_perform: (match or None, compile error or None)."""
    try:
        pattern = compile_expression(expression)
    except re.error as exc:
        log.warning("dialplan regex %r does not compile: %s", expression, exc)
        return None, str(exc)
    found = pattern.search(subject)
    return (Match(found) if found else None), None


def substitute(data: str, match: Match | None) -> str:
    """Replace ``$N`` and ``${N}`` from a match (switch_perform_substitution)."""
    if "$" not in data:
        return data
    out: list[str] = []
    pos = 0
    length = len(data)
    while pos < length:
        char = data[pos]
        if char != "$":
            out.append(char)
            pos += 1
            continue
        pos += 1
        brace = pos < length and data[pos] == "{"
        digits_at = pos + 1 if brace else pos
        end = digits_at
        while end < length and data[end].isdigit() and end - digits_at < 9:
            end += 1
        if end == digits_at or (brace and (end >= length or data[end] != "}")):
            # Not a capture reference: the '$' stays and scanning resumes
            # right after it (so "${var}" survives for the expander).
            out.append("$")
            continue
        number = int(data[digits_at:end])
        pos = end + 1 if brace else end
        if match is not None:
            out.append(match.group(number))
    return "".join(out)


# --------------------------------------------------------------------------
# time conditions (switch_xml_std_datetime_check)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalTime:
    """The moment a condition is checked against, as broken-down local time."""

    moment: dt.datetime  # aware, in the zone the condition is checked in
    utc_offset_hours: int
    is_dst: bool

    @property
    def epoch(self) -> float:
        return self.moment.timestamp()


def number_matches(expression: str, value: int) -> bool:
    """switch_number_cmp: "1,3-5,22-6" (a reversed range wraps around)."""
    for item in expression.split(","):
        low_text, dash, high_text = item.partition("-")
        low = _atoi(low_text)
        if not dash:
            if low == value:
                return True
            continue
        high = _atoi(high_text)
        if (low <= value <= high) if low <= high else (value >= low or value <= high):
            return True
    return False


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def weekday_matches(expression: str, value: int) -> bool:
    """switch_dow_cmp: days 1-7 (1 = Sunday) or sun..sat, lists and ranges."""
    tokens = _weekday_tokens(expression)
    previous: int | None = None
    range_start: int | None = None
    for token in tokens:
        if token == ",":
            previous = None
            continue
        if token == "-":
            range_start = previous
            continue
        day = int(token)
        if range_start is not None:
            wraps = range_start > day
            inside = (
                (value >= range_start or value <= day)
                if wraps
                else range_start <= value <= day
            )
            if inside:
                return True
            range_start = None
        elif value == day:
            return True
        previous = day
    return False


def _weekday_tokens(expression: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(expression):
        char = expression[pos]
        if char in "-,":
            tokens.append(char)
            pos += 1
        elif "1" <= char <= "7":
            tokens.append(char)
            pos += 1
        elif expression[pos : pos + 3].lower() in _DAYS:
            tokens.append(str(_DAYS.index(expression[pos : pos + 3].lower()) + 1))
            pos += 3
        else:
            log.warning("dialplan wday %r: parse error at %d", expression, pos)
            break
    return tokens


def time_of_day_matches(expression: str, seconds: int) -> bool:
    """switch_tod_cmp: "08:00-17:30", "22:00:00-06:00:00", comma lists."""
    for item in expression.split(","):
        start, dash, end = item.partition("-")
        if not dash or ":" not in start or ":" not in end:
            continue
        low, high = _clock_seconds(start), _clock_seconds(end)
        if (
            (low <= seconds <= high)
            if low <= high
            else (seconds >= low or seconds <= high)
        ):
            return True
    return False


def _clock_seconds(text: str) -> int:
    parts = (text.split(":") + ["0", "0"])[:3]
    hours, minutes, seconds = (_atoi(part) for part in parts)
    return hours * 3600 + minutes * 60 + seconds


def date_time_matches(expression: str, when: LocalTime) -> bool:
    """switch_fulldate_cmp: "2026-12-24 12:00~2026-12-27 00:00", comma lists."""
    for item in expression.split(","):
        start, tilde, end = item.partition("~")
        if not tilde:
            continue
        low, high = _local_epoch(start, when), _local_epoch(end, when)
        if low is None or high is None:
            log.warning("dialplan date-time range %r does not parse", item)
            return False
        if low <= when.epoch < high:
            return True
    return False


def _local_epoch(text: str, when: LocalTime) -> float | None:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            naive = dt.datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=when.moment.tzinfo).timestamp()
    return None


def check_time(attrs: Mapping[str, str], when: LocalTime) -> int:
    """-1: no time attributes; 1: all given ones match; 0: one does not."""
    result = -1
    moment = when.moment
    tz_offset = attrs.get("tz-offset")
    if tz_offset is not None:
        # A tz-offset that is not a number compares the zone with itself.
        wanted = when.utc_offset_hours
        if re.fullmatch(r"[+-]?\d+", tz_offset.strip()):
            wanted = _atoi(tz_offset)
        result = int(wanted == when.utc_offset_hours)
    dst = attrs.get("dst")
    if result and dst:
        result = int(when.is_dst and _is_true(dst))
    checks: list[tuple[str, Callable[[str], bool]]] = [
        ("date-time", lambda exp: date_time_matches(exp, when)),
        ("year", lambda exp: number_matches(exp, moment.year)),
        ("yday", lambda exp: number_matches(exp, _yday(moment) + 1)),
        ("mon", lambda exp: number_matches(exp, moment.month)),
        ("mday", lambda exp: number_matches(exp, moment.day)),
        ("week", lambda exp: number_matches(exp, _yday(moment) // 7 + 1)),
        ("mweek", lambda exp: number_matches(exp, _week_of_month(moment))),
        ("wday", lambda exp: weekday_matches(exp, _wday(moment) + 1)),
        ("hour", lambda exp: number_matches(exp, moment.hour)),
        ("minute", lambda exp: number_matches(exp, moment.minute)),
        (
            "minute-of-day",
            lambda exp: number_matches(exp, moment.hour * 60 + moment.minute + 1),
        ),
        (
            "time-of-day",
            lambda exp: time_of_day_matches(
                exp, moment.hour * 3600 + moment.minute * 60 + moment.second
            ),
        ),
    ]
    for name, check in checks:
        expression = attrs.get(name)
        if result and expression is not None:
            result = int(check(expression))
    return result


def _yday(moment: dt.datetime) -> int:
    return moment.timetuple().tm_yday - 1


def _wday(moment: dt.datetime) -> int:
    return (moment.weekday() + 1) % 7  # 0 = Sunday, as struct tm


def _week_of_month(moment: dt.datetime) -> int:
    first_weekday = (7 - (moment.day - (_wday(moment) + 1)) % 7) % 7
    return math.ceil((moment.day + first_weekday) / 7.0)


def local_time(epoch: float, tz: dt.tzinfo) -> LocalTime:
    moment = dt.datetime.fromtimestamp(epoch, tz)
    offset = moment.utcoffset() or dt.timedelta()
    dst = moment.dst()
    return LocalTime(moment, int(offset.total_seconds() // 3600), bool(dst))


def _is_true(value: str | None) -> bool:
    """switch_true: yes/on/true/t/enabled/active/allow or a non-zero number."""
    if not value:
        return False
    lowered = value.strip().lower()
    if lowered in ("yes", "on", "true", "t", "enabled", "active", "allow"):
        return True
    return bool(re.fullmatch(r"[+-]?\d+", lowered)) and int(lowered) != 0


is_true = _is_true


# --------------------------------------------------------------------------
# the parsed document
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    application: str
    data: str
    inline: bool = False
    loop: int = 1


@dataclass(frozen=True)
class RegexSpec:
    field: str | None
    expression: str
    time: Mapping[str, str]


@dataclass(frozen=True)
class ConditionSpec:
    field: str | None
    expression: str
    break_mode: str  # one of _BREAK_MODES
    break_given: str | None  # as written, for the trace
    regex_mode: str | None  # "all", "any", "xor" or None
    regexes: tuple[RegexSpec, ...]
    time: Mapping[str, str]
    actions: tuple[ActionSpec, ...]
    anti_actions: tuple[ActionSpec, ...]
    children: tuple[ConditionSpec, ...]
    require_nested: bool


@dataclass(frozen=True)
class ExtensionSpec:
    name: str | None
    continue_: bool
    conditions: tuple[ConditionSpec, ...]


@dataclass(frozen=True)
class Context:
    name: str
    extensions: tuple[ExtensionSpec, ...]


class Dialplan:
    """The contexts of one dialplan document, parsed once."""

    def __init__(self, contexts: Iterable[Context]) -> None:
        self.contexts: dict[str, Context] = {}
        for context in contexts:
            # switch_xml_find_child returns the first of a name.
            self.contexts.setdefault(context.name, context)

    def context(self, name: str) -> Context | None:
        """The named context, else "global" (as mod_dialplan_xml falls back)."""
        return self.contexts.get(name) or self.contexts.get("global")


def parse_dialplan(
    xml_text: str | bytes, globals_: Mapping[str, str] | None = None
) -> Dialplan:
    """Parse a document holding ``<section name="dialplan">``."""
    root = _parse_xml(xml_text, globals_)
    section = _find_section(root, "dialplan")
    if section is None:
        raise DialplanError('the document has no <section name="dialplan">')
    return Dialplan(_parse_context(node) for node in section.findall("context"))


@functools.lru_cache(maxsize=256)
def _parse_cached(digest: str, text: str) -> Dialplan:
    return parse_dialplan(text)


def parse_dialplan_cached(xml_text: str) -> Dialplan:
    """Like `parse_dialplan` (no globals) with a cache keyed by the text."""
    digest = hashlib.blake2b(xml_text.encode(), digest_size=16).hexdigest()
    return _parse_cached(digest, xml_text)


def _parse_xml(
    xml_text: str | bytes, globals_: Mapping[str, str] | None
) -> ElementTree.Element:
    if isinstance(xml_text, bytes):
        xml_text = xml_text.decode("utf-8", errors="replace")
    if globals_ is not None:
        xml_text = expand_globals(xml_text, globals_)
    try:
        return ElementTree.fromstring(xml_text.lstrip())
    except ElementTree.ParseError as exc:
        raise DialplanError(f"dialplan XML does not parse: {exc}") from exc


def _find_section(root: ElementTree.Element, name: str) -> ElementTree.Element | None:
    if root.tag == "section" and root.get("name") == name:
        return root
    for section in root.iter("section"):
        if section.get("name") == name:
            return section
    return None


def _parse_context(node: ElementTree.Element) -> Context:
    extensions = tuple(_parse_extension(child) for child in node.findall("extension"))
    return Context(node.get("name", ""), extensions)


def _parse_extension(node: ElementTree.Element) -> ExtensionSpec:
    conditions = tuple(_parse_condition(child) for child in node.findall("condition"))
    return ExtensionSpec(node.get("name"), _is_true(node.get("continue")), conditions)


def _parse_condition(node: ElementTree.Element) -> ConditionSpec:
    given = node.get("break")
    mode = given.lower() if given and given.lower() in _BREAK_MODES else None
    regex_rule = node.get("regex")
    require = node.get("require-nested")
    return ConditionSpec(
        field=node.get("field"),
        expression=_expression_of(node),
        break_mode=mode or "on-false",
        break_given=mode,
        regex_mode=regex_rule.lower() if regex_rule is not None else None,
        regexes=tuple(_parse_regex(child) for child in node.findall("regex")),
        time=_time_attrs(node),
        actions=tuple(_parse_action(child) for child in node.findall("action")),
        anti_actions=tuple(
            _parse_action(child) for child in node.findall("anti-action")
        ),
        children=tuple(_parse_condition(child) for child in node.findall("condition")),
        require_nested=_is_true(require) if require is not None else True,
    )


def _expression_of(node: ElementTree.Element) -> str:
    child = node.find("expression")
    if child is not None:
        return child.text or ""
    return node.get("expression", "")


def _parse_regex(node: ElementTree.Element) -> RegexSpec:
    return RegexSpec(node.get("field"), _expression_of(node), _time_attrs(node))


def _time_attrs(node: ElementTree.Element) -> dict[str, str]:
    return {
        name: node.get(name, "") for name in _TIME_ATTRIBUTES if name in node.attrib
    }


def _parse_action(node: ElementTree.Element) -> ActionSpec:
    text = (node.text or "") if node.text and node.text.strip() else ""
    data = text or node.get("data", "")
    loop_attr = node.get("loop")
    loop = _atoi(loop_attr) if loop_attr is not None else 1
    return ActionSpec(
        node.get("application", ""), data, _is_true(node.get("inline")), loop
    )


# --------------------------------------------------------------------------
# the call being hunted
# --------------------------------------------------------------------------


class HuntTarget(Protocol):
    """What the hunter needs of the call: fields, variables, inline execution."""

    def profile_field(self, name: str) -> str | None:
        """switch_caller_get_field_by_name of the caller profile being hunted."""

    def expand(self, text: str) -> str:
        """Expand ``${...}`` in the channel's scope."""

    def get_variable(self, name: str) -> str | None: ...

    def set_variable(self, name: str, value: str | None) -> None:
        """Set (None: unset) a channel variable."""

    def push_variable(self, name: str, value: str) -> None:
        """Append to an array variable (creating it)."""

    def unset_prefix(self, prefix: str) -> None:
        """Unset every variable whose name starts with ``prefix``."""

    def execute_inline(self, application: str, data: str) -> None:
        """Run an ``inline="true"`` action now (during the hunt)."""

    def now(self) -> float:
        """Epoch seconds (the switch's clock)."""


# Field names switch_caller_get_field_by_name knows, lower case.
PROFILE_FIELDS = frozenset(
    (
        "dialplan username caller_id_name caller_id_number orig_caller_id_name "
        "orig_caller_id_number callee_id_name callee_id_number ani aniii "
        "network_addr rdnis destination_number uuid source transfer_source "
        "context chan_name profile_index caller_ton caller_numplan "
        "destination_number_ton destination_number_numplan ani_ton ani_numplan "
        "rdnis_ton rdnis_numplan screen_bit privacy_hide_name privacy_hide_number "
        "profile_created_time created_time answered_time progress_time "
        "progress_media_time hungup_time transferred_time"
    ).split()
)


class SimpleCall:
    """A `HuntTarget` made of plain dicts, for tests and ``schakel trace``.

    Inline ``set``/``unset``/``export``/``multiset``/``multiunset`` change
    the variables; other inline applications are only recorded.
    """

    def __init__(
        self,
        destination_number: str,
        caller_id_number: str = "",
        context: str = "default",
        *,
        variables: Mapping[str, str] | None = None,
        profile: Mapping[str, str] | None = None,
        globals_: Mapping[str, str] | None = None,
        at: float | dt.datetime | None = None,
        api: Callable[[str, str], str | None] | None = None,
    ) -> None:
        fields = {
            "destination_number": destination_number,
            "caller_id_number": caller_id_number,
            "caller_id_name": caller_id_number,
            "ani": caller_id_number,
            "username": caller_id_number,
            "context": context,
            "dialplan": "XML",
            "network_addr": "",
            "source": "mod_sofia",
            "profile_index": "1",
        }
        fields.update({key.lower(): value for key, value in (profile or {}).items()})
        self.fields = fields
        self.variables: dict[str, str | list[str]] = dict(variables or {})
        self.globals = dict(globals_ or {})
        self.inline: list[tuple[str, str]] = []
        self._api = api
        if isinstance(at, dt.datetime):
            at = at.timestamp()
        self._now = at

    # ExpansionScope
    def variable(self, name: str, index: int) -> str | None:
        value = self.variables.get(name)
        if value is not None:
            return _indexed(value, index)
        if name.lower() in PROFILE_FIELDS and name.lower() in self.fields:
            return self.fields[name.lower()]
        return self.globals.get(name)

    def api(self, command: str, args: str) -> str | None:
        return self._api(command, args) if self._api else None

    # HuntTarget
    def profile_field(self, name: str) -> str | None:
        return self.fields.get(name.lower())

    def expand(self, text: str) -> str:
        return expand_variables(text, self)

    def get_variable(self, name: str) -> str | None:
        value = self.variables.get(name)
        return None if value is None else _indexed(value, -1)

    def set_variable(self, name: str, value: str | None) -> None:
        if value is None:
            self.variables.pop(name, None)
        else:
            self.variables[name] = value

    def push_variable(self, name: str, value: str) -> None:
        current = self.variables.get(name)
        if current is None:
            self.variables[name] = [value]
        elif isinstance(current, list):
            current.append(value)
        else:
            self.variables[name] = [current, value]

    def unset_prefix(self, prefix: str) -> None:
        for name in [name for name in self.variables if name.startswith(prefix)]:
            del self.variables[name]

    def execute_inline(self, application: str, data: str) -> None:
        data = self.expand(data)
        self.inline.append((application, data))
        if application in ("set", "export"):
            name, _, value = data.partition("=")
            self.set_variable(name, value if value and value != "_undef_" else None)
        elif application == "unset":
            self.set_variable(data, None)
        elif application in ("multiset", "multiunset"):
            for item in data.split():
                name, _, value = item.partition("=")
                keep = application == "multiset" and value
                self.set_variable(name, value if keep else None)

    def now(self) -> float:
        if self._now is None:
            return dt.datetime.now(dt.UTC).timestamp()
        return self._now


def _indexed(value: str | list[str], index: int) -> str | None:
    if isinstance(value, list):
        if index < 0:
            return value[0] if len(value) == 1 else "ARRAY::" + "|:".join(value)
        return value[index] if index < len(value) else None
    return value


# --------------------------------------------------------------------------
# the trace
# --------------------------------------------------------------------------


@dataclass
class ActionTrace:
    """An action or anti-action the hunt added (or ran inline)."""

    application: str
    data: str  # after $N substitution, before variable expansion
    anti: bool = False
    inline: bool = False


@dataclass
class RegexTrace:
    """One ``<regex>`` child of a ``regex="all|any|xor"`` condition."""

    field: str | None
    value: str | None
    expression: str
    time: int  # -1: no time attributes, 1: matched, 0: did not
    matched: bool
    error: str | None = None


@dataclass
class ConditionTrace:
    """One condition as evaluated: what was tested and what it led to."""

    depth: int  # 0 for a condition of the extension, 1+ when nested
    field: str | None
    value: str | None  # the field's value as tested
    expression: str | None  # after variable expansion
    time: int  # -1: no time attributes, 1: matched, 0: did not
    regex_mode: str | None
    regexes: list[RegexTrace]
    matched: bool  # the actions (not the anti-actions) were taken
    proceed: bool
    break_mode: str
    broke: bool  # this condition stopped the extension's conditions
    actions: list[ActionTrace]
    error: str | None = None


@dataclass
class ExtensionTrace:
    name: str
    continue_: bool
    matched: bool  # the extension "proceeded"
    conditions: list[ConditionTrace] = field(default_factory=list)


@dataclass
class HuntTrace:
    """The whole hunt: the context used and every extension looked at."""

    context: str  # the context asked for
    context_used: str | None  # None: neither it nor "global" exists
    destination_number: str
    caller_id_number: str
    extensions: list[ExtensionTrace] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dicts, lists and scalars (``continue`` without '_')."""
        data = asdict(self)
        for extension in data["extensions"]:
            extension["continue"] = extension.pop("continue_")
        return data

    def matched_extensions(self) -> list[str]:
        return [ext.name for ext in self.extensions if ext.matched]


@dataclass
class Action:
    """One application the caller extension will run."""

    application: str
    data: str


@dataclass
class HuntResult:
    """The caller extension (None if no route) and the trace."""

    extension: str | None
    actions: list[Action]
    trace: HuntTrace

    @property
    def found(self) -> bool:
        return self.extension is not None


# --------------------------------------------------------------------------
# hunting
# --------------------------------------------------------------------------


class _Extension:
    """The caller extension being built (switch_caller_extension_t)."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.actions: list[Action] = []

    def add(self, name: str, application: str, data: str) -> None:
        if self.name is None:
            self.name = name
        self.actions.append(Action(application, data))


class Hunter:
    """Hunts calls through dialplans (one instance serves every call)."""

    def __init__(self, tz: dt.tzinfo | str | None = None) -> None:
        if isinstance(tz, str):
            tz = zoneinfo.ZoneInfo(tz)
        self.tz = tz

    def hunt(
        self, dialplan: Dialplan, call: HuntTarget, context: str | None = None
    ) -> HuntResult:
        """Hunt ``call`` in ``context`` (default: the profile's context)."""
        name = context or call.profile_field("context") or "default"
        trace = HuntTrace(
            context=name,
            context_used=None,
            destination_number=call.profile_field("destination_number") or "",
            caller_id_number=call.profile_field("caller_id_number") or "",
        )
        built = _Extension()
        found = dialplan.context(name)
        if found is None:
            log.warning("dialplan context %s not found", name)
            return HuntResult(None, [], trace)
        trace.context_used = found.name
        for extension in self._extensions_from(found, call):
            ext_name = extension.name or "UNKNOWN"
            ext_trace = ExtensionTrace(ext_name, extension.continue_, False)
            trace.extensions.append(ext_trace)
            proceed = self._parse_extension(
                call,
                extension.conditions,
                built,
                ext_name,
                0,
                True,
                ext_trace.conditions,
            )
            ext_trace.matched = bool(proceed)
            if proceed and not extension.continue_:
                break
        return HuntResult(built.name, built.actions, trace)

    def _extensions_from(
        self, context: Context, call: HuntTarget
    ) -> tuple[ExtensionSpec, ...]:
        # auto_hunt=true starts at the extension named like the number.
        if _is_true(call.get_variable("auto_hunt")):
            number = call.profile_field("destination_number") or ""
            for index, extension in enumerate(context.extensions):
                if extension.name == number:
                    return context.extensions[index:]
        return context.extensions

    def _when(self, call: HuntTarget) -> LocalTime:
        offset = call.get_variable("tod_tz_offset")
        zone_name = call.get_variable("timezone")
        now = call.now()
        if offset and re.fullmatch(r"[+-]?\d+", offset.strip()):
            zone: dt.tzinfo = dt.timezone(dt.timedelta(hours=int(offset)))
            return local_time(now, zone)
        if zone_name:
            try:
                return local_time(now, zoneinfo.ZoneInfo(zone_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                log.warning("dialplan timezone %r unknown, using local time", zone_name)
        if self.tz is None:
            return local_time(now, dt.datetime.now().astimezone().tzinfo or dt.UTC)
        return local_time(now, self.tz)

    def _parse_extension(
        self,
        call: HuntTarget,
        conditions: tuple[ConditionSpec, ...],
        built: _Extension,
        name: str,
        depth: int,
        require_nested: bool,
        traces: list[ConditionTrace],
    ) -> int:
        """parse_exten: the extension's (or a condition's) conditions in order."""
        if depth > _MAX_NESTING:
            log.error("dialplan nesting limit reached in %s", name)
            return 0
        exten_name = f"{name}_recur_{depth}" if depth else name
        proceed = 0
        for condition in conditions:
            outcome = self._evaluate(call, condition, depth)
            proceed = outcome.proceed
            ctrace = outcome.trace
            traces.append(ctrace)
            self._add_actions(call, condition, outcome, built, exten_name, ctrace)
            if outcome.anti_action:
                if condition.anti_actions:
                    proceed = 1
            mode = condition.break_mode
            if (
                (not outcome.anti_action and mode == "on-true")
                or (outcome.anti_action and mode == "on-false")
                or mode == "always"
            ):
                ctrace.broke = True
                ctrace.proceed = bool(proceed)
                break
            ctrace.proceed = bool(proceed)
            if proceed and condition.children:
                proceed = self._parse_extension(
                    call,
                    condition.children,
                    built,
                    name,
                    depth + 1,
                    condition.require_nested,
                    traces,
                )
                if not proceed:
                    if mode == "never":
                        continue
                    break
        if not require_nested:
            proceed = 1
        return proceed

    def _add_actions(
        self,
        call: HuntTarget,
        condition: ConditionSpec,
        outcome: _Outcome,
        built: _Extension,
        exten_name: str,
        ctrace: ConditionTrace,
    ) -> None:
        if outcome.anti_action:
            for spec in condition.anti_actions:
                for _ in range(spec.loop):
                    self._add(call, built, exten_name, spec, spec.data, True, ctrace)
            return
        captures = outcome.captures
        if captures:
            call.set_variable("DP_MATCH", None)
            for value in outcome.match.captures() if outcome.match else []:
                call.push_variable("DP_MATCH", value)
        for spec in condition.actions:
            data = substitute(spec.data, outcome.match) if captures else spec.data
            for _ in range(spec.loop):
                self._add(call, built, exten_name, spec, data, False, ctrace)

    def _add(
        self,
        call: HuntTarget,
        built: _Extension,
        exten_name: str,
        spec: ActionSpec,
        data: str,
        anti: bool,
        ctrace: ConditionTrace,
    ) -> None:
        ctrace.actions.append(ActionTrace(spec.application, data, anti, spec.inline))
        # FreeSWITCH creates the caller extension on the first action seen,
        # even one that runs inline.
        if built.name is None:
            built.name = exten_name
        if spec.inline:
            call.execute_inline(spec.application, data)
        else:
            built.add(exten_name, spec.application, data)

    def _evaluate(
        self, call: HuntTarget, condition: ConditionSpec, depth: int
    ) -> _Outcome:
        time_match = (
            check_time(condition.time, self._when(call)) if condition.time else -1
        )
        state = _Outcome(anti_action=True, proceed=0)
        if time_match == 1:
            state.anti_action = False
            state.proceed = 1
        elif time_match == 0:
            state.proceed = 0
        trace = ConditionTrace(
            depth=depth,
            field=condition.field,
            value=None,
            expression=None,
            time=time_match,
            regex_mode=condition.regex_mode,
            regexes=[],
            matched=False,
            proceed=False,
            break_mode=condition.break_mode,
            broke=False,
            actions=[],
        )
        state.trace = trace
        if condition.regex_mode is not None:
            self._evaluate_regex_list(call, condition, state)
        else:
            self._evaluate_field(call, condition, time_match, state)
        trace.matched = not state.anti_action
        return state

    def _field_value(self, call: HuntTarget, field_name: str) -> str:
        if "$" in field_name:
            return call.expand(field_name)
        return call.profile_field(field_name) or ""

    def _evaluate_field(
        self,
        call: HuntTarget,
        condition: ConditionSpec,
        time_match: int,
        state: _Outcome,
    ) -> None:
        expression = call.expand(condition.expression)
        trace = state.trace
        trace.expression = expression
        if condition.field is not None:
            value = self._field_value(call, condition.field)
            trace.value = value
            match, error = regex_perform(value, expression)
            trace.error = error
            state.proceed = match.count if match else 0
            if match:
                state.anti_action = False
            state.match = match
            state.captures = "(" in expression
        elif time_match == -1:
            # Neither a field nor a time: an "absolute" condition.
            state.anti_action = False
            state.proceed = 1

    def _evaluate_regex_list(
        self, call: HuntTarget, condition: ConditionSpec, state: _Outcome
    ) -> None:
        """regex="all|any|xor": the <regex> children, quirks and all."""
        mode = condition.regex_mode
        all_ = mode == "all"
        xor = mode == "xor"
        passed = failed = total = 0
        call.unset_prefix("DP_REGEX_MATCH")
        saved: tuple[Match | None, int, str] | None = None
        field_name: str | None = None
        expression: str | None = None
        match: Match | None = None
        expanded = False
        for regex in condition.regexes:
            regex_time = check_time(regex.time, self._when(call)) if regex.time else -1
            raw = regex.expression
            expression = call.expand(raw)
            expanded = needs_expansion(raw)
            total += 1
            field_name = regex.field
            rtrace = RegexTrace(field_name, None, expression, regex_time, False)
            state.trace.regexes.append(rtrace)
            match = None
            if field_name is not None:
                value = self._field_value(call, field_name)
                rtrace.value = value
                match, rtrace.error = regex_perform(value, expression)
                state.proceed = match.count if match else 0
                rtrace.matched = match is not None
                if match:
                    passed += 1
                    if not all_ and not xor:
                        break
                else:
                    failed += 1
                    if all_ and not xor:
                        break
            elif regex_time in (-1, 1):
                passed += 1
                state.proceed = 1
                rtrace.matched = True
                if not all_ and not xor:
                    break
            else:
                failed += 1
                if all_:
                    break
            if field_name is not None and "(" in expression:
                name = f"DP_REGEX_MATCH_{total}"
                call.set_variable(name, None)
                for captured in match.captures() if match else []:
                    call.push_variable(name, captured)
                saved = (match, state.proceed, expression)
            # The expanded copy of the expression is freed here; only an
            # unexpanded one survives the loop for the capture test below.
            if expanded:
                expression = None
        if expanded:
            expression = None
        if (xor and passed == 1) or (
            not xor and ((all_ and not failed) or (not all_ and passed))
        ):
            state.anti_action = False
        if saved is not None:
            state.match, state.proceed, expression = saved
            state.captures = True
        else:
            state.match = match
            state.captures = bool(
                field_name is not None and expression and "(" in expression
            )
        state.trace.expression = expression


@dataclass
class _Outcome:
    anti_action: bool
    proceed: int
    match: Match | None = None
    captures: bool = False  # $N substitution and DP_MATCH apply
    trace: ConditionTrace = None  # type: ignore[assignment]


def hunt(
    dialplan: Dialplan,
    call: HuntTarget,
    context: str | None = None,
    tz: dt.tzinfo | str | None = None,
) -> HuntResult:
    """Hunt one call (see `Hunter`)."""
    return Hunter(tz).hunt(dialplan, call, context)
