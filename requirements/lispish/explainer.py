"""Plain English for players: what a requirement asks of them.

``(AND (COMPLETED "Intro" "Warmup") (AFTER "2026-12-01 12:00"))`` reads
"Solve Intro and Warmup, after 1 Dec 2026 12:00". Conditions are phrased as
what the player must do or be; values (scores, names) as noun phrases.
"""

from __future__ import annotations

from .emitter import one_line, quote
from .timeutil import format_date_literal, format_epoch
from .types import Call, Int, Node, Str

_COMPARE = {
    ">=": "at least",
    ">": "more than",
    "<=": "at most",
    "<": "less than",
    "=": "is",
    "/=": "is not",
}
_MIRROR = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "=": "=", "/=": "/="}
_CHAINS = {
    "=": "are all equal",
    "/=": "are all different",
    "<": "are in increasing order",
    "<=": "are in non-decreasing order",
    ">": "are in decreasing order",
    ">=": "are in non-increasing order",
}
_SOLVES = {
    ">=": "at least",
    ">": "more than",
    "<=": "at most",
    "<": "fewer than",
    "=": "exactly",
}
_VALUES = {
    "USER-NAME": "user name",
    "USER-ID": "user id",
    "USER-EMAIL": "email",
    "USER-SCORE": "score",
    "TEAM-NAME": "team name",
    "TEAM-SIZE": "team size",
}
_TEXT = {"USER-NAME", "USER-EMAIL", "TEAM-NAME"}
_CONDITIONS = {"AND", "OR", "NOT", "COMPLETED", "COMPLETED-ANY", "COHORT"}
_CONDITIONS |= {"BEFORE", "AFTER", *_COMPARE}
_EXTREMES = {"MAX": ("larger", "largest"), "MIN": ("smaller", "smallest")}


def explain(node: Node) -> str:
    """Describe the requirement as one sentence; never raises."""
    try:
        text = _condition(node, nested=False)
    except Exception:  # a last resort: players must always get a sentence
        text = f"meet the requirement {one_line(node)}"
    first = len(text) - len(text.lstrip("("))
    return text[:first] + text[first : first + 1].upper() + text[first + 1 :]


def _join(parts: list[str], word: str) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {word} " + parts[-1]


def _is_compound(node: Node) -> bool:
    return isinstance(node, Call) and node.name in ("AND", "OR") and len(node.args) > 1


def _condition(node: Node, nested: bool) -> str:
    if not isinstance(node, Call):
        return "always" if node.value else "never"
    name, args = node.name, node.args
    if name == "TRUE" or (name == "AND" and not args):
        return "always"
    if name == "FALSE" or (name == "OR" and not args):
        return "never"
    if name in ("AND", "OR") and len(args) == 1:
        return _condition(args[0], nested)
    if name == "AND":
        if nested:
            return f"({_join([_sub_condition(arg) for arg in args], 'and')})"
        # "Solve Intro and score at least 100, after 1 Dec 2026": time last.
        timed = [_is_time(arg) for arg in args]
        parts = [_sub_condition(a) for a, t in zip(args, timed, strict=True) if not t]
        times = [_sub_condition(a) for a, t in zip(args, timed, strict=True) if t]
        return ", ".join(filter(None, [_join(parts, "and"), *times]))
    if name == "OR":
        text = "either " + _join([_sub_condition(arg) for arg in args], "or")
        return f"({text})" if nested else text
    if name == "NOT" and len(args) == 1:
        return "not " + _sub_condition(args[0])
    if name == "COMPLETED" and args:
        return "solve " + _join([_name(arg, "challenge") for arg in args], "and")
    if name == "COMPLETED-ANY" and args:
        names = [_name(arg, "challenge") for arg in args]
        if len(names) == 1:
            return "solve " + names[0]
        return "solve at least one of " + _join(names, "or")
    if name == "COHORT" and args:
        cohorts = "cohort " if len(args) == 1 else "cohorts "
        return "be in " + cohorts + _join([_name(arg) for arg in args], "and")
    if name in ("BEFORE", "AFTER") and len(args) == 1:
        return f"{name.lower()} {_date(args[0])}"
    if name in _COMPARE and len(args) >= 2:
        return _comparison(node)
    if name in _VALUES or name in ("SOLVES", "+", "-", "MAX", "MIN"):
        return f"{_value(node)} is not {'empty' if name in _TEXT else '0'}"
    return f"{one_line(node)} holds"


def _is_time(node: Node) -> bool:
    return isinstance(node, Call) and node.name in ("BEFORE", "AFTER")


def _sub_condition(node: Node) -> str:
    return _condition(node, nested=_is_compound(node))


def _comparison(node: Call) -> str:
    op, args = node.name, list(node.args)
    if len(args) > 2:
        return _join([_value(arg) for arg in args], "and") + " " + _CHAINS[op]
    left, right = args
    # Put the player's side first: (<= 100 (USER-SCORE)) is "score at least 100".
    if not isinstance(left, Call) and isinstance(right, Call):
        left, right, op = right, left, _MIRROR[op]
    if isinstance(left, Call) and left.name == "SOLVES" and isinstance(right, Int):
        category = f" in {_name(left.args[0])}" if left.args else ""
        count = right.value
        noun = "challenge" if count == 1 else "challenges"
        if op == "/=":
            return f"not solve exactly {count} {noun}{category}"
        return f"solve {_SOLVES[op]} {count} {noun}{category}"
    return f"{_value(left)} {_COMPARE[op]} {_value(right)}"


def _value(node: Node) -> str:
    if isinstance(node, Int):
        return str(node.value)
    if isinstance(node, Str):
        return quote(node.value)
    name, args = node.name, node.args
    if name in _VALUES:
        return _VALUES[name]
    if name == "SOLVES":
        return "number of solves" + (f" in {_name(args[0])}" if args else "")
    if name in ("+", "-") and args:
        parts = [_operand(arg) for arg in args]
        if name == "-" and len(args) == 1:
            return "minus " + parts[0]
        return f" {name} ".join(parts)
    if name == "+":
        return "0"
    if name in ("MAX", "MIN") and args:
        if len(args) == 1:
            return _value(args[0])
        which = _EXTREMES[name][0 if len(args) == 2 else 1]
        return f"the {which} of " + _join([_value(arg) for arg in args], "and")
    if name in ("TRUE", "FALSE"):
        return name.lower()
    if name in _CONDITIONS:
        return f"whether {_condition(node, nested=True)}"
    return one_line(node)


def _operand(node: Node) -> str:
    text = _value(node)
    if isinstance(node, Call) and node.name in ("+", "-") and len(node.args) > 1:
        return f"({text})"
    return text


def _name(node: Node, noun: str = "") -> str:
    """Name a challenge, cohort or category: text as is, ids as "challenge #3"."""
    if isinstance(node, Str):
        return node.value
    if isinstance(node, Int):
        return f"{noun} #{node.value}".lstrip()
    return _value(node)


def _date(node: Node) -> str:
    if isinstance(node, Str):
        return format_date_literal(node.value) or quote(node.value)
    if isinstance(node, Int):
        return format_epoch(node.value)
    return _value(node)
