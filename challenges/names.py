"""Names that point at challenges (requirements, `next:`) and the ones that miss.

A requirement naming no challenge locks its challenge for everyone, so every
place where a name is written reports a miss: the rescan (path and line), the
admin's requirement editor and the challenge list (problems column and filter).
"""

import difflib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from challenges.access import catalog_version
from challenges.catalog import normalize_name
from challenges.models import Challenge
from requirements.compiled import compile_requirement
from requirements.lispish import Expression, LispIshError

_current: "tuple[str | None, KnownChallenges] | None" = None


@dataclass(frozen=True)
class KnownChallenges:
    """Every challenge name (normalized -> as written) and id."""

    names: Mapping[str, str]
    ids: Collection[int]

    @classmethod
    def current(cls) -> "KnownChallenges":
        """The names as of the catalog version, kept in this process between
        changes (the admin's list asks once per row)."""
        global _current
        version = catalog_version(max_age=1.0)
        if version is None or _current is None or _current[0] != version:
            _current = (version, cls.load())
        return _current[1]

    @classmethod
    def load(cls) -> "KnownChallenges":
        rows = Challenge.objects.values_list("pk", "normalized_name", "name")
        names: dict[str, str] = {}
        ids = set()
        for pk, normalized, name in rows.order_by("pk"):
            names.setdefault(normalized, name)
            ids.add(pk)
        return cls(names, ids)

    def problem(self, ref: str | int) -> str | None:
        """Why `ref` names no challenge (with a did-you-mean), or None."""
        if isinstance(ref, int):
            return None if ref in self.ids else f"no challenge has id {ref}"
        key = normalize_name(ref)
        if key in self.names:
            return None
        close = difflib.get_close_matches(key, list(self.names), n=1, cutoff=0.6)
        hint = f"; did you mean {self.names[close[0]]}?" if close else ""
        return f"no challenge named {ref}{hint}"

    def problems(self, refs: Iterable[str | int]) -> list[str]:
        found = (self.problem(ref) for ref in refs)
        return list(dict.fromkeys(p for p in found if p))


def expression_refs(expression: Expression) -> list[str | int]:
    """The challenge names and ids a requirement writes out."""
    return [node.value for node in expression.challenge_refs()]


def challenge_refs(challenge: Challenge) -> list[str | int]:
    """The names and ids `challenge` points at: its requirement and `next`."""
    refs: list[str | int] = []
    if challenge.requirement.strip():
        try:
            refs = expression_refs(compile_requirement(challenge.requirement))
        except LispIshError:
            pass  # stored requirements parse; a bad one is flagged elsewhere
    if challenge.next_ref:
        ref = challenge.next_ref
        refs.append(int(ref) if ref.isdigit() else ref)
    return refs


def editor_warnings(expression: Expression) -> list[str]:
    """What the requirement editor says about names (registered in apps.py)."""
    refs = expression_refs(expression)
    return KnownChallenges.current().problems(refs) if refs else []
