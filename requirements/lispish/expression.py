"""Expression: a parsed requirement and everything one can do with it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import checker, emitter, evaluator, explainer
from .blocks import CHALLENGE_BLOCKS, Signature
from .errors import CheckError
from .reader import MAX_DEPTH, MAX_INT, MAX_NODES, read
from .types import Call, Function, Int, Node, Str, Value


class Expression:
    """A requirement: one call tree, compiled for evaluation on first use.

    Expressions compare and hash by structure; source positions are ignored.
    They pickle without their compiled form, so they can sit in a cache.
    """

    __slots__ = ("root", "_compiled")

    def __init__(self, root: Call) -> None:
        if not isinstance(root, Call):
            raise TypeError(f"a requirement is a call, got {type(root).__name__}")
        _check_shape(root)
        self.root = root
        self._compiled: evaluator.Compiled | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expression):
            return NotImplemented
        return self.root == other.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"Expression({emitter.one_line(self.root)!r})"

    def __str__(self) -> str:
        return self.emit()

    def __getstate__(self) -> Call:
        return self.root

    def __setstate__(self, root: Call) -> None:
        self.root = root
        self._compiled = None

    def evaluate(self, functions: Mapping[str, Function] | None = None) -> Value:
        """Evaluate with the platform's dynamic blocks, keyed by upper-case name."""
        if self._compiled is None:
            self._compiled = evaluator.compile_node(self.root)
        return self._compiled(functions if functions is not None else {})

    def trace(
        self, functions: Mapping[str, Function] | None = None
    ) -> evaluator.TraceNode:
        """Evaluate, recording each call's value or error instead of raising."""
        return evaluator.trace(self.root, functions if functions is not None else {})

    def emit(self) -> str:
        """Return the canonical text, which parses back to an equal expression."""
        return emitter.emit(self.root)

    def explain(self) -> str:
        """Describe the requirement in plain English for players."""
        return explainer.explain(self.root)

    def check(self, extra: Mapping[str, Signature] | None = None) -> None:
        """Raise CheckError if evaluation would fail whatever the player."""
        checker.check(self.root, extra)

    def is_valid(self, extra: Mapping[str, Signature] | None = None) -> bool:
        """Tell whether ``check`` passes."""
        try:
            self.check(extra)
        except CheckError:
            return False
        return True

    def names(self) -> set[str]:
        """Return the upper-case names of every block called."""
        return {node.name for node in self.nodes() if isinstance(node, Call)}

    def literals(self, block: str) -> list[int | str]:
        """Return the literal arguments given to ``block``, in source order.

        E.g. ``literals("COMPLETED")`` lists the challenges a requirement names,
        so the platform can check they exist when the requirement is saved.
        """
        name = block.upper()
        return [
            arg.value
            for node in self.nodes()
            if isinstance(node, Call) and node.name == name
            for arg in node.args
            if not isinstance(arg, Call)
        ]

    def challenge_refs(self) -> list[Int | Str]:
        """The literal challenge names and ids (with their places), in order."""
        return [
            arg
            for node in self.nodes()
            if isinstance(node, Call) and node.name in CHALLENGE_BLOCKS
            for arg in node.args
            if isinstance(arg, (Int, Str))
        ]

    def nodes(self) -> Iterable[Node]:
        """Yield every node, parents before children, in source order."""
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            yield node
            if isinstance(node, Call):
                stack.extend(reversed(node.args))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary for APIs."""
        return {"text": self.emit(), "explanation": self.explain()}


def _check_shape(root: Call) -> None:
    """Bound depth and size of hand-built trees as the reader bounds parsed ones.

    Every other phase recurses, so this is what keeps them off the stack limit.
    """
    stack: list[tuple[Node, int]] = [(root, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise CheckError(f"more than {MAX_NODES} nodes", root.line, root.col)
        if isinstance(node, Call):
            if depth > MAX_DEPTH:
                raise CheckError(
                    f"nesting deeper than {MAX_DEPTH}", node.line, node.col
                )
            stack.extend((arg, depth + 1) for arg in node.args)
        elif isinstance(node, Int):
            # Only what the reader can read back, so emit() round-trips.
            value = node.value
            if isinstance(value, bool) or not 0 <= value <= MAX_INT:
                raise CheckError(
                    f"integer literal out of range: {value!r}", node.line, node.col
                )
        elif not isinstance(node, Str):
            raise TypeError(f"not a LispIsh node: {node!r}")


def parse(text: str) -> Expression:
    """Parse one requirement, or raise ParseError with its line and column."""
    return Expression(read(text))


def from_names(names: Iterable[str | int]) -> Expression:
    """Build ``(COMPLETED ...)`` from challenge names or ids (ctfcli lists)."""
    args: list[Node] = []
    for name in names:
        if isinstance(name, str):
            args.append(Str(name))
        elif isinstance(name, int) and not isinstance(name, bool):
            if not 0 <= name <= MAX_INT:
                raise CheckError(f"challenge id out of range: {name}")
            args.append(Int(name))
        else:
            raise CheckError(f"expected a challenge name or id, got {name!r}")
    if not args:
        raise CheckError("COMPLETED needs at least one challenge name or id")
    return Expression(Call("COMPLETED", tuple(args)))
