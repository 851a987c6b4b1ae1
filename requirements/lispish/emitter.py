"""Canonical text for a tree: upper-case names, double-quoted strings.

A call fits on one line when it can within ``WIDTH`` columns; otherwise its
arguments go one per line, indented two spaces deeper, Lisp style:

    (AND
      (COMPLETED "Intro" "Warmup")
      (OR (COHORT "Students") (>= (USER-SCORE) 100)))
"""

from __future__ import annotations

from .types import Call, Int, Node

WIDTH = 72
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"})


def quote(text: str) -> str:
    """Return a string literal that reads back as ``text``."""
    return '"' + text.translate(_ESCAPES) + '"'


def one_line(node: Node) -> str:
    """Return the node's text on a single line."""
    if isinstance(node, Int):
        return str(node.value)
    if not isinstance(node, Call):
        return quote(node.value)
    if not node.args:
        return f"({node.name})"
    return f"({node.name} " + " ".join(one_line(arg) for arg in node.args) + ")"


def emit(node: Node, indent: int = 0) -> str:
    """Return the node's canonical text, breaking lines past ``WIDTH`` columns."""
    text = one_line(node)
    if not isinstance(node, Call) or not node.args or indent + len(text) <= WIDTH:
        return text
    pad = "\n" + " " * (indent + 2)
    args = "".join(pad + emit(arg, indent + 2) for arg in node.args)
    return f"({node.name}{args})"
