"""Who may see and open which challenge: LispIsh requirements bound to one player.

`RequirementContext` binds the dynamic blocks (COMPLETED, USER-SCORE, ...) to a
user and their principal. Evaluating every requirement on the board costs one
query for the player's facts (solves, cohorts, team) plus, only after the
catalog changed, one query for the catalog facts (names, categories, questions
per challenge), which every process keeps in memory under a catalog version. A
requirement that fails to evaluate locks its challenge, flags it in the admin and
writes one REQUIREMENT_ERROR audit event, once until the flag clears.

Names resolve to the live challenge (visible, folder present) first; a hidden or
missing challenge answers to its name only when no live one has it, so
`COMPLETED "X"` of a hidden X is true for those who solved X before it was
hidden, false for the others, and not an error.
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from uuid import uuid4
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import Cohort, Team, User
from audit.models import EventType
from audit.services import record
from challenges.catalog import normalize_name
from challenges.models import Challenge, ChallengeState, LockedVisibility, Question
from requirements.compiled import compile_requirement, explain_requirement
from requirements.lispish import EvalError, LispIshError
from requirements.lispish.timeutil import to_epoch
from scoring.models import Principal, QuestionTally, Solve

CATALOG_VERSION_KEY = "challenges:catalog-version"

# Requirements name the same few texts on every view: normalise each once.
_normalized = lru_cache(maxsize=4096)(normalize_name)


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


@dataclass(frozen=True)
class Catalog:
    """The facts requirements need about the challenges, the same for every player."""

    questions: dict[int, int]  # challenge id -> number of questions
    names: dict[str, int]  # normalized name -> challenge id
    categories: dict[int, str]  # challenge id -> normalized category

    @classmethod
    def load(cls) -> "Catalog":
        rows = (
            Challenge.objects.order_by("pk")
            .values_list("pk", "normalized_name", "category", "state", "is_missing")
            .annotate(n=Count("questions"))
        )
        questions, categories, live, other = {}, {}, {}, {}
        for pk, name, category, state, missing, n in rows:
            questions[pk] = n
            categories[pk] = normalize_name(category)
            names = live if state == ChallengeState.VISIBLE and not missing else other
            names.setdefault(name, pk)  # the oldest of equal names wins
        return cls(questions, other | live, categories)


# (key, catalog, when) of the last load in this process; see `_catalog_for`.
_loaded: tuple[tuple, Catalog, float] | None = None
# Reloaded at least this often: a version bump lost while the cache was down
# must not leave a process on old names for good.
CATALOG_MAX_AGE = 60


def _catalog_for(fingerprint: tuple) -> Catalog:
    """The catalog, reloaded only when its version or `fingerprint` changed.

    The version (shared by every process through the cache) follows saves and
    deletes, admin edits included; the fingerprint (counts and latest change,
    read with the player's facts) follows bulk writes that send no signal. Both
    are read before the rows, so a change racing the load only costs a reload.
    """
    global _loaded
    version = catalog_version()
    key, now = (version, fingerprint), time.monotonic()
    if (
        version is None  # no shared version (cache down): trust nothing held
        or _loaded is None
        or _loaded[0] != key
        or now - _loaded[2] > CATALOG_MAX_AGE
    ):
        _loaded = (key, Catalog.load(), now)
    return _loaded[1]


# The version this process last read or set, and when (time.monotonic()).
_seen: tuple[str | None, float] = (None, 0.0)


def catalog_version(max_age: float = 0) -> str | None:
    """The shared catalog version, started if absent; None if the cache is down.

    With `max_age`, the version this process read or set less than `max_age`
    seconds ago is taken without a round trip: another process's change then
    shows up to that late, this process's own at once.
    """
    global _seen
    version, seen_at = _seen
    now = time.monotonic()
    if version is not None and now - seen_at < max_age:
        return version
    version = cache.get(CATALOG_VERSION_KEY)
    if version is None:
        cache.add(CATALOG_VERSION_KEY, uuid4().hex, timeout=None)
        version = cache.get(CATALOG_VERSION_KEY)
    _seen = (version, now)
    return version


def catalog_version_forget() -> None:
    """Forget the version this process remembers (after the cache was emptied)."""
    global _seen
    _seen = (None, 0.0)


def _bump_catalog_version() -> None:
    global _seen
    version = uuid4().hex
    cache.set(CATALOG_VERSION_KEY, version, timeout=None)
    _seen = (version, time.monotonic())


def catalog_changed() -> None:
    """Make every process reload the catalog facts: now, and after the commit.

    Now, so this process sees its own change inside its transaction; again after
    the commit, because another process may have reloaded the old rows in between.
    """
    _bump_catalog_version()
    transaction.on_commit(_bump_catalog_version)


@receiver(post_save, sender=Challenge, dispatch_uid="catalog_challenge_saved")
@receiver(post_delete, sender=Challenge, dispatch_uid="catalog_challenge_deleted")
@receiver(post_save, sender=Question, dispatch_uid="catalog_question_saved")
@receiver(post_delete, sender=Question, dispatch_uid="catalog_question_deleted")
def _challenge_or_question_written(sender, **kwargs) -> None:
    # The admin edits challenges and questions through save(), not a service.
    catalog_changed()


@lru_cache(maxsize=1)
def _player_facts_sql() -> str:
    """One UNION ALL of (kind, three numbers, a text) rows: one round trip.

    Raw SQL because the ORM takes longer to build this union than the database
    takes to answer it. Parameters: the user, the principal (twice), the team
    (or NULL). Each solve row carries its dynamic drift and a 'score' row the
    ledger total: their sum is the score (as `Principal.objects.with_score`).
    """
    models = {
        "challenge": Challenge,
        "question": Question,
        "solve": Solve,
        "cohort": Cohort,
        "member": Cohort.members.through,
        "user": User,
        "team": Team,
        "principal": Principal,
        "tally": QuestionTally,
    }
    tables = {k: connection.ops.quote_name(m._meta.db_table) for k, m in models.items()}
    # Table names come from the models; every value is a parameter.
    return """
        SELECT 'catalog',
            (SELECT COUNT(*) FROM {challenge}),
            (SELECT COUNT(*) FROM {question}),
            (SELECT MAX(id) FROM {question}),
            CAST((SELECT MAX(updated_at) FROM {challenge}) AS VARCHAR(64))
        UNION ALL
        SELECT 'cohort', c.id, 0, 0, c.name
        FROM {cohort} c JOIN {member} m ON m.cohort_id = c.id
        WHERE m.user_id = %s
        UNION ALL
        SELECT 'solve', s.question_id, q.challenge_id,
            COALESCE(t.value - s.points, 0), ''
        FROM {solve} s JOIN {question} q ON q.id = s.question_id
        JOIN {principal} p ON p.id = s.principal_id
        LEFT JOIN {tally} t
            ON t.question_id = s.question_id AND t.competition_id = p.competition_id
        WHERE s.principal_id = %s
        UNION ALL
        SELECT 'score', p.ledger_total, 0, 0, '' FROM {principal} p WHERE p.id = %s
        UNION ALL
        SELECT 'team', (SELECT COUNT(*) FROM {user} u WHERE u.team_id = t.id),
            0, 0, t.name
        FROM {team} t WHERE t.id = %s
    """.format(**tables)  # noqa: S608


@dataclass(frozen=True)
class PlayerFacts:
    """What requirements need about one player, read in one query."""

    solves: tuple[tuple[int, int], ...]  # (question id, challenge id)
    cohort_ids: frozenset[int]
    cohort_names: frozenset[str]
    team_name: str
    team_size: int
    score: int
    fingerprint: tuple  # of the catalog, see `_catalog_for`

    @classmethod
    def load(cls, user, principal) -> "PlayerFacts":
        team_id = principal.team_id if principal is not None else None
        principal_id = principal.pk if principal else None
        with connection.cursor() as cursor:
            cursor.execute(
                _player_facts_sql(), [user.pk, principal_id, principal_id, team_id]
            )
            rows = cursor.fetchall()
        solves, cohort_ids, cohort_names = [], set(), set()
        team_name, team_size, score, fingerprint = "", 0, 0, ()
        for kind, a, b, c, name in rows:
            if kind == "solve":
                solves.append((a, b))
                score += c
            elif kind == "score":
                score += a
            elif kind == "cohort":
                cohort_ids.add(a)
                cohort_names.add(normalize_name(name))
            elif kind == "team":
                team_name, team_size = name, a
            else:
                fingerprint = (a, b, c, name)
        return cls(
            tuple(solves),
            frozenset(cohort_ids),
            frozenset(cohort_names),
            team_name,
            team_size,
            score,
            fingerprint,
        )


class RequirementContext:
    """The LispIsh dynamic blocks, bound to `user` playing as `principal`."""

    def __init__(self, user, principal, now=None) -> None:
        self.user = user
        self.principal = principal
        self.now = now or timezone.now()

    @cached_property
    def _player(self) -> PlayerFacts:
        return PlayerFacts.load(self.user, self.principal)

    @cached_property
    def _catalog(self) -> Catalog:
        return _catalog_for(self._player.fingerprint)

    @cached_property
    def solved_question_ids(self) -> frozenset[int]:
        """Questions the principal answered."""
        return frozenset(question for question, _ in self._player.solves)

    @cached_property
    def solved_challenge_ids(self) -> frozenset[int]:
        """Challenges the principal answered every question of."""
        solved = Counter(challenge for _, challenge in self._player.solves)
        need = self._catalog.questions
        return frozenset(c for c, n in solved.items() if n >= need.get(c, 0) > 0)

    @cached_property
    def _solves_per_category(self) -> Counter[str]:
        categories = self._catalog.categories
        return Counter(categories.get(c) for c in self.solved_challenge_ids)

    def _challenge_id(self, ref: int | str) -> int:
        if isinstance(ref, int):
            return ref
        try:
            return self._catalog.names[_normalized(ref)]
        except KeyError:
            raise EvalError(f"no challenge is named {ref!r}") from None

    def _completed(self, refs: list) -> bool:
        return all(self._challenge_id(r) in self.solved_challenge_ids for r in refs)

    def _completed_any(self, refs: list) -> bool:
        return any(self._challenge_id(r) in self.solved_challenge_ids for r in refs)

    def _in_cohorts(self, refs: list) -> bool:
        player = self._player
        return all(
            (r in player.cohort_ids)
            if isinstance(r, int)
            else _normalized(r) in player.cohort_names
            for r in refs
        )

    def _solves(self, args: list) -> int:
        if not args:
            return len(self.solved_challenge_ids)
        return self._solves_per_category[_normalized(args[0])]

    def _epoch(self, value: int | str) -> int:
        return to_epoch(value, ZoneInfo(settings.TIME_ZONE))

    def functions(self) -> dict[str, Callable[[list], object]]:
        """The mapping `Expression.evaluate` takes."""
        user, now = self.user, self.now.timestamp()
        # The team counts only when the player plays as it (not in solo events),
        # which is when the principal has one: `_player` reads only that team.
        return {
            "USER-NAME": lambda args: user.username,
            "USER-ID": lambda args: user.pk,
            "USER-EMAIL": lambda args: user.email,
            "USER-SCORE": lambda args: self._player.score,
            "TEAM-NAME": lambda args: self._player.team_name,
            "TEAM-SIZE": lambda args: self._player.team_size,
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
    """Decide what `context`'s player gets of `challenge`.

    A challenge the principal solved stays open, whatever its requirement says
    since: a broken or changed requirement never takes a solve off a board.
    """
    if not challenge.requirement or context.user.is_staff:
        return OPEN
    if challenge.pk in context.solved_challenge_ids:
        return OPEN
    try:
        expression = compile_requirement(challenge.requirement)
    except LispIshError as error:
        requirement_error_report(challenge=challenge, error=error)
        return Access(challenge.locked_visibility, "Not available yet.")
    try:
        value = expression.evaluate(functions or context.functions())
    except LispIshError as error:
        requirement_error_report(challenge=challenge, error=error)
    else:
        if challenge.requirement_error:
            requirement_error_clear(challenge=challenge)
        if value:
            return OPEN
    return Access(
        challenge.locked_visibility, explain_requirement(challenge.requirement)
    )


def requirement_error_clear(*, challenge: Challenge) -> None:
    """The requirement evaluates again: drop the admin flag."""
    Challenge.objects.filter(pk=challenge.pk).exclude(requirement_error="").update(
        requirement_error=""
    )
    challenge.requirement_error = ""


def requirement_error_report(*, challenge: Challenge, error: LispIshError) -> None:
    """Flag `challenge` in the admin and audit it, once until the flag clears."""
    if challenge.requirement_error:
        # Already flagged: no write per view, even when the message differs by
        # player, as in (COMPLETED (TEAM-NAME)); the first message stays.
        return
    message = str(error)[:1000]
    # The conditional update lets exactly one request win the flag.
    changed = Challenge.objects.filter(pk=challenge.pk, requirement_error="").update(
        requirement_error=message
    )
    challenge.requirement_error = message
    if changed:
        record(
            EventType.REQUIREMENT_ERROR,
            subject=challenge.name[:200],
            message=message[:500],
            details={"challenge": challenge.pk, "requirement": challenge.requirement},
        )
