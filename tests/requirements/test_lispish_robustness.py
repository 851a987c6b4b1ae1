"""Hostile input: deep nesting, huge text, random bytes. Only ParseError comes out."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from requirements.lispish import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    Call,
    CheckError,
    Expression,
    Int,
    ParseError,
    parse,
)


def nested(depth: int) -> str:
    return "(A " * depth + ")" * depth


def test_it_reads_nesting_up_to_the_depth_limit_and_every_phase_copes():
    expression = parse(nested(MAX_DEPTH))
    assert expression.emit().count("(") == MAX_DEPTH
    assert parse(expression.emit()) == expression
    assert expression.explain()
    assert expression.trace({}).error.message == "unknown block A"
    expression = parse("(NOT " * (MAX_DEPTH - 1) + "(TRUE)" + ")" * (MAX_DEPTH - 1))
    assert expression.evaluate() is False  # 63 NOTs
    expression.check()


def test_it_refuses_nesting_past_the_depth_limit_where_it_starts():
    with pytest.raises(ParseError) as caught:
        parse(nested(MAX_DEPTH + 1))
    assert caught.value.message == "nesting deeper than 64"
    assert (caught.value.line, caught.value.col) == (1, 3 * MAX_DEPTH + 1)


def test_it_refuses_100000_nested_parentheses_without_recursing():
    with pytest.raises(ParseError, match="input longer than 65536 characters"):
        parse("(A " * 100_000 + ")" * 100_000)
    with pytest.raises(ParseError, match="nesting deeper than 64"):
        parse("(A " * 15_000 + ")" * 15_000)
    with pytest.raises(ParseError, match="expected a block name after"):
        parse("(" * 60_000)


def test_it_refuses_more_nodes_than_the_limit():
    parse("(A" + " 1" * (MAX_NODES - 1) + ")")
    with pytest.raises(ParseError) as caught:
        parse("(A" + " 1" * MAX_NODES + ")")
    assert caught.value.message == "more than 10000 nodes"
    assert (caught.value.line, caught.value.col) == (1, 2 + 2 * MAX_NODES)


def test_it_reads_input_up_to_the_length_limit():
    text = '(A "' + "x" * (MAX_LENGTH - 6) + '")'
    assert len(text) == MAX_LENGTH
    assert len(parse(text).root.args[0].value) == MAX_LENGTH - 6


def test_it_refuses_a_megabyte_at_the_place_of_the_limit_in_well_under_a_second():
    text = ("(A " + "1 " * 40 + ")\n") * 12_000
    start = time.perf_counter()
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert time.perf_counter() - start < 0.1
    error = caught.value
    assert error.message == "input longer than 65536 characters"
    line_length = len("(A " + "1 " * 40 + ")\n")
    assert error.line == MAX_LENGTH // line_length + 1
    assert error.col == MAX_LENGTH % line_length + 1


@pytest.mark.parametrize(
    "text",
    [
        '(A "' + "\\" * 60_000 + '")',
        '(A "' + '\\"' * 30_000,
        "(A '" + "x" * 60_000,
        '(A "' + "x\n" * 30_000 + '")',
        "(A " + "1234567890" * 6_000 + ")",
        "(A " + "0" * 60_000 + "1)",
        "(" + "A" * 60_000 + ")",
        " " * 65_000 + "(A)",
        "(A" + " 'x'" * 9_000 + ")",
    ],
)
def test_it_handles_pathological_input_quickly(text):
    start = time.perf_counter()
    try:
        parse(text)
    except ParseError:
        pass
    assert time.perf_counter() - start < 0.5


def test_it_bounds_hand_built_trees_like_parsed_ones():
    root = Call("TRUE")
    for _ in range(MAX_DEPTH * 2):
        root = Call("NOT", (root,))
    with pytest.raises(CheckError, match="nesting deeper than 64"):
        Expression(root)
    with pytest.raises(CheckError, match="integer literal out of range: -1"):
        Expression(Call("A", (Int(-1),)))
    with pytest.raises(TypeError):
        Expression(Int(1))


@settings(database=None, max_examples=300)
@given(st.text(alphabet=st.sampled_from("()AND<=- \n\t\"'\\019x;"), max_size=80))
def test_it_raises_only_parse_errors_for_random_lispish_like_text(text):
    try:
        expression = parse(text)
    except ParseError as error:
        assert error.line >= 1 and error.col >= 1
        return
    assert parse(expression.emit()) == expression
    expression.explain()
    expression.trace({})


@settings(database=None, max_examples=200)
@given(st.text(max_size=200))
def test_it_raises_only_parse_errors_for_random_text(text):
    try:
        parse(text)
    except ParseError:
        pass


@settings(database=None, max_examples=200)
@given(st.binary(max_size=200), st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_it_raises_only_parse_errors_for_random_bytes(data, encoding):
    errors = "surrogateescape" if encoding == "utf-8" else "replace"
    text = data.decode(encoding, errors=errors)
    try:
        parse(text)
    except ParseError:
        pass
