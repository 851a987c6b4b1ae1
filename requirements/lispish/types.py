"""Syntax tree nodes: a requirement is a tree of calls, integers and strings.

Nodes compare by structure; their source positions are informative only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Value = int | str | bool
"""What any LispIsh expression evaluates to (``bool`` is a subclass of ``int``)."""

Function = Callable[[list[Value]], Value]
Functions = Mapping[str, Function]


@dataclass(frozen=True, slots=True)
class Int:
    """A non-negative integer literal."""

    value: int
    line: int | None = field(default=None, compare=False, repr=False)
    col: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Str:
    """A string literal."""

    value: str
    line: int | None = field(default=None, compare=False, repr=False)
    col: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A call ``(NAME arg ...)``; the name is stored upper case."""

    name: str
    args: tuple[Node, ...] = ()
    line: int | None = field(default=None, compare=False, repr=False)
    col: int | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Names are case-insensitive: keep one spelling so equality and
        # registry look-ups never depend on how the organizer typed them.
        object.__setattr__(self, "name", self.name.upper())
        object.__setattr__(self, "args", tuple(self.args))


Node = Call | Int | Str
Literal = Int | Str


def type_name(value: Value) -> str:
    """Name the LispIsh type of a value the way organizers read it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def describe(value: Value) -> str:
    """Describe a value for an error message, e.g. ``text "abc"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:30] + "..."
        return f'text "{shown}"'
    return f"{type_name(value)} {value!r}"
