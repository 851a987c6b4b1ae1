"""The block registry: every block LispIsh knows, in one place.

The static checker, the evaluator's argument checks, the explainer, the admin
block editor (``blocks_as_json``) and the reference docs (``blocks_markdown``)
all read ``BLOCKS``; add a block here and every one of them learns it.

Families:

* ``constant``: no arguments, always the same value.
* ``logical``: yield true or false (connectives and comparisons).
* ``arithmetic``: compute numbers.
* ``dynamic``: depend on the player or the clock; the platform implements them
  and passes them to ``Expression.evaluate`` in the ``functions`` mapping.

Argument kinds (``Signature.params``):

* ``any``: any value; ``int``: a number (booleans count as 1 and 0);
  ``str``: text; ``date``: epoch seconds or a "YYYY-MM-DD[ HH:MM]" string;
  ``ref``: a name (text) or an id (number).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KIND_TEXT = {
    "any": "any value",
    "int": "a number",
    "str": "text",
    "date": 'a date (epoch seconds, "YYYY-MM-DD" or "YYYY-MM-DD HH:MM")',
    "ref": "a name (text) or an id (number)",
}
RETURN_TEXT = {
    "any": "any value",
    "int": "number",
    "str": "text",
    "bool": "true/false",
    "same": "same as its arguments",
}
FAMILIES = ("constant", "logical", "arithmetic", "dynamic")


@dataclass(frozen=True, kw_only=True)
class Signature:
    """What a block accepts and returns; enough to check a call statically.

    ``params`` gives the kind of each argument; the last one repeats for the
    remaining arguments. ``same_type`` asks for all numbers or all text.
    """

    min_args: int = 0
    max_args: int | None = None
    params: tuple[str, ...] = ()
    returns: str = "any"
    same_type: bool = False

    def accepts(self, count: int) -> bool:
        """Tell whether a call may have ``count`` arguments."""
        return count >= self.min_args and (
            self.max_args is None or count <= self.max_args
        )

    def param(self, index: int) -> str:
        """Return the kind of the argument at ``index`` (0-based)."""
        if not self.params:
            return "any"
        return self.params[min(index, len(self.params) - 1)]

    def arity_text(self) -> str:
        """Describe the accepted number of arguments, e.g. "at least 1 argument"."""
        low, high = self.min_args, self.max_args
        if high is None:
            return f"at least {_arguments(low)}" if low else "any number of arguments"
        if low == high:
            return "no arguments" if low == 0 else f"exactly {_arguments(low)}"
        return f"{low} to {_arguments(high)}"


def _arguments(count: int) -> str:
    return f"{count} argument" if count == 1 else f"{count} arguments"


@dataclass(frozen=True, kw_only=True)
class Block(Signature):
    """A documented block: its signature plus what organizers need to know."""

    name: str
    family: str
    summary: str
    example: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description for the admin block editor."""
        return {
            "name": self.name,
            "family": self.family,
            "min_args": self.min_args,
            "max_args": self.max_args,
            "params": list(self.params),
            "returns": self.returns,
            "same_type": self.same_type,
            "arity": self.arity_text(),
            "summary": self.summary,
            "example": self.example,
        }


# The blocks whose arguments name challenges (COHORT's name cohorts).
CHALLENGE_BLOCKS = ("COMPLETED", "COMPLETED-ANY")


def _block(name: str, family: str, summary: str, example: str, **kw: Any) -> Block:
    return Block(name=name, family=family, summary=summary, example=example, **kw)


_ORDER = dict(min_args=2, params=("any",), returns="bool", same_type=True)
_NUMBERS = dict(params=("int",), returns="int")

_ALL = (
    # constant: the block editor needs a leaf for "always" / "never".
    _block("TRUE", "constant", "Always true.", "(TRUE)", max_args=0, returns="bool"),
    _block(
        "FALSE",
        "constant",
        "Always false: keeps a challenge locked.",
        "(FALSE)",
        max_args=0,
        returns="bool",
    ),
    # logical
    _block(
        "AND",
        "logical",
        "True when every argument is true; (AND) is true.",
        '(AND (COMPLETED "Intro") (AFTER "2026-12-01"))',
        returns="bool",
    ),
    _block(
        "OR",
        "logical",
        "True when at least one argument is true; (OR) is false.",
        '(OR (COHORT "Staff") (>= (USER-SCORE) 100))',
        returns="bool",
    ),
    _block(
        "NOT",
        "logical",
        "True when its argument is false.",
        '(NOT (COMPLETED "Final"))',
        min_args=1,
        max_args=1,
        returns="bool",
    ),
    _block(
        "=",
        "logical",
        "True when all arguments are equal (true equals 1, text never equals a "
        "number).",
        '(= (TEAM-NAME) "Blue")',
        min_args=2,
        returns="bool",
    ),
    _block(
        "/=",
        "logical",
        "True when no two arguments are equal.",
        '(/= (USER-NAME) "admin")',
        min_args=2,
        returns="bool",
    ),
    _block(
        "<",
        "logical",
        "True when each argument is less than the next (numbers, or text "
        "alphabetically).",
        "(< (TEAM-SIZE) 4)",
        **_ORDER,
    ),
    _block(
        "<=",
        "logical",
        "True when each argument is at most the next.",
        "(<= (TEAM-SIZE) 3)",
        **_ORDER,
    ),
    _block(
        ">",
        "logical",
        "True when each argument is greater than the next.",
        "(> (USER-SCORE) 500)",
        **_ORDER,
    ),
    _block(
        ">=",
        "logical",
        "True when each argument is at least the next.",
        "(>= (USER-SCORE) 100)",
        **_ORDER,
    ),
    # arithmetic
    _block(
        "+",
        "arithmetic",
        "The sum of the arguments; (+) is 0.",
        '(+ (SOLVES "Web") (SOLVES "Crypto"))',
        **_NUMBERS,
    ),
    _block(
        "-",
        "arithmetic",
        "The first argument minus the others; with one argument, its negation.",
        "(- (USER-SCORE) 50)",
        min_args=1,
        **_NUMBERS,
    ),
    _block(
        "MAX",
        "arithmetic",
        "The largest argument (all numbers or all text).",
        '(>= (MAX (SOLVES "Web") (SOLVES "Pwn")) 3)',
        min_args=1,
        params=("any",),
        returns="same",
        same_type=True,
    ),
    _block(
        "MIN",
        "arithmetic",
        "The smallest argument (all numbers or all text).",
        '(>= (MIN (SOLVES "Web") (SOLVES "Pwn")) 1)',
        min_args=1,
        params=("any",),
        returns="same",
        same_type=True,
    ),
    # dynamic: supplied by the platform at evaluation time.
    _block(
        "USER-NAME",
        "dynamic",
        "The player's user name.",
        '(= (USER-NAME) "alice")',
        max_args=0,
        returns="str",
    ),
    _block(
        "USER-ID",
        "dynamic",
        "The player's numeric id.",
        "(= (USER-ID) 42)",
        max_args=0,
        returns="int",
    ),
    _block(
        "USER-EMAIL",
        "dynamic",
        "The player's email address.",
        '(= (USER-EMAIL) "alice@example.org")',
        max_args=0,
        returns="str",
    ),
    _block(
        "USER-SCORE",
        "dynamic",
        "The score of the player, or of their team in team events.",
        "(>= (USER-SCORE) 100)",
        max_args=0,
        returns="int",
    ),
    # Team events gate on the team, not the user: its name for invitation-only
    # tracks, its size for "solo or pairs only" challenges. An "IN-TEAM" block
    # would repeat (> (TEAM-SIZE) 0), so there is none.
    _block(
        "TEAM-NAME",
        "dynamic",
        'The name of the player\'s team; "" when playing solo.',
        '(= (TEAM-NAME) "Blue Team")',
        max_args=0,
        returns="str",
    ),
    _block(
        "TEAM-SIZE",
        "dynamic",
        "The number of members in the player's team; 0 when playing solo.",
        "(<= (TEAM-SIZE) 2)",
        max_args=0,
        returns="int",
    ),
    # Counting solves ("3 Web challenges unlock the boss") cannot be written
    # with COMPLETED, which names challenges; one optional category argument
    # covers the per-category case, so there is no separate CATEGORY-SOLVES.
    _block(
        "SOLVES",
        "dynamic",
        "How many challenges the player (or team) solved, optionally in one category.",
        '(>= (SOLVES "Web") 3)',
        max_args=1,
        params=("str",),
        returns="int",
    ),
    _block(
        "COMPLETED",
        "dynamic",
        "True when the player (or team) solved every named challenge (names or ids).",
        '(COMPLETED "Intro" "Warmup")',
        min_args=1,
        params=("ref",),
        returns="bool",
    ),
    # "Any of" lists are common (ctfcli imports, branching storylines); an OR
    # of COMPLETED calls says the same but explains and edits worse.
    _block(
        "COMPLETED-ANY",
        "dynamic",
        "True when the player (or team) solved at least one of the named challenges.",
        '(COMPLETED-ANY "Path A" "Path B")',
        min_args=1,
        params=("ref",),
        returns="bool",
    ),
    _block(
        "COHORT",
        "dynamic",
        "True when the player belongs to every named cohort (names or ids).",
        '(COHORT "Students")',
        min_args=1,
        params=("ref",),
        returns="bool",
    ),
    # No NOW block: comparing with the clock is what BEFORE and AFTER do.
    _block(
        "BEFORE",
        "dynamic",
        "True until the given moment (event time zone).",
        '(BEFORE "2026-12-24 18:00")',
        min_args=1,
        max_args=1,
        params=("date",),
        returns="bool",
    ),
    _block(
        "AFTER",
        "dynamic",
        "True from the given moment on (event time zone).",
        '(AFTER "2026-12-01")',
        min_args=1,
        max_args=1,
        params=("date",),
        returns="bool",
    ),
)

BLOCKS: dict[str, Block] = {block.name: block for block in _ALL}
"""Every known block by upper-case name, in documentation order."""

DYNAMIC = frozenset(name for name, b in BLOCKS.items() if b.family == "dynamic")
BUILTIN = frozenset(BLOCKS) - DYNAMIC


def blocks_as_json() -> list[dict[str, Any]]:
    """Return the registry as JSON-ready dicts, in documentation order."""
    return [block.to_dict() for block in BLOCKS.values()]


def blocks_markdown() -> str:
    """Render the block reference as a Markdown table per family."""
    lines = ["# LispIsh blocks", ""]
    for family in FAMILIES:
        lines += [
            f"## {family.capitalize()}",
            "",
            "| Block | Arguments | Returns | Description | Example |",
            "|---|---|---|---|---|",
        ]
        for block in BLOCKS.values():
            if block.family != family:
                continue
            args = block.arity_text()
            kinds = sorted({block.param(i) for i in range(len(block.params))})
            if block.max_args != 0 and kinds and kinds != ["any"]:
                args += ": " + ", ".join(KIND_TEXT[k] for k in kinds)
            cells = [
                f"`{block.name}`",
                args,
                RETURN_TEXT[block.returns],
                block.summary,
                f"`{block.example}`",
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)
