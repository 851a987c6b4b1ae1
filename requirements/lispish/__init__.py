"""LispIsh: the small Lisp-like language organizers gate challenges with.

Compatible with the requirement scripts of the CTFd_unique_challenges plugin::

    >>> from requirements.lispish import parse
    >>> requirement = parse('(and (completed "Intro") (>= (user-score) 100))')
    >>> requirement.emit()
    '(AND (COMPLETED "Intro") (>= (USER-SCORE) 100))'
    >>> requirement.explain()
    'Solve Intro and score at least 100'
    >>> requirement.evaluate({"COMPLETED": lambda names: True,
    ...                       "USER-SCORE": lambda args: 120})
    True

Phases, one module each: ``reader`` (text to tree), ``types`` (the tree),
``checker`` (static checks), ``evaluator`` and ``builtins`` (running it),
``emitter`` (tree to text), ``explainer`` (tree to English), ``blocks`` (the
registry all of them share), ``timeutil`` (dates for BEFORE and AFTER).
No Django in here: the platform supplies dynamic blocks as plain callables.
"""

from .blocks import (
    BLOCKS,
    CHALLENGE_BLOCKS,
    Block,
    Signature,
    blocks_as_json,
    blocks_markdown,
)
from .errors import CheckError, EvalError, LispIshError, ParseError
from .evaluator import TraceNode
from .expression import Expression, from_names, parse
from .reader import MAX_DEPTH, MAX_INT, MAX_LENGTH, MAX_NODES
from .types import Call, Int, Str, Value

__all__ = [
    "BLOCKS",
    "CHALLENGE_BLOCKS",
    "MAX_DEPTH",
    "MAX_INT",
    "MAX_LENGTH",
    "MAX_NODES",
    "Block",
    "Call",
    "CheckError",
    "EvalError",
    "Expression",
    "Int",
    "LispIshError",
    "ParseError",
    "Signature",
    "Str",
    "TraceNode",
    "Value",
    "blocks_as_json",
    "blocks_markdown",
    "from_names",
    "parse",
]
