"""Requirement text to a checked Expression, cached by text (parsing is per save,
evaluation is per page view, so a page never parses)."""

from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils.html import format_html

from requirements.lispish import (
    CHALLENGE_BLOCKS,
    Call,
    Expression,
    LispIshError,
    Str,
    from_names,
    parse,
)
from requirements.lispish.types import Node


@lru_cache(maxsize=4096)
def compile_requirement(text: str) -> Expression:
    """Parse and statically check `text`; raise LispIshError with its place."""
    expression = parse(text)
    expression.check()
    return expression


# How a challenge the player may not know of reads in an explanation.
UNNAMED = "another challenge"


@lru_cache(maxsize=4096)
def explain_requirement(text: str, unnamed: frozenset[str] = frozenset()) -> str:
    """The plain-English explanation of `text`, shown on every locked card.

    Challenge names in `unnamed` (as written in `text`) read as UNNAMED: a
    locked card must not tell a player the name of a challenge they cannot see.
    """
    expression = compile_requirement(text)
    if unnamed:
        expression = Expression(_unnamed(expression.root, unnamed))
    return expression.explain()


def _unnamed(node: Node, unnamed: frozenset[str], naming: bool = False) -> Node:
    if isinstance(node, Call):
        naming = node.name in CHALLENGE_BLOCKS
        return Call(node.name, tuple(_unnamed(a, unnamed, naming) for a in node.args))
    if naming and isinstance(node, Str) and node.value in unnamed:
        return Str(UNNAMED)
    return node


def requirement_from_spec(value: str | list | tuple) -> str:
    """Canonical text for a spec's requirement: LispIsh, or ctfcli's list of names."""
    if isinstance(value, str):
        return compile_requirement(value).emit() if value.strip() else ""
    return from_names(list(value)).emit() if value else ""


def caret_excerpt(text: str, line: int | None, col: int | None) -> str:
    """Return the offending source line with a caret under the column."""
    if line is None:
        return ""
    lines = text.splitlines() or [""]
    source = lines[min(line, len(lines)) - 1]
    return f"{source}\n{' ' * max((col or 1) - 1, 0)}^"


def validation_error(text: str, error: LispIshError) -> ValidationError:
    """A form error that says where: line, column, and a caret under the spot."""
    excerpt = caret_excerpt(text, error.line, error.col)
    message = (
        format_html('{}<pre class="lispish-caret">{}</pre>', str(error), excerpt)
        if excerpt
        else str(error)
    )
    return ValidationError(
        message,
        code="invalid_requirement",
        params={"line": error.line, "col": error.col},
    )
