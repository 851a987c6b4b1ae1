"""Reader: text to tree, and ParseError with line, column and what was expected."""

import pytest

from requirements.lispish import (
    Call,
    Int,
    LispIshError,
    ParseError,
    Str,
    parse,
)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("(and)", Call("AND")),
        ("(AnD)", Call("AND")),
        ("(xor 5 6)", Call("XOR", (Int(5), Int(6)))),
        ("(user-score)", Call("USER-SCORE")),
        ("(<= 1 2)", Call("<=", (Int(1), Int(2)))),
        ("(/= 1 2)", Call("/=", (Int(1), Int(2)))),
        ("(+)", Call("+")),
        ("(-bad)", Call("-BAD")),
        ("(a 007)", Call("A", (Int(7),))),
        ("(a 0)", Call("A", (Int(0),))),
        ("( and )", Call("AND")),
        ("\n\t (and\r\n  (or)\n)\n ", Call("AND", (Call("OR"),))),
        ('(a(b)"c"1)', Call("A", (Call("B"), Str("c"), Int(1)))),
        ("(a1)", Call("A", (Int(1),))),
        ('(a "x")', Call("A", (Str("x"),))),
        ("(a 'x')", Call("A", (Str("x"),))),
        ('(a "")', Call("A", (Str(""),))),
        ('(a "it\'s")', Call("A", (Str("it's"),))),
        ("(a 'say \"hi\"')", Call("A", (Str('say "hi"'),))),
        (r'(a "x\"y")', Call("A", (Str('x"y'),))),
        (r"(a 'it\'s')", Call("A", (Str("it's"),))),
        (r'(a "a\\b")', Call("A", (Str("a\\b"),))),
        (r'(a "l1\nl2")', Call("A", (Str("l1\nl2"),))),
        (r'(a "\t")', Call("A", (Str("\t"),))),
        (r'(a "\q\(")', Call("A", (Str("q("),))),
        ('(a "two\nlines")', Call("A", (Str("two\nlines"),))),
        ('(a "héllo ☃ (not a call)")', Call("A", (Str("héllo ☃ (not a call)"),))),
        (
            '(and (completed "Intro" 3) (not (before "2026-12-01")))',
            Call(
                "AND",
                (
                    Call("COMPLETED", (Str("Intro"), Int(3))),
                    Call("NOT", (Call("BEFORE", (Str("2026-12-01"),)),)),
                ),
            ),
        ),
    ],
)
def test_it_reads_text_into_a_tree(text, tree):
    assert parse(text).root == tree


def test_it_records_one_based_line_and_column_of_every_node():
    root = parse('(a\n  (b "x")\n\t3)').root
    call, number = root.args
    assert (root.line, root.col) == (1, 1)
    assert (call.line, call.col) == (2, 3)
    assert (call.args[0].line, call.args[0].col) == (2, 6)
    assert (number.line, number.col) == (3, 2)


def test_it_counts_lines_inside_multiline_strings():
    root = parse('(a "one\ntwo" 5)').root
    assert (root.args[0].line, root.args[0].col) == (1, 4)
    assert (root.args[1].line, root.args[1].col) == (2, 6)


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("", 1, 1, "expected '(' to start the requirement, found end of input"),
        ("   \n  ", 2, 3, "expected '(' to start the requirement, found end of input"),
        ("5", 1, 1, "expected '(' to start the requirement, found '5'"),
        ('"x"', 1, 1, "expected '(' to start the requirement, found '\"x\"'"),
        ("and", 1, 1, "expected '(' to start the requirement, found 'and'"),
        (")", 1, 1, "expected '(' to start the requirement, found ')'"),
        ("(", 1, 2, "expected a block name after '(', found end of input"),
        ("()", 1, 2, "expected a block name after '(', found ')'"),
        ("(5)", 1, 2, "expected a block name after '(', found '5'"),
        ("((a))", 1, 2, "expected a block name after '(', found '('"),
        ('("a")', 1, 2, "expected a block name after '(', found '\"a\"'"),
        ("(a", 1, 3, "expected ')' to close '(' opened at line 1, col 1"),
        (
            "(and\n    (or 1",
            2,
            10,
            "expected ')' to close '(' opened at line 2, col 5",
        ),
        ("(a\n  (b)\n", 3, 1, "expected ')' to close '(' opened at line 1, col 1"),
        ("(a) (b)", 1, 5, "expected end of input after the requirement, found '('"),
        ("(a))", 1, 4, "expected end of input after the requirement, found ')'"),
        ("(a) 1", 1, 5, "expected end of input after the requirement, found '1'"),
        ("(a _)", 1, 4, "expected a string, a number, '(' or ')', found '_'"),
        ("(user_name)", 1, 6, "expected a string, a number, '(' or ')', found '_'"),
        ("(a -1)", 1, 4, "expected a string, a number, '(' or ')', found '-'"),
        ("(a 1.5)", 1, 5, "expected a string, a number, '(' or ')', found '.'"),
        ("(a 12abc)", 1, 6, "found 'abc' (text must be quoted: \"abc\")"),
        (
            "(completed Intro)",
            1,
            12,
            "expected a string, a number, '(' or ')', "
            "found 'Intro' (text must be quoted: \"Intro\")",
        ),
        ("(a ; comment\n)", 1, 4, "found ';'"),
        ('(a "x', 1, 4, 'expected a closing " for the string that starts here'),
        ("(a 'x\")", 1, 4, "expected a closing ' for the string that starts here"),
        ('(a "x\\")', 1, 4, 'expected a closing " for the string that starts here'),
        ('(a\n  "x\ny" _)', 3, 4, "found '_'"),
        ("(a\u00a0)", 1, 3, "found '\\xa0'"),
        ("(a \x00)", 1, 4, "found '\\x00'"),
        ("(a 99999999999999999999)", 1, 4, "number larger than 9223372036854775807"),
    ],
)
def test_it_reports_what_was_expected_and_where(text, line, col, message):
    with pytest.raises(ParseError) as caught:
        parse(text)
    error = caught.value
    assert (error.line, error.col) == (line, col)
    assert message in error.message
    assert str(error) == f"line {line}, col {col}: {error.message}"


def test_it_raises_parse_errors_that_are_lispish_errors():
    with pytest.raises(LispIshError):
        parse("(")


def test_it_gives_errors_a_json_ready_form():
    with pytest.raises(ParseError) as caught:
        parse("(a")
    assert caught.value.to_dict() == {
        "kind": "parse",
        "message": "expected ')' to close '(' opened at line 1, col 1",
        "line": 1,
        "col": 3,
    }


def test_it_accepts_the_largest_integer_and_leading_zeros():
    assert parse("(a 9223372036854775807)").root.args[0] == Int(2**63 - 1)
    assert parse("(a 0009223372036854775807)").root.args[0] == Int(2**63 - 1)


def test_it_refuses_text_that_is_not_a_str():
    with pytest.raises(TypeError):
        parse(b"(a)")
