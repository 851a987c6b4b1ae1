"""Emitting canonical text, and explaining requirements to players."""

import pickle

import pytest
from hypothesis import given, settings

from requirements.lispish import BLOCKS, Call, Expression, Int, Str, parse

from .lispish_strategies import expressions


@pytest.mark.parametrize(
    ("text", "emitted"),
    [
        ("(and)", "(AND)"),
        ("( xor   5\n6 )", "(XOR 5 6)"),
        ("(a 'x')", '(A "x")'),
        ("(a 'say \"hi\"')", '(A "say \\"hi\\"")'),
        (r"(a 'back\\slash')", r'(A "back\\slash")'),
        ('(a "tab\tand\nnewline")', r'(A "tab\tand\nnewline")'),
        (r"(a 'it\'s')", '(A "it\'s")'),
        ("(a 007)", "(A 7)"),
        (
            '(and (completed "Intro" "Warmup") (after "2026-12-01 12:00"))',
            '(AND (COMPLETED "Intro" "Warmup") (AFTER "2026-12-01 12:00"))',
        ),
        (
            '(and (completed "Introduction to the platform" "Warmup")'
            ' (or (cohort "Students") (>= (user-score) 100)))',
            "(AND\n"
            '  (COMPLETED "Introduction to the platform" "Warmup")\n'
            '  (OR (COHORT "Students") (>= (USER-SCORE) 100)))',
        ),
        (
            '(or (and (completed "A long challenge name" "Another long name")'
            ' (cohort "Students" "Evening class" "Second year"))'
            " (>= (user-score) 1000))",
            "(OR\n"
            "  (AND\n"
            '    (COMPLETED "A long challenge name" "Another long name")\n'
            '    (COHORT "Students" "Evening class" "Second year"))\n'
            "  (>= (USER-SCORE) 1000))",
        ),
    ],
)
def test_it_emits_canonical_text_that_reads_back_equal(text, emitted):
    expression = parse(text)
    assert expression.emit() == emitted
    assert str(expression) == emitted
    assert parse(emitted) == expression


def test_it_keeps_every_emitted_line_within_72_columns_when_it_can():
    expression = parse(
        "(AND "
        + " ".join(f'(COMPLETED "Challenge number {i}")' for i in range(9))
        + ")"
    )
    assert all(len(line) <= 72 for line in expression.emit().splitlines())


def test_it_compares_expressions_by_structure_not_position():
    assert parse("(a 1 'x')") == parse('(A\n    1\n    "x")')
    assert hash(parse("(a 1)")) == hash(parse(" (A 1)"))
    assert parse("(a 1)") != parse('(a "1")')
    assert parse("(a 1)") != parse("(a 1 1)")
    assert parse("(a)") != "(A)"


def test_it_builds_equal_expressions_by_hand():
    built = Expression(Call("and", [Call("completed", [Str("Intro"), Int(3)])]))
    assert built == parse('(AND (COMPLETED "Intro" 3))')
    assert repr(built) == "Expression('(AND (COMPLETED \"Intro\" 3))')"


def test_it_pickles_without_the_compiled_closures():
    expression = parse("(>= (USER-SCORE) 10)")
    expression.evaluate({"USER-SCORE": lambda args: 20})
    copy = pickle.loads(pickle.dumps(expression))  # noqa: S301 - our own bytes
    assert copy == expression
    assert copy.evaluate({"USER-SCORE": lambda args: 5}) is False


@settings(database=None)
@given(expressions)
def test_it_reads_back_whatever_it_emits(expression):
    assert parse(expression.emit()) == expression


@settings(database=None)
@given(expressions)
def test_it_explains_any_expression_without_raising(expression):
    assert isinstance(expression.explain(), str)
    expression.trace({})  # and traces it without raising


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        (
            '(AND (COMPLETED "Intro" "Warmup") (AFTER "2026-12-01 12:00"))',
            "Solve Intro and Warmup, after 1 Dec 2026 12:00",
        ),
        ("(TRUE)", "Always"),
        ("(AND)", "Always"),
        ("(FALSE)", "Never"),
        ("(OR)", "Never"),
        ("(AND 1)", "Always"),
        ('(OR "")', "Never"),
        ('(AND (COMPLETED "A"))', "Solve A"),
        ('(COMPLETED "A" 3 "C")', "Solve A, challenge #3 and C"),
        ('(COMPLETED-ANY "A")', "Solve A"),
        ('(COMPLETED-ANY "A" "B" 7)', "Solve at least one of A, B or challenge #7"),
        ('(COHORT "Students")', "Be in cohort Students"),
        ('(COHORT "Students" "Evening")', "Be in cohorts Students and Evening"),
        ('(BEFORE "2026-12-24")', "Before 24 Dec 2026"),
        ('(AFTER "2026-1-5 9:05")', "After 5 Jan 2026 09:05"),
        ("(BEFORE 1800000000)", "Before 15 Jan 2027 08:00 UTC"),
        ('(BEFORE "soon")', 'Before "soon"'),
        ('(NOT (COMPLETED "Final"))', "Not solve Final"),
        (
            '(OR (COHORT "Staff") (>= (USER-SCORE) 100))',
            "Either be in cohort Staff or score at least 100",
        ),
        (
            '(OR (COHORT "A") (COHORT "B") (COHORT "C"))',
            "Either be in cohort A, be in cohort B or be in cohort C",
        ),
        (
            '(AND (OR (COHORT "A") (COHORT "B")) (COMPLETED "X"))',
            "(Either be in cohort A or be in cohort B) and solve X",
        ),
        (
            '(OR (AND (COMPLETED "A") (COMPLETED "B")) (COHORT "C"))',
            "Either (solve A and solve B) or be in cohort C",
        ),
        (
            '(AND (COMPLETED "A") (BEFORE "2026-12-24") (COHORT "S"))',
            "Solve A and be in cohort S, before 24 Dec 2026",
        ),
        (
            '(AND (AFTER "2026-12-01") (BEFORE "2026-12-24"))',
            "After 1 Dec 2026, before 24 Dec 2026",
        ),
        ("(>= (USER-SCORE) 100)", "Score at least 100"),
        ("(> (USER-SCORE) 100)", "Score more than 100"),
        ("(<= 100 (USER-SCORE))", "Score at least 100"),
        ("(< (TEAM-SIZE) 4)", "Team size less than 4"),
        ("(<= (TEAM-SIZE) 2)", "Team size at most 2"),
        ('(= (USER-NAME) "alice")', 'User name is "alice"'),
        ('(/= (TEAM-NAME) "")', 'Team name is not ""'),
        ("(= (USER-ID) 42)", "User id is 42"),
        ('(= (USER-EMAIL) "a@b.c")', 'Email is "a@b.c"'),
        ("(>= (SOLVES) 5)", "Solve at least 5 challenges"),
        ('(>= (SOLVES "Web") 3)', "Solve at least 3 challenges in Web"),
        ('(> (SOLVES "Web") 1)', "Solve more than 1 challenge in Web"),
        ('(< (SOLVES "Web") 2)', "Solve fewer than 2 challenges in Web"),
        ("(= (SOLVES) 2)", "Solve exactly 2 challenges"),
        ("(/= (SOLVES) 2)", "Not solve exactly 2 challenges"),
        ('(<= 3 (SOLVES "Pwn"))', "Solve at least 3 challenges in Pwn"),
        ("(< 1 2 3)", "1, 2 and 3 are in increasing order"),
        ("(= 1 1 1)", "1, 1 and 1 are all equal"),
        ("(/= 1 2 3)", "1, 2 and 3 are all different"),
        ("(>= (+ (USER-SCORE) 10) 50)", "Score + 10 at least 50"),
        ("(>= (- (USER-SCORE) (+ 1 2)) 0)", "Score - (1 + 2) at least 0"),
        ("(>= (- (USER-SCORE)) 0)", "Minus score at least 0"),
        (
            '(>= (MAX (SOLVES "Web") (SOLVES "Pwn")) 3)',
            "The larger of number of solves in Web and number of solves in Pwn"
            " at least 3",
        ),
        ("(< (MIN 1 2 3) 5)", "The smallest of 1, 2 and 3 less than 5"),
        ("(USER-NAME)", "User name is not empty"),
        ("(USER-SCORE)", "Score is not 0"),
        ("(= (NOT (TRUE)) 0)", "Whether not always is 0"),
        ("(xor 5 6)", "(XOR 5 6) holds"),
        ("(NOT 1 2)", "(NOT 1 2) holds"),
    ],
)
def test_it_explains_requirements_in_plain_english(text, sentence):
    assert parse(text).explain() == sentence


def test_it_explains_every_block_example_without_falling_back():
    for block in BLOCKS.values():
        assert "holds" not in parse(block.example).explain(), block.name
