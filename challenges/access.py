"""Who may see and open which challenge: LispIsh requirements bound to one player.

`RequirementContext` binds the dynamic blocks (COMPLETED, USER-SCORE, ...) to a
user and their principal. Each fact it needs is loaded by one query on first use
and kept, so evaluating every requirement on the board costs a constant number
of queries. A requirement that fails to evaluate locks its challenge, flags it in
the admin and writes one REQUIREMENT_ERROR audit event per (challenge, error).
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from audit.models import EventType
from audit.services import record
from challenges.catalog import normalize_name
from challenges.models import Challenge, LockedVisibility, Question
from requirements.compiled import compile_requirement
from requirements.lispish import EvalError, LispIshError
from requirements.lispish.timeutil import to_epoch


@dataclass(frozen=True)
class Access:
    """What a player gets of a challenge: "open", or the locked visibility."""

    state: str
    explanation: str = ""

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    @property
    def is_listed(self) -> bool:
        return self.state != LockedVisibility.HIDDEN


OPEN = Access("open")


class RequirementContext:
    """The LispIsh dynamic blocks, bound to `user` playing as `principal`."""

    def __init__(self, user, principal, now=None) -> None:
        self.user = user
        self.principal = principal
        self.now = now or timezone.now()

    @cached_property
    def _questions_per_challenge(self) -> dict[int, int]:
        rows = Question.objects.values("challenge_id").annotate(n=Count("pk"))
        return {row["challenge_id"]: row["n"] for row in rows}

    @cached_property
    def solved_challenge_ids(self) -> frozenset[int]:
        """Challenges the principal answered every question of."""
        if self.principal is None:
            return frozenset()
        solved = Counter(
            self.principal.solves.values_list("question__challenge_id", flat=True)
        )
        need = self._questions_per_challenge
        return frozenset(c for c, n in solved.items() if n >= need.get(c, 0) > 0)

    @cached_property
    def _catalog(self) -> tuple[dict[str, int], dict[int, str]]:
        names, categories = {}, {}
        for pk, name, category in Challenge.objects.values_list(
            "pk", "normalized_name", "category"
        ):
            names.setdefault(name, pk)
            categories[pk] = normalize_name(category)
        return names, categories

    @cached_property
    def _cohorts(self) -> tuple[set[int], set[str]]:
        rows = self.user.cohorts.values_list("pk", "name")
        return {pk for pk, _ in rows}, {normalize_name(name) for _, name in rows}

    @cached_property
    def _team_size(self) -> int:
        principal = self.principal
        return principal.team.members.count() if principal and principal.team_id else 0

    def _challenge_id(self, ref: int | str) -> int:
        if isinstance(ref, int):
            return ref
        names, _ = self._catalog
        try:
            return names[normalize_name(ref)]
        except KeyError:
            raise EvalError(f"no challenge is named {ref!r}") from None

    def _completed(self, refs: list) -> bool:
        return all(self._challenge_id(r) in self.solved_challenge_ids for r in refs)

    def _completed_any(self, refs: list) -> bool:
        return any(self._challenge_id(r) in self.solved_challenge_ids for r in refs)

    def _in_cohorts(self, refs: list) -> bool:
        ids, names = self._cohorts
        return all(
            (r in ids) if isinstance(r, int) else normalize_name(r) in names
            for r in refs
        )

    def _solves(self, args: list) -> int:
        if not args:
            return len(self.solved_challenge_ids)
        _, categories = self._catalog
        wanted = normalize_name(args[0])
        return sum(1 for c in self.solved_challenge_ids if categories.get(c) == wanted)

    def _epoch(self, value: int | str) -> int:
        return to_epoch(value, ZoneInfo(settings.TIME_ZONE))

    def functions(self) -> dict[str, Callable[[list], object]]:
        """The mapping `Expression.evaluate` takes."""
        user, principal, now = self.user, self.principal, self.now.timestamp()
        # The team counts only when the player plays as it (not in solo events).
        team = principal.team if principal and principal.team_id else None
        return {
            "USER-NAME": lambda args: user.username,
            "USER-ID": lambda args: user.pk,
            "USER-EMAIL": lambda args: user.email,
            "USER-SCORE": lambda args: principal.score_total if principal else 0,
            "TEAM-NAME": lambda args: team.name if team else "",
            "TEAM-SIZE": lambda args: self._team_size,
            "SOLVES": self._solves,
            "COMPLETED": self._completed,
            "COMPLETED-ANY": self._completed_any,
            "COHORT": self._in_cohorts,
            "BEFORE": lambda args: now < self._epoch(args[0]),
            "AFTER": lambda args: now >= self._epoch(args[0]),
        }


def challenge_access(
    challenge: Challenge, context: RequirementContext, functions: dict | None = None
) -> Access:
    """Decide what `context`'s player gets of `challenge`."""
    if not challenge.requirement or context.user.is_staff:
        return OPEN
    expression = None
    try:
        expression = compile_requirement(challenge.requirement)
        value = expression.evaluate(functions or context.functions())
    except LispIshError as error:
        requirement_error_report(challenge=challenge, error=error)
    else:
        if challenge.requirement_error:
            requirement_error_clear(challenge=challenge)
        if value:
            return OPEN
    explanation = expression.explain() if expression else "Not available yet."
    return Access(challenge.locked_visibility, explanation)


def requirement_error_clear(*, challenge: Challenge) -> None:
    """The requirement evaluates again: drop the admin flag."""
    Challenge.objects.filter(pk=challenge.pk).exclude(requirement_error="").update(
        requirement_error=""
    )
    challenge.requirement_error = ""


def requirement_error_report(*, challenge: Challenge, error: LispIshError) -> None:
    """Flag `challenge` in the admin; audit once per (challenge, error)."""
    message = str(error)[:1000]
    if challenge.requirement_error == message:
        return  # already flagged and audited: no write on every page view
    # The conditional update lets exactly one request win per new error message.
    changed = (
        Challenge.objects.filter(pk=challenge.pk)
        .filter(~Q(requirement_error=message))
        .update(requirement_error=message)
    )
    challenge.requirement_error = message
    if changed:
        record(
            EventType.REQUIREMENT_ERROR,
            subject=challenge.name[:200],
            message=message[:500],
            details={"challenge": challenge.pk, "requirement": challenge.requirement},
        )
