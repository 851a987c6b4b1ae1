"""Evaluation: built-ins, platform functions, errors with places, traces, dates."""

import json
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from requirements.lispish import EvalError, LispIshError, parse
from requirements.lispish.timeutil import to_epoch

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TZ = timezone(timedelta(hours=1))


def platform(**overrides):
    """Return a functions mapping for a player called alice in team Blue."""

    def before(args):
        return NOW.timestamp() < to_epoch(args[0], TZ)

    def after(args):
        return NOW.timestamp() >= to_epoch(args[0], TZ)

    solved = {"Intro", "Warmup", 1, 2}
    functions = {
        "USER-NAME": lambda args: "alice",
        "USER-ID": lambda args: 7,
        "USER-EMAIL": lambda args: "alice@example.org",
        "USER-SCORE": lambda args: 150,
        "TEAM-NAME": lambda args: "Blue",
        "TEAM-SIZE": lambda args: 3,
        "SOLVES": lambda args: {(): 4, ("Web",): 3}.get(tuple(args), 0),
        "COMPLETED": lambda args: all(a in solved for a in args),
        "COMPLETED-ANY": lambda args: any(a in solved for a in args),
        "COHORT": lambda args: all(a in {"Students", 5} for a in args),
        "BEFORE": before,
        "AFTER": after,
    }
    functions.update(overrides)
    return functions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(TRUE)", True),
        ("(FALSE)", False),
        ("(AND)", True),
        ("(AND 1 2)", True),
        ("(AND 1 0)", False),
        ('(AND "x" "")', False),
        ("(AND (TRUE) (TRUE) (FALSE))", False),
        ("(OR)", False),
        ("(OR 0 0)", False),
        ('(OR 0 "x")', True),
        ("(OR (FALSE) (TRUE))", True),
        ("(NOT 0)", True),
        ("(NOT 1)", False),
        ('(NOT "")', True),
        ('(NOT "x")', False),
        ("(NOT (NOT 5))", True),
        ("(= 5 5)", True),
        ("(= 5 6)", False),
        ("(= 5 5 5)", True),
        ("(= 5 5 6)", False),
        ('(= "a" "a")', True),
        ('(= "a" "A")', False),
        ('(= "1" 1)', False),
        ("(= (TRUE) 1)", True),
        ("(= (FALSE) 0)", True),
        ("(= (TRUE) 2)", False),
        ("(/= 1 2 3)", True),
        ("(/= 1 2 1)", False),
        ('(/= "a" "b")', True),
        ("(/= (TRUE) 1)", False),
        ('(/= 1 "1")', True),
        ("(< 1 2 3)", True),
        ("(< 1 3 2)", False),
        ("(< 1 1)", False),
        ('(< "apple" "banana")', True),
        ("(<= 1 1 2)", True),
        ("(<= 1 2 1)", False),
        ("(> 3 2 1)", True),
        ("(> 3 1 2)", False),
        ("(>= 2 2 1)", True),
        ("(>= 1 2)", False),
        ("(< (FALSE) (TRUE) 2)", True),
        ("(+)", 0),
        ("(+ 5)", 5),
        ("(+ 1 2 3)", 6),
        ("(+ (TRUE) (TRUE))", 2),
        ("(- 5)", -5),
        ("(- 1 2 3)", -4),
        ("(- 5 1 (- 1))", 5),
        ("(- 5 (- 1))", 6),
        ("(- (TRUE))", -1),
        ("(MAX 3)", 3),
        ("(MAX 1 5 3)", 5),
        ("(MIN 4 2 8)", 2),
        ('(MAX "b" "a")', "b"),
        ("(MAX (TRUE) (FALSE))", 1),
        ("(MIN (FALSE) 3)", 0),
    ],
)
def test_it_evaluates_built_in_blocks(text, expected):
    result = parse(text).evaluate()
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(USER-NAME)", "alice"),
        ("(user-id)", 7),
        ('(= (USER-EMAIL) "alice@example.org")', True),
        ("(>= (USER-SCORE) 100)", True),
        ("(>= (USER-SCORE) 200)", False),
        ('(= (TEAM-NAME) "Blue")', True),
        ("(<= (TEAM-SIZE) 2)", False),
        ("(SOLVES)", 4),
        ('(>= (SOLVES "Web") 3)', True),
        ('(SOLVES "Pwn")', 0),
        ('(COMPLETED "Intro")', True),
        ('(COMPLETED "Intro" "Warmup" 1)', True),
        ('(COMPLETED "Intro" "Final")', False),
        ('(COMPLETED-ANY "Final" "Warmup")', True),
        ('(COMPLETED-ANY "Final" 9)', False),
        ('(COHORT "Students")', True),
        ('(COHORT "Students" 5)', True),
        ('(COHORT "Staff")', False),
        ('(AFTER "2026-12-01")', True),
        ('(AFTER "2026-12-01 13:00")', True),
        ('(AFTER "2026-12-01 13:01")', False),
        ('(BEFORE "2026-12-02")', True),
        ('(BEFORE "2026-12-1 13:00")', False),
        ("(BEFORE 1800000000)", True),
        ("(AFTER 1800000000)", False),
        ('(AND (COMPLETED "Intro" "Warmup") (AFTER "2026-12-01 12:00"))', True),
        ('(OR (COHORT "Staff") (>= (USER-SCORE) 100))', True),
        ("(= (USER-NAME) (USER-NAME))", True),
    ],
)
def test_it_evaluates_dynamic_blocks_with_the_platform_functions(text, expected):
    assert parse(text).evaluate(platform()) == expected


def test_it_passes_evaluated_arguments_to_platform_functions():
    calls = []
    functions = {"COMPLETED": lambda args: calls.append(args) or True}
    parse('(COMPLETED "Intro" 3 (+ 1 1))').evaluate(functions)
    assert calls == [["Intro", 3, 2]]


def test_it_gives_platform_functions_a_fresh_list_each_time():
    functions = {"COMPLETED": lambda args: args.pop() or True}
    expression = parse('(COMPLETED "Intro")')
    assert expression.evaluate(functions) == "Intro"
    assert expression.evaluate(functions) == "Intro"


def test_it_runs_functions_the_plugin_supplied_for_unknown_names():
    assert parse("(xor 5 6)").evaluate({"XOR": lambda v: v[0] ^ v[1]}) == 3


def test_it_keeps_built_ins_even_when_the_mapping_names_them():
    assert parse("(AND 1 0)").evaluate({"AND": lambda args: True}) is False


@pytest.mark.parametrize(
    ("text", "expected", "called"),
    [
        ("(AND (FALSE) (SPY))", False, 0),
        ("(AND (TRUE) (SPY))", True, 1),
        ("(OR (TRUE) (SPY))", True, 0),
        ("(OR (FALSE) (SPY) (SPY))", True, 1),
        ("(NOT (OR (SPY) (SPY)))", False, 1),
    ],
)
def test_it_short_circuits_and_and_or(text, expected, called):
    calls = []
    functions = {"SPY": lambda args: calls.append(1) or True}
    assert parse(text).evaluate(functions) is expected
    assert len(calls) == called


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("(FOO)", 1, 1, "unknown block FOO"),
        ("(AND 1\n  (foo 2))", 2, 3, "unknown block FOO"),
        ("(NOT 1 2)", 1, 1, "NOT takes exactly 1 argument, got 2"),
        ("(NOT)", 1, 1, "NOT takes exactly 1 argument, got 0"),
        ("(= 1)", 1, 1, "= takes at least 2 arguments, got 1"),
        ("(< 1)", 1, 1, "< takes at least 2 arguments, got 1"),
        ("(-)", 1, 1, "- takes at least 1 argument, got 0"),
        ("(MAX)", 1, 1, "MAX takes at least 1 argument, got 0"),
        ("(TRUE 1)", 1, 1, "TRUE takes no arguments, got 1"),
        ("(COMPLETED)", 1, 1, "COMPLETED takes at least 1 argument, got 0"),
        ('(SOLVES "a" "b")', 1, 1, "SOLVES takes 0 to 1 argument, got 2"),
        ("(USER-NAME 1)", 1, 1, "USER-NAME takes no arguments, got 1"),
        ('(< 1 "a")', 1, 1, "< cannot compare text (argument 2) with number"),
        ('(>= "a" 1)', 1, 1, ">= cannot compare number (argument 2) with text"),
        ('(MAX 1 "a")', 1, 1, "MAX cannot compare text (argument 2)"),
        ('(+ 1 "x")', 1, 1, '+ expects a number for argument 2, got text "x"'),
        ('(- "x")', 1, 1, '- expects a number for argument 1, got text "x"'),
        ("(OR 0 (< 1 (USER-NAME)))", 1, 7, "< cannot compare text"),
        ("(SOLVES 5)", 1, 9, "SOLVES expects text for argument 1, got number 5"),
        ("(COMPLETED (TRUE))", 1, 12, "COMPLETED expects a name or an id"),
        ("(BEFORE (= 1 1))", 1, 9, "BEFORE expects a date"),
        ('(BEFORE "garbage")', 1, 1, "expected a date as epoch seconds or"),
        ('(AFTER\n "2026-02-30")', 1, 1, "got '2026-02-30'"),
    ],
)
def test_it_raises_eval_errors_at_the_offending_node(text, line, col, message):
    with pytest.raises(EvalError) as caught:
        parse(text).evaluate(platform())
    assert (caught.value.line, caught.value.col) == (line, col)
    assert message in caught.value.message


def test_it_says_a_known_dynamic_block_is_not_available_without_a_function():
    with pytest.raises(EvalError, match="USER-SCORE is not available here"):
        parse("(>= (USER-SCORE) 10)").evaluate({})


def test_it_wraps_platform_exceptions_with_the_node_position():
    def broken(args):
        raise KeyError("no such challenge")

    with pytest.raises(EvalError) as caught:
        parse('(AND 1\n (COMPLETED "Intro"))').evaluate({"COMPLETED": broken})
    error = caught.value
    assert (error.line, error.col) == (2, 2)
    assert "COMPLETED failed: KeyError" in error.message
    assert isinstance(error.__cause__, KeyError)


def test_it_keeps_the_place_of_a_lispish_error_raised_by_the_platform():
    def picky(args):
        raise EvalError("bad cohort", 9, 9)

    with pytest.raises(EvalError) as caught:
        parse('(COHORT "x")').evaluate({"COHORT": picky})
    assert (caught.value.line, caught.value.col) == (9, 9)


@pytest.mark.parametrize("result", [None, 1.5, [1], {"a": 1}, b"x"])
def test_it_refuses_platform_results_that_are_not_values(result):
    with pytest.raises(EvalError, match="blocks must return a number, text or"):
        parse("(USER-SCORE)").evaluate({"USER-SCORE": lambda args: result})


def test_it_reports_the_same_error_on_every_evaluation():
    expression = parse("(NOT 1 2)")
    for _ in range(2):
        with pytest.raises(EvalError, match="NOT takes exactly 1 argument"):
            expression.evaluate()


def test_it_evaluates_500_requirements_in_under_10_ms():
    text = (
        '(AND (COMPLETED "Intro" "Warmup")'
        ' (OR (COHORT "Students") (>= (USER-SCORE) 100))'
        ' (AFTER "2026-12-01 12:00"))'
    )
    expressions = [parse(text) for _ in range(500)]
    functions = {
        "COMPLETED": lambda args: True,
        "COHORT": lambda args: False,
        "USER-SCORE": lambda args: 150,
        "AFTER": lambda args: True,
    }
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for expression in expressions:
            expression.evaluate(functions)
        best = min(best, time.perf_counter() - start)
    assert best < 0.010


def test_it_traces_the_value_of_every_call():
    trace = parse(
        '(AND (COMPLETED "Intro") (>= (USER-SCORE) 100) (= (TEAM-NAME) "Blue"))'
    ).trace(platform())
    assert (trace.name, trace.value, trace.ok) == ("AND", True, True)
    assert [(c.text, c.value) for c in trace.children] == [
        ('(COMPLETED "Intro")', True),
        ("(>= (USER-SCORE) 100)", True),
        ('(= (TEAM-NAME) "Blue")', True),
    ]
    assert trace.children[1].children[0].value == 150
    assert (trace.children[1].line, trace.children[1].col) == (1, 26)


def test_it_marks_short_circuited_calls_as_not_evaluated_in_a_trace():
    trace = parse('(OR (COHORT "Students") (FOO (BAR)))').trace(platform())
    assert trace.value is True
    skipped = trace.children[1]
    assert (skipped.evaluated, skipped.value, skipped.error) == (False, None, None)
    assert skipped.children[0].evaluated is False
    assert not skipped.ok


def test_it_captures_errors_in_a_trace_instead_of_raising():
    trace = parse('(AND (COMPLETED "Intro") (>= (USER-NAME) 1) (TRUE))').trace(
        platform()
    )
    assert trace.value is None
    assert isinstance(trace.error, EvalError)
    failed = trace.children[1]
    assert failed.error is trace.error
    assert (failed.error.line, failed.error.col) == (1, 26)
    assert failed.children[0].value == "alice"
    assert trace.children[2].evaluated is False


def test_it_captures_arity_and_unknown_block_errors_in_a_trace():
    assert parse("(NOT 1 2)").trace().error.message.startswith("NOT takes")
    assert parse("(FOO)").trace().error.message == "unknown block FOO"


@pytest.mark.parametrize(
    "text",
    [
        '(AND (COMPLETED "Intro") (OR (FALSE) (>= (USER-SCORE) 100)))',
        "(OR (FALSE) (NOT (TRUE)) (< (TEAM-SIZE) 1))",
        '(AND (AFTER "2026-12-01") (BEFORE 1800000000) (COHORT "Staff"))',
        '(+ 1 (- (SOLVES "Web") 1) (MAX 1 2))',
    ],
)
def test_it_agrees_between_trace_and_evaluate(text):
    expression = parse(text)
    assert expression.trace(platform()).value == expression.evaluate(platform())


def test_it_serialises_a_trace_to_json():
    trace = parse('(OR (FOO) (COMPLETED "Intro"))').trace(platform())
    data = json.loads(json.dumps(trace.to_dict()))
    assert data["error"] == "line 1, col 5: unknown block FOO"
    assert data["children"][1]["evaluated"] is False


@pytest.mark.parametrize(
    ("value", "epoch"),
    [
        (1_800_000_000, 1_800_000_000),
        ("1970-01-01", -3600),
        ("2026-12-01 12:00", int(datetime(2026, 12, 1, 11, 0, tzinfo=UTC).timestamp())),
        ("2026-1-5 9:5", int(datetime(2026, 1, 5, 8, 5, tzinfo=UTC).timestamp())),
    ],
)
def test_it_converts_dates_to_epoch_seconds_in_the_event_time_zone(value, epoch):
    assert to_epoch(value, TZ) == epoch


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "2026-13-01",
        "2026-02-30",
        "2026-12-01T12:00",
        "2026-12-01 24:00",
        "",
        " 2026-12-01",
        "2026-12-01 12:00:00",
        True,
        None,
        1.5,
    ],
)
def test_it_refuses_malformed_dates(value):
    with pytest.raises(EvalError, match="expected a date") as caught:
        to_epoch(value, TZ)
    assert isinstance(caught.value, LispIshError)
