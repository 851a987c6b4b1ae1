"""Requirement text to a checked Expression, cached by text (parsing is per save,
evaluation is per page view, so a page never parses)."""

from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils.html import format_html

from requirements.lispish import Expression, LispIshError, from_names, parse


@lru_cache(maxsize=4096)
def compile_requirement(text: str) -> Expression:
    """Parse and statically check `text`; raise LispIshError with its place."""
    expression = parse(text)
    expression.check()
    return expression


@lru_cache(maxsize=4096)
def explain_requirement(text: str) -> str:
    """The plain-English explanation of `text`, shown on every locked card."""
    return compile_requirement(text).explain()


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
