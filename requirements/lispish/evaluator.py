"""Evaluation: compile a tree once into closures, then run it per player.

A page view evaluates hundreds of requirements, so everything that depends only
on the tree (block look-up, arity) is decided once, at compile time; running a
compiled requirement costs a few Python calls per node.

AND and OR short-circuit: arguments after the deciding one are not evaluated,
which spares the platform's database look-ups. ``trace`` follows the same
order and marks the skipped nodes ``evaluated=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .blocks import BLOCKS, Block
from .builtins import EAGER
from .emitter import one_line
from .errors import EvalError, LispIshError
from .types import Call, Function, Functions, Node, Value, describe

Compiled = Callable[[Functions], Value]

_KIND_CHECKS: dict[str, Callable[[Any], bool]] = {
    "any": lambda v: True,
    "int": lambda v: isinstance(v, int),
    "str": lambda v: isinstance(v, str),
    "date": lambda v: isinstance(v, str | int) and not isinstance(v, bool),
    "ref": lambda v: isinstance(v, str | int) and not isinstance(v, bool),
}
_KIND_NAMES = {
    "int": "a number",
    "str": "text",
    "date": "a date (epoch seconds or text)",
    "ref": "a name or an id",
}


def arity_error(node: Call, block: Block) -> EvalError | None:
    """Return the error for a call with the wrong number of arguments, if any."""
    if block.accepts(len(node.args)):
        return None
    return EvalError(
        f"{node.name} takes {block.arity_text()}, got {len(node.args)}",
        node.line,
        node.col,
    )


def _check_kinds(node: Call, block: Block, values: list[Value]) -> None:
    for index, value in enumerate(values):
        kind = block.param(index)
        if kind != "any" and not _KIND_CHECKS[kind](value):
            arg = node.args[index]
            raise EvalError(
                f"{node.name} expects {_KIND_NAMES[kind]} for argument {index + 1}, "
                f"got {describe(value)}",
                arg.line,
                arg.col,
            )


def _call_platform(node: Call, function: Function, values: list[Value]) -> Value:
    """Run a platform function; never let its own exceptions escape."""
    try:
        result = function(values)
    except LispIshError as error:
        error.at(node.line, node.col)
        raise
    except Exception as error:
        raise EvalError(
            f"{node.name} failed: {type(error).__name__}: {error}", node.line, node.col
        ) from error
    if not isinstance(result, int | str):
        raise EvalError(
            f"{node.name} returned {describe(result)}; blocks must return "
            "a number, text or a boolean",
            node.line,
            node.col,
        )
    return result


def apply(node: Call, values: list[Value], functions: Functions) -> Value:
    """Apply a non-short-circuit call to its evaluated arguments."""
    builtin = EAGER.get(node.name)
    if builtin is not None:
        try:
            return builtin(values)
        except EvalError as error:
            error.at(node.line, node.col)
            raise
    block = BLOCKS.get(node.name)
    if block is not None:
        _check_kinds(node, block, values)
    function = functions.get(node.name)
    if function is None:
        raise _missing(node)
    return _call_platform(node, function, values)


def compile_node(node: Node) -> Compiled:
    """Turn a tree into a closure taking the platform's functions."""
    if not isinstance(node, Call):
        value = node.value
        return lambda functions: value
    block = BLOCKS.get(node.name)
    error = arity_error(node, block) if block is not None else None
    if error is not None:
        message = error.message

        def fail(functions: Functions) -> Value:
            raise EvalError(message, node.line, node.col)

        return fail
    args = tuple(compile_node(arg) for arg in node.args)
    if node.name == "AND":

        def all_of(functions: Functions) -> Value:
            for arg in args:
                if not arg(functions):
                    return False
            return True

        return all_of
    if node.name == "OR":

        def any_of(functions: Functions) -> Value:
            for arg in args:
                if arg(functions):
                    return True
            return False

        return any_of

    builtin = EAGER.get(node.name)
    if builtin is not None:

        def call_builtin(functions: Functions) -> Value:
            try:
                return builtin([arg(functions) for arg in args])
            except EvalError as error:
                # Errors from arguments already carry their own place.
                error.at(node.line, node.col)
                raise

        return call_builtin

    return _compile_platform(node, block, args)


def _compile_platform(
    node: Call, block: Block | None, args: tuple[Compiled, ...]
) -> Compiled:
    """Compile a call to a platform function, checking what can be checked now."""
    name = node.name
    if all(not isinstance(arg, Call) for arg in node.args):
        # Literal arguments, as in (COMPLETED "Intro"): check their kinds once.
        constant = [arg.value for arg in node.args]
        try:
            if block is not None:
                _check_kinds(node, block, constant)
        except EvalError as error:
            message, line, col = error.message, error.line, error.col

            def fail(functions: Functions) -> Value:
                raise EvalError(message, line, col)

            return fail

        def call_constant(functions: Functions) -> Value:
            function = functions.get(name)
            if function is None:
                raise _missing(node)
            return _call_platform(node, function, constant.copy())

        return call_constant

    def call(functions: Functions) -> Value:
        # Same order as apply(): arguments, their kinds, then the function.
        values = [arg(functions) for arg in args]
        if block is not None:
            _check_kinds(node, block, values)
        function = functions.get(name)
        if function is None:
            raise _missing(node)
        return _call_platform(node, function, values)

    return call


def _missing(node: Call) -> EvalError:
    if node.name in BLOCKS:
        message = f"{node.name} is not available here"
    else:
        message = f"unknown block {node.name}"
    return EvalError(message, node.line, node.col)


@dataclass
class TraceNode:
    """One call in a trace: its text, and its value or error."""

    text: str
    name: str
    line: int | None
    col: int | None
    value: Value | None = None
    error: LispIshError | None = None
    evaluated: bool = True
    children: list[TraceNode] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether the call was evaluated without error."""
        return self.evaluated and self.error is None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready tree for the admin "Test as" screen."""
        return {
            "text": self.text,
            "name": self.name,
            "line": self.line,
            "col": self.col,
            "value": self.value,
            "error": str(self.error) if self.error else None,
            "evaluated": self.evaluated,
            "children": [child.to_dict() for child in self.children],
        }


def _skipped(node: Call) -> TraceNode:
    return TraceNode(
        one_line(node),
        node.name,
        node.line,
        node.col,
        evaluated=False,
        children=[_skipped(a) for a in node.args if isinstance(a, Call)],
    )


def trace(node: Call, functions: Mapping[str, Function]) -> TraceNode:
    """Evaluate like ``compile_node`` does, recording every call's outcome."""
    result = TraceNode(one_line(node), node.name, node.line, node.col)
    block = BLOCKS.get(node.name)
    error = arity_error(node, block) if block is not None else None
    if error is not None:
        result.error = error
        result.children = [_skipped(a) for a in node.args if isinstance(a, Call)]
        return result
    short_circuit = {"AND": False, "OR": True}.get(node.name)
    values: list[Value] = []
    for arg in node.args:
        if result.error is not None or (
            short_circuit is not None and values and bool(values[-1]) is short_circuit
        ):
            if isinstance(arg, Call):
                result.children.append(_skipped(arg))
            continue
        if isinstance(arg, Call):
            child = trace(arg, functions)
            result.children.append(child)
            if child.error is not None:
                result.error = child.error
                continue
            values.append(child.value)  # type: ignore[arg-type]
        else:
            values.append(arg.value)
    if result.error is not None:
        return result
    try:
        if short_circuit is None:
            result.value = apply(node, values, functions)
        elif values and bool(values[-1]) is short_circuit:
            result.value = short_circuit
        else:
            result.value = not short_circuit
    except LispIshError as error:
        result.error = error
    return result
