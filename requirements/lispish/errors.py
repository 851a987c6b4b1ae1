"""Errors raised by the LispIsh engine, one class per phase."""

from __future__ import annotations

from typing import Any, Self


class LispIshError(Exception):
    """Base class of every LispIsh error; carries a place when one exists.

    ``message`` says what went wrong without the place; ``str(error)`` prefixes
    it with ``line L, col C:`` when the error points at a spot in the source.
    """

    kind = "error"

    def __init__(
        self, message: str, line: int | None = None, col: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"line {self.line}, col {self.col}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.line, self.col))

    def at(self, line: int | None, col: int | None) -> Self:
        """Point the error at a place unless it already has one."""
        if self.line is None and line is not None:
            self.line, self.col = line, col
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description for API and admin screens."""
        return {
            "kind": self.kind,
            "message": self.message,
            "line": self.line,
            "col": self.col,
        }


class ParseError(LispIshError):
    """The text is not a well-formed requirement."""

    kind = "parse"


class CheckError(LispIshError):
    """The requirement is well formed but would fail: unknown block, arity, type."""

    kind = "check"


class EvalError(LispIshError):
    """Evaluating the requirement failed."""

    kind = "eval"
