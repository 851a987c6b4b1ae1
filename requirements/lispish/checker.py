"""Static checking: find what would fail, without evaluating anything.

Checks that every block exists, has a valid number of arguments, and gets
arguments of the right type as far as the tree tells (literals, and the
declared return type of nested calls); date strings must be well formed.
"""

from __future__ import annotations

from collections.abc import Mapping

from .blocks import BLOCKS, KIND_TEXT, Signature
from .emitter import quote
from .errors import CheckError
from .timeutil import DATE_FORMATS, is_date_literal
from .types import Call, Int, Node, Str

# Static types are "int", "str", "bool" or "any" (unknown until run time).
_ACCEPTS = {
    "any": {"int", "str", "bool", "any"},
    "int": {"int", "bool", "any"},
    "str": {"str", "any"},
    "date": {"int", "str", "any"},
    "ref": {"int", "str", "any"},
}
_TYPE_TEXT = {"int": "a number", "str": "text", "bool": "true/false"}


def check(node: Node, extra: Mapping[str, Signature] | None = None) -> str:
    """Raise CheckError at the first problem; return the node's static type.

    ``extra`` declares platform functions that are not in ``BLOCKS``.
    """
    signatures = {name.upper(): sig for name, sig in (extra or {}).items()}
    return _check(node, signatures)


def _static_type(node: Node) -> str:
    return "int" if isinstance(node, Int) else "str"


def _check(node: Node, extra: Mapping[str, Signature]) -> str:
    if not isinstance(node, Call):
        return _static_type(node)
    signature = BLOCKS.get(node.name) or extra.get(node.name)
    if signature is None:
        raise CheckError(f"unknown block {node.name}", node.line, node.col)
    if not signature.accepts(len(node.args)):
        raise CheckError(
            f"{node.name} takes {signature.arity_text()}, got {len(node.args)}",
            node.line,
            node.col,
        )
    types = []
    for index, arg in enumerate(node.args):
        kind = signature.param(index)
        found = _check(arg, extra)
        if found not in _ACCEPTS.get(kind, _ACCEPTS["any"]):
            raise CheckError(
                f"{node.name} expects {KIND_TEXT.get(kind, kind)} "
                f"for argument {index + 1}, got {_TYPE_TEXT[found]}",
                arg.line,
                arg.col,
            )
        if kind == "date" and isinstance(arg, Str) and not is_date_literal(arg.value):
            raise CheckError(
                f"{node.name} expects a date as {DATE_FORMATS}, got {quote(arg.value)}",
                arg.line,
                arg.col,
            )
        types.append((found, arg))
    if signature.same_type:
        _check_same_type(node, types)
    if signature.returns == "same":
        known = {t for t, _ in types if t != "any"}
        if known == {"str"}:
            return "str"
        return "int" if known and "str" not in known else "any"
    return signature.returns


def _check_same_type(node: Call, types: list[tuple[str, Node]]) -> None:
    """Refuse an ordering between text and numbers when the tree shows one."""
    first = next(((t, arg) for t, arg in types if t != "any"), None)
    if first is None:
        return
    first_is_text = first[0] == "str"
    for found, arg in types:
        if found != "any" and (found == "str") != first_is_text:
            raise CheckError(
                f"{node.name} cannot compare {_TYPE_TEXT[found]} with "
                f"{_TYPE_TEXT[first[0]]}",
                arg.line,
                arg.col,
            )
