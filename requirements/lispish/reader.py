"""Reader: text to tree, with an explicit stack and hard limits.

Grammar (whitespace, i.e. spaces, tabs and newlines, is free between tokens)::

    requirement = call
    call        = "(" name { argument } ")"
    argument    = call | integer | string
    name        = 1*( ASCII letter | "<" | "=" | ">" | "/" | "+" | "-" )
    integer     = 1*DIGIT
    string      = '"' chars '"' | "'" chars "'"   ; backslash escapes

Escapes: ``\\n`` newline, ``\\t`` tab; any other escaped character stands for
itself (``\\\\``, ``\\"``, ``\\'``), as in the plugin. There are no comments: the
plugin has none, and ``;`` inside a pasted script is a mistake worth reporting.

The reader never recurses, so hostile input cannot exhaust the Python stack;
``MAX_LENGTH``, ``MAX_DEPTH`` and ``MAX_NODES`` bound time and memory.
"""

from __future__ import annotations

import re
from typing import NoReturn

from .errors import ParseError
from .types import Call, Int, Node, Str

MAX_LENGTH = 65_536
MAX_DEPTH = 64
MAX_NODES = 10_000
MAX_INT = 2**63 - 1

# Alternatives start with distinct characters, and the string patterns are
# "unrolled loops", so matching is linear in the input: no backtracking blow-up.
_TOKEN = re.compile(
    r"""
      (?P<ws>[ \t\r\n]+)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<int>[0-9]+)
    | (?P<name>[A-Za-z<=>/+\-]+)
    | (?P<str>"[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*')
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPED = {"n": "\n", "t": "\t"}
_ARGUMENT = "a string, a number, '(' or ')'"


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body
    return _ESCAPE.sub(lambda m: _ESCAPED.get(m.group(1), m.group(1)), body)


def _show(token: str) -> str:
    return repr(token if len(token) <= 20 else token[:20] + "...")


def position(text: str, index: int) -> tuple[int, int]:
    """Return the 1-based (line, col) of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def read(text: str) -> Call:
    """Parse one requirement into a tree, or raise ParseError."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        line, col = position(text, MAX_LENGTH)
        raise ParseError(f"input longer than {MAX_LENGTH} characters", line, col)

    # Each frame is [name, line, col, args] for a call still open.
    stack: list[list] = []
    root: Call | None = None
    want_name = False
    nodes = 0
    pos, line, line_start, end = 0, 1, 0, len(text)

    while True:
        col = pos - line_start + 1
        match = _TOKEN.match(text, pos)
        if match is None:
            if pos >= end:
                break
            char = text[pos]
            if char in "\"'":
                raise ParseError(
                    f"expected a closing {char} for the string that starts here",
                    line,
                    col,
                )
            _unexpected(stack, root, want_name, _show(char), line, col)
        kind, token = match.lastgroup, match.group()
        pos, token_line = match.end(), line
        if kind == "ws" or kind == "str":
            newlines = token.count("\n")
            if newlines:
                line += newlines
                line_start = match.start() + token.rindex("\n") + 1
            if kind == "ws":
                continue

        if want_name:
            if kind != "name":
                _unexpected(stack, root, want_name, _show(token), token_line, col)
            stack[-1][0] = token.upper()
            want_name = False
            continue
        if kind == "name" or (not stack and (kind != "open" or root is not None)):
            _unexpected(stack, root, want_name, _show(token), token_line, col)

        if kind == "close":
            name, call_line, call_col, args = stack.pop()
            call = Call(name, tuple(args), call_line, call_col)
            if stack:
                stack[-1][3].append(call)
            else:
                root = call
            continue

        nodes += 1
        if nodes > MAX_NODES:
            raise ParseError(f"more than {MAX_NODES} nodes", token_line, col)
        if kind == "open":
            if len(stack) >= MAX_DEPTH:
                raise ParseError(f"nesting deeper than {MAX_DEPTH}", line, col)
            stack.append(["", line, col, []])
            want_name = True
            continue
        node: Node
        if kind == "int":
            digits = token.lstrip("0") or "0"
            if len(digits) > 19 or int(digits) > MAX_INT:
                raise ParseError(f"number larger than {MAX_INT}", line, col)
            node = Int(int(digits), line, col)
        else:
            node = Str(_unescape(token[1:-1]), token_line, col)
        stack[-1][3].append(node)

    if root is not None:
        return root
    col = end - line_start + 1
    if stack and not want_name:
        _, open_line, open_col, _ = stack[-1]
        raise ParseError(
            f"expected ')' to close '(' opened at line {open_line}, col {open_col}",
            line,
            col,
        )
    _unexpected(stack, root, want_name, "end of input", line, col)


def _unexpected(
    stack: list[list],
    root: Call | None,
    want_name: bool,
    found: str,
    line: int,
    col: int,
) -> NoReturn:
    """Raise the ParseError saying what was expected where ``found`` stands."""
    if root is not None:
        expected = "end of input after the requirement"
    elif not stack:
        expected = "'(' to start the requirement"
    elif want_name:
        expected = "a block name after '('"
    else:
        expected = _ARGUMENT
        if found[1:2].isalpha():
            found += f' (text must be quoted: "{found[1:-1]}")'
    raise ParseError(f"expected {expected}, found {found}", line, col)
