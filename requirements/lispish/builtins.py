"""Built-in blocks that take evaluated arguments (AND and OR live in the evaluator).

Each function takes the list of argument values and raises EvalError without a
place; the evaluator points the error at the call.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import EvalError
from .types import Value, describe, type_name


def _numbers(name: str, values: list[Value]) -> list[int]:
    for index, value in enumerate(values, 1):
        if not isinstance(value, int):
            raise EvalError(
                f"{name} expects a number for argument {index}, got {describe(value)}"
            )
    return values  # type: ignore[return-value]


def _same_type(name: str, values: list[Value]) -> None:
    """Refuse to order a number against text (Python would raise TypeError)."""
    first = isinstance(values[0], str)
    for index, value in enumerate(values[1:], 2):
        if isinstance(value, str) != first:
            raise EvalError(
                f"{name} cannot compare {type_name(value)} (argument {index}) "
                f"with {type_name(values[0])} (argument 1)"
            )


def _ordered(name: str, holds: Callable[[Value, Value], bool]) -> Callable:
    def compare(values: list[Value]) -> bool:
        _same_type(name, values)
        return all(holds(a, b) for a, b in zip(values, values[1:], strict=False))

    return compare


def _equal(values: list[Value]) -> bool:
    # Python equality, as in the plugin: True = 1, "1" is not 1.
    first = values[0]
    return all(value == first for value in values[1:])


def _distinct(values: list[Value]) -> bool:
    return len(set(values)) == len(values)


def _plus(values: list[Value]) -> int:
    return sum(_numbers("+", values))


def _minus(values: list[Value]) -> int:
    first, *rest = _numbers("-", values)
    return -first if not rest else first - sum(rest)


def _extreme(name: str, pick: Callable) -> Callable:
    def extreme(values: list[Value]) -> Value:
        _same_type(name, values)
        result = pick(values)
        return int(result) if isinstance(result, bool) else result

    return extreme


EAGER: dict[str, Callable[[list[Value]], Value]] = {
    "TRUE": lambda values: True,
    "FALSE": lambda values: False,
    "NOT": lambda values: not values[0],
    "=": _equal,
    "/=": _distinct,
    "<": _ordered("<", lambda a, b: a < b),
    "<=": _ordered("<=", lambda a, b: a <= b),
    ">": _ordered(">", lambda a, b: a > b),
    ">=": _ordered(">=", lambda a, b: a >= b),
    "+": _plus,
    "-": _minus,
    "MAX": _extreme("MAX", max),
    "MIN": _extreme("MIN", min),
}
"""Built-in implementations by name; arity is checked before they run."""
