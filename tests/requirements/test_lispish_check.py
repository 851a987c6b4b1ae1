"""Static checks, the block registry, and the helpers built on the tree."""

import json

import pytest

from requirements.lispish import (
    BLOCKS,
    CheckError,
    LispIshError,
    Signature,
    blocks_as_json,
    blocks_markdown,
    from_names,
    parse,
)
from requirements.lispish.blocks import FAMILIES, KIND_TEXT, RETURN_TEXT


@pytest.mark.parametrize(
    "text",
    [
        "(AND)",
        "(OR)",
        '(AND (COMPLETED "Intro" "Warmup") (AFTER "2026-12-01 12:00"))',
        '(OR (COHORT "Staff" 3) (>= (USER-SCORE) 100))',
        "(NOT (BEFORE 1800000000))",
        '(BEFORE "2026-1-5 9:05")',
        '(= (USER-NAME) "alice" (TEAM-NAME))',
        '(= 1 "1")',
        "(< (USER-SCORE) (+ 10 (TRUE)))",
        '(< "a" (MAX "b" (USER-NAME)))',
        "(<= (MIN 1 (USER-ID)) 3)",
        '(>= (+ (SOLVES "Web") (SOLVES)) 3)',
        "(COMPLETED (USER-NAME) (USER-ID))",
        '(AND 1 "x" (FALSE))',
        "(- (USER-SCORE))",
        "(NOT (TEAM-SIZE))",
    ],
)
def test_it_accepts_well_typed_requirements(text):
    assert parse(text).check() is None
    assert parse(text).is_valid()


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("(FOO)", 1, 1, "unknown block FOO"),
        ("(AND (TRUE)\n     (foo 1))", 2, 6, "unknown block FOO"),
        ("(NOT 1 2)", 1, 1, "NOT takes exactly 1 argument, got 2"),
        ("(NOT)", 1, 1, "NOT takes exactly 1 argument, got 0"),
        ("(COMPLETED)", 1, 1, "COMPLETED takes at least 1 argument, got 0"),
        ("(COMPLETED-ANY)", 1, 1, "COMPLETED-ANY takes at least 1 argument"),
        ("(COHORT)", 1, 1, "COHORT takes at least 1 argument, got 0"),
        ("(BEFORE)", 1, 1, "BEFORE takes exactly 1 argument, got 0"),
        ('(AFTER "2026-12-01" 5)', 1, 1, "AFTER takes exactly 1 argument, got 2"),
        ('(SOLVES "Web" "Pwn")', 1, 1, "SOLVES takes 0 to 1 argument, got 2"),
        ("(USER-SCORE 1)", 1, 1, "USER-SCORE takes no arguments, got 1"),
        ("(FALSE 0)", 1, 1, "FALSE takes no arguments, got 1"),
        ("(= 1)", 1, 1, "= takes at least 2 arguments, got 1"),
        ("(/=)", 1, 1, "/= takes at least 2 arguments, got 0"),
        ("(> 1)", 1, 1, "> takes at least 2 arguments, got 1"),
        ("(-)", 1, 1, "- takes at least 1 argument, got 0"),
        ("(MIN)", 1, 1, "MIN takes at least 1 argument, got 0"),
        ('(BEFORE "garbage")', 1, 9, 'BEFORE expects a date as "YYYY-MM-DD" or'),
        ('(AFTER "2026-12-01T12:00")', 1, 8, 'got "2026-12-01T12:00"'),
        ('(AFTER "2026-02-30")', 1, 8, "AFTER expects a date"),
        ("(BEFORE (TRUE))", 1, 9, "BEFORE expects a date"),
        ('(+ 1 "a")', 1, 6, "+ expects a number for argument 2, got text"),
        ("(+ 1 (USER-NAME))", 1, 6, "+ expects a number for argument 2, got text"),
        ('(- "a")', 1, 4, "- expects a number for argument 1, got text"),
        ("(SOLVES 5)", 1, 9, "SOLVES expects text for argument 1, got a number"),
        ("(SOLVES (USER-ID))", 1, 9, "SOLVES expects text for argument 1"),
        ("(COMPLETED (NOT 1))", 1, 12, "got true/false"),
        ('(COHORT "a" (= 1 1))', 1, 13, "COHORT expects a name (text) or an id"),
        ('(< 1 "a")', 1, 6, "< cannot compare text with a number"),
        ('(<= "a" 1)', 1, 9, "<= cannot compare a number with text"),
        ("(> (USER-NAME) (USER-SCORE))", 1, 16, "> cannot compare a number with text"),
        ('(MAX 1 "a")', 1, 8, "MAX cannot compare text with a number"),
        ('(< (MAX "a" "b") 2)', 1, 18, "< cannot compare a number with text"),
        ('(+ (MIN "a"))', 1, 4, "+ expects a number for argument 1, got text"),
        ('(AND (OR (NOT\n  (BEFORE "soon"))))', 2, 11, "BEFORE expects a date"),
    ],
)
def test_it_reports_static_errors_at_the_offending_node(text, line, col, message):
    expression = parse(text)
    with pytest.raises(CheckError) as caught:
        expression.check()
    error = caught.value
    assert isinstance(error, LispIshError)
    assert (error.line, error.col) == (line, col)
    assert message in error.message
    assert not expression.is_valid()


def test_it_checks_platform_functions_declared_as_extra_signatures():
    xor = {"xor": Signature(min_args=2, max_args=2, params=("int",), returns="int")}
    assert parse("(= (XOR 5 6) 3)").check(xor) is None
    with pytest.raises(CheckError, match="XOR takes exactly 2 arguments, got 1"):
        parse("(XOR 5)").check(xor)
    with pytest.raises(CheckError, match="XOR expects a number for argument 2"):
        parse('(XOR 5 "6")').check(xor)
    with pytest.raises(CheckError, match="unknown block XOR"):
        parse("(XOR 5 6)").check()


def test_it_lists_the_names_a_requirement_calls():
    expression = parse('(and (completed "A") (or (cohort "B") (completed 3)))')
    assert expression.names() == {"AND", "COMPLETED", "OR", "COHORT"}


def test_it_lists_the_literal_arguments_of_a_block_in_source_order():
    expression = parse(
        '(OR (completed "A" 2) (AND (COMPLETED "B" (USER-NAME)) (COHORT "C")))'
    )
    assert expression.literals("completed") == ["A", 2, "B"]
    assert expression.literals("COHORT") == ["C"]
    assert expression.literals("BEFORE") == []


@pytest.mark.parametrize(
    ("names", "text"),
    [
        (["Intro"], '(COMPLETED "Intro")'),
        (["Intro", 3, 'Say "hi"'], '(COMPLETED "Intro" 3 "Say \\"hi\\"")'),
    ],
)
def test_it_builds_completed_from_a_ctfcli_requirements_list(names, text):
    expression = from_names(names)
    assert expression.emit() == text
    assert expression == parse(text)
    expression.check()


@pytest.mark.parametrize("names", [[], [True], [-1], [1.5], [None], [2**63]])
def test_it_refuses_ctfcli_lists_it_cannot_represent(names):
    with pytest.raises(CheckError):
        from_names(names)


def test_it_documents_every_block_in_one_registry():
    for name, block in BLOCKS.items():
        assert block.name == name == name.upper()
        assert block.family in FAMILIES
        assert block.summary and block.summary.endswith(".")
        assert block.returns in RETURN_TEXT
        assert all(kind in KIND_TEXT for kind in block.params)
        example = parse(block.example)
        assert name in example.names()
        example.check()


def test_it_has_the_plugin_blocks_and_our_team_additions():
    plugin = {"=", "/=", "<", "<=", ">", ">=", "AND", "OR", "NOT", "+", "-"}
    plugin |= {"MAX", "MIN", "USER-NAME", "USER-ID", "USER-EMAIL", "USER-SCORE"}
    plugin |= {"BEFORE", "AFTER", "COMPLETED", "COHORT"}
    ours = {"TRUE", "FALSE", "TEAM-NAME", "TEAM-SIZE", "SOLVES", "COMPLETED-ANY"}
    assert set(BLOCKS) == plugin | ours


def test_it_serialises_the_registry_for_the_block_editor():
    data = json.loads(json.dumps(blocks_as_json()))
    assert [block["name"] for block in data] == list(BLOCKS)
    completed = next(block for block in data if block["name"] == "COMPLETED")
    assert completed["family"] == "dynamic"
    assert (completed["min_args"], completed["max_args"]) == (1, None)
    assert completed["params"] == ["ref"]
    assert completed["arity"] == "at least 1 argument"


def test_it_renders_a_markdown_reference_naming_every_block():
    markdown = blocks_markdown()
    for name in BLOCKS:
        assert f"| `{name}` |" in markdown
    for family in FAMILIES:
        assert f"## {family.capitalize()}" in markdown
