"""Scripts written for the CTFd_unique_challenges plugin work unchanged.

Sources (Gerrit0/CTFd_unique_challenges): the doctests of ``lispish.py``, the
requirements seeded by ``create_test_data.py``, the blocks ``helpers.py``
implements (COMPLETED with names or ids, BEFORE/AFTER with epoch seconds or
"YYYY-MM-DD[ HH:MM]"), the arities ``assets/update.js`` documents, and the
text the plugin's ``emit()`` saved (lower-case names, 4-space or tab indents).
The plugin's wiki page "LispIsh-Documentation" was not available to us.
"""

import time
from datetime import UTC, datetime

import pytest

from requirements.lispish import CheckError, EvalError, ParseError, parse
from requirements.lispish.timeutil import to_epoch


@pytest.mark.parametrize(
    ("text", "functions", "expected"),
    [
        ("(xor 5 6)", {"XOR": lambda v: v[0] ^ v[1]}, 3),
        ("(double 7)", {"DOUBLE": lambda x: x[0] * 2}, 14),
        ("(= 5 6)", {}, False),
        ("(<= 5 6 7)", {}, True),
        ("(- 5 (- 1))", {}, 6),
        ("(/= 1 2 3)", {}, True),
        ("(/= 1 2 1)", {}, False),
        ("(> 3 2 1)", {}, True),
        ("(> 3 1 2)", {}, False),
        ("(< 1 2 3)", {}, True),
        ("(< 1 3 2)", {}, False),
        ("(>= 2 2 1)", {}, True),
        ("(>= 3 2 1)", {}, True),
        ("(>= 1 2)", {}, False),
        ("(<= 1 1 2)", {}, True),
        ("(<= 1 2 1)", {}, False),
        ("(- 1 2 3)", {}, -4),
        ("(- 5 1 (- 1))", {}, 5),
        ("(- 1)", {}, -1),
        ("(and (or 0 1 2))", {}, True),
    ],
)
def test_it_evaluates_the_plugin_docstring_examples(text, functions, expected):
    assert parse(text).evaluate(functions) == expected


def test_it_reports_the_plugin_unclosed_paren_example_at_the_end_of_input():
    with pytest.raises(ParseError) as caught:
        parse("(non-matching-paren 1 2")
    # The plugin said "Ran off end of input at 1:23" (0-based column).
    assert (caught.value.line, caught.value.col) == (1, 24)
    assert "expected ')' to close '(' opened at line 1, col 1" in str(caught.value)


SCORE_GATE = """(>=
    (user-score)
    10)"""

NAME_GATE = """(or
    (=
        (user-name)
        'alice')
    (=
        (user-name)
        'Alice')
    (=
        (user-name)
        'bob')
    (=
        (user-name)
        'Bob')
    (=
        (user-name)
        'eve')
    (=
        (user-name)
        'Eve'))"""


@pytest.mark.parametrize(
    ("score", "expected"), [(0, False), (9, False), (10, True), (250, True)]
)
def test_it_evaluates_the_plugin_demo_score_gate(score, expected):
    requirement = parse(SCORE_GATE)
    requirement.check()
    assert requirement.evaluate({"USER-SCORE": lambda args: score}) is expected
    assert requirement.explain() == "Score at least 10"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("alice", True), ("Bob", True), ("Eve", True), ("Mallory", False), ("", False)],
)
def test_it_evaluates_the_plugin_demo_name_gate(name, expected):
    requirement = parse(NAME_GATE)
    requirement.check()
    assert requirement.evaluate({"USER-NAME": lambda args: name}) is expected
    assert requirement.explain().startswith('Either user name is "alice", user name')


@pytest.mark.parametrize(
    "saved",
    [
        "(and (or\n    0\n    1\n    2))",
        "(and (or\n\t0\n\t1\n\t2))",
        "(completed 'Intro')",
        '(completed "he\'s got it")',
        "(AND (completed\n    'Intro'\n    3) (after '2026-12-01 12:00'))",
    ],
)
def test_it_reads_text_the_plugin_emitted_and_saved(saved):
    requirement = parse(saved)
    requirement.check()
    assert parse(requirement.emit()) == requirement


def plugin_functions(solved: set, now: float) -> dict:
    """Mirror the plugin's helpers: names or ids, dates in the event time zone."""

    def before(args):
        return now < to_epoch(args[0], UTC)

    return {
        "COMPLETED": lambda args: all(arg in solved for arg in args),
        "BEFORE": before,
        "AFTER": lambda args: not before(args),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('(completed "Grep" "Python")', True),
        ("(completed 3)", True),
        ('(completed "Grep" 4)', False),
        ('(before "2026-12-24")', True),
        ('(after "2026-12-01 12:00")', True),
        ('(after "2026-12-01 12:01")', False),
        ("(before 1800000000)", True),
        ('(and (completed "Grep") (not (after "2027-01-01")))', True),
    ],
)
def test_it_evaluates_the_plugin_requirement_blocks(text, expected):
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()
    functions = plugin_functions({"Grep", "Python", 3}, now)
    assert parse(text).evaluate(functions) is expected


def test_it_reports_a_bad_plugin_date_like_the_plugin_but_with_a_place():
    requirement = parse('(and (completed "Grep")\n     (before "next friday"))')
    with pytest.raises(EvalError) as caught:
        requirement.evaluate(plugin_functions({"Grep"}, time.time()))
    assert (caught.value.line, caught.value.col) == (2, 6)
    assert "expected a date as epoch seconds or" in caught.value.message
    with pytest.raises(CheckError, match="BEFORE expects a date"):
        requirement.check()
