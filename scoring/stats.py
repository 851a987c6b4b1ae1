"""Organizer statistics, read-only: per challenge its attempts, solves and first
blood, its activity over time, and what the event dashboard watches. The admin
screens and the API read the same functions, so they show the same numbers.

A challenge's solves are its completions (every question solved) by public
principals, as the board counts them; attempts count every submission,
whoever made it. Each function costs a fixed number of queries, however many
challenges or principals there are.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import (
    Count,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from challenges.models import Challenge, Competition, Question
from scoring.models import CheatRecord, Principal, Result, Solve, Submission

# Bounds of a time series: a month at most, in at most this many buckets.
MAX_WINDOW = 31 * 86400
MIN_BUCKET = 10
MAX_BUCKETS = 1000


@dataclass(frozen=True)
class FirstBlood:
    principal_id: int
    principal: str
    at: datetime


@dataclass(frozen=True)
class ChallengeStats:
    challenge_id: int
    name: str
    category: str
    # In the competition's challenge set now (else hidden, or not part of it).
    in_play: bool
    attempts: int
    wrong: int
    solves: int
    first_blood: FirstBlood | None


@dataclass(frozen=True)
class Bucket:
    start: datetime
    attempts: int
    wrong: int
    solves: int


@dataclass(frozen=True)
class Series:
    start: datetime
    end: datetime
    bucket: int  # seconds
    buckets: list[Bucket]


@dataclass(frozen=True)
class CategoryTotals:
    category: str
    challenges: int
    attempts: int
    wrong: int
    solves: int


class Epoch(Func):
    """Whole seconds since 1970 of a datetime column."""

    output_field = IntegerField()
    template = "CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)",
            **extra,
        )


def _public_solves(competition: Competition) -> QuerySet:
    return Solve.objects.filter(
        principal__competition=competition,
        principal__is_hidden=False,
        principal__is_banned=False,
    )


def _completions(competition: Competition) -> QuerySet:
    """(challenge, principal, at) of every public completion: the principal has
    solved all of the challenge's questions, the last at `at`."""
    need = (
        Question.objects.filter(challenge_id=OuterRef("question__challenge"))
        .values("challenge_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        _public_solves(competition)
        .values("question__challenge", "principal")
        .annotate(n=Count("pk"), at=Max("created_at"), need=Subquery(need))
        .filter(n__gte=F("need"))
    )


def _names(principal_ids) -> dict[int, str]:
    return {
        pk: team or user
        for pk, team, user in Principal.objects.filter(
            pk__in=principal_ids
        ).values_list("pk", "team__name", "user__username")
    }


def _first_bloods(
    competition: Competition, only: Q | None = None
) -> dict[int, tuple[int, datetime, int]]:
    """challenge id -> (first principal, its time, completions), of the
    challenges `only` selects (all by default)."""
    ranked = (
        _completions(competition)
        .filter(only or Q())
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=F("question__challenge"),
                order_by=[F("at").asc(), F("principal").asc()],
            ),
            solves=Window(Count("*"), partition_by=F("question__challenge")),
        )
        .filter(rank=1)
        .values_list("question__challenge", "principal", "at", "solves")
    )
    return {challenge: (principal, at, n) for challenge, principal, at, n in ranked}


def challenge_stats(
    competition: Competition, challenge: Challenge | None = None
) -> list[ChallengeStats]:
    """One row per challenge of the competition's set, and per other challenge
    that has submissions in it, in the board's order (or `challenge`'s alone)."""
    only = Q(question__challenge=challenge) if challenge else Q()
    attempts = {
        row["question__challenge"]: row
        for row in Submission.objects.filter(only, principal__competition=competition)
        .values("question__challenge")
        .annotate(
            attempts=Count("pk"), wrong=Count("pk", filter=Q(result=Result.WRONG))
        )
    }
    firsts = _first_bloods(competition, only)
    names = _names(principal for principal, _, _ in firsts.values())
    in_play = competition.challenge_set()
    if challenge:
        in_play = in_play.filter(pk=challenge.pk)
    in_play = set(in_play.values_list("pk", flat=True))
    shown = {challenge.pk} if challenge else in_play | set(attempts) | set(firsts)
    challenges = Challenge.objects.filter(pk__in=shown).values_list(
        "pk", "name", "category"
    )
    rows = []
    for pk, name, category in challenges:
        tried = attempts.get(pk, {})
        first = firsts.get(pk)
        rows.append(
            ChallengeStats(
                challenge_id=pk,
                name=name,
                category=category,
                in_play=pk in in_play,
                attempts=tried.get("attempts", 0),
                wrong=tried.get("wrong", 0),
                solves=first[2] if first else 0,
                first_blood=FirstBlood(first[0], names[first[0]], first[1])
                if first
                else None,
            )
        )
    return rows


_STATS_KEYS = {
    "board": lambda row: 0,  # the board's order, as `challenge_stats` gives it
    "name": lambda row: row.name.casefold(),
    "category": lambda row: (row.category.casefold(), row.name.casefold()),
    "attempts": lambda row: row.attempts,
    "wrong": lambda row: row.wrong,
    "solves": lambda row: row.solves,
    "first_blood": lambda row: row.first_blood.at if row.first_blood else None,
}
STATS_ORDERINGS = [key for name in _STATS_KEYS for key in (name, f"-{name}")]


def stats_ordered(rows: list[ChallengeStats], ordering: str) -> list[ChallengeStats]:
    """The rows sorted by a column of STATS_ORDERINGS ("-" first: descending);
    rows without a value (no first blood yet) come last either way."""
    key = _STATS_KEYS[ordering.lstrip("-")]
    known = [row for row in rows if key(row) is not None]
    unknown = [row for row in rows if key(row) is None]
    return sorted(known, key=key, reverse=ordering.startswith("-")) + unknown


def category_totals(rows: list[ChallengeStats]) -> list[CategoryTotals]:
    """The stats rows summed per category, by category name."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        sums = totals.setdefault(row.category, [0, 0, 0, 0])
        for i, value in enumerate((1, row.attempts, row.wrong, row.solves)):
            sums[i] += value
    return [CategoryTotals(c, *sums) for c, sums in sorted(totals.items())]


class BadSeries(ValueError):
    """A window or bucket out of bounds; `field` names which."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def series_bounds(window: int, bucket: int, now=None) -> tuple[datetime, int]:
    """The start and bucket count of a series over the last `window` seconds,
    on bucket edges that stay put between calls (hours at :00). Raises
    BadSeries for windows or bucket counts that make no sense."""
    if not 0 < window <= MAX_WINDOW:
        raise BadSeries("window", f"Use 1 to {MAX_WINDOW} seconds (31 days).")
    if not MIN_BUCKET <= bucket <= window:
        raise BadSeries(
            "bucket", f"Use {MIN_BUCKET} seconds up to the window ({window})."
        )
    count = math.ceil(window / bucket)
    if count > MAX_BUCKETS:
        raise BadSeries(
            "bucket",
            f"{window} s in buckets of {bucket} s makes {count} buckets; at most "
            f"{MAX_BUCKETS}: use buckets of {math.ceil(window / MAX_BUCKETS)} s "
            "or more.",
        )
    now = (now or timezone.now()).timestamp()
    end = math.floor(now / bucket) * bucket + bucket
    return datetime.fromtimestamp(end - count * bucket, tz=UTC), count


def _bucketed(queryset: QuerySet, start: datetime, bucket: int, **counts) -> dict:
    """slot -> {name: count} over `queryset` from `start`, one query."""
    slot = (Epoch("created_at") - int(start.timestamp())) / bucket
    rows = (
        queryset.filter(created_at__gte=start)
        .annotate(slot=slot)
        .values("slot")
        .annotate(**counts)
    )
    return {row.pop("slot"): row for row in rows}


def _series(start, bucket, count, attempts: dict, solves: dict) -> Series:
    empty = {"attempts": 0, "wrong": 0}
    return Series(
        start=start,
        end=start + timedelta(seconds=bucket * count),
        bucket=bucket,
        buckets=[
            Bucket(
                start=start + timedelta(seconds=bucket * n),
                solves=solves.get(n, 0),
                **attempts.get(n, empty),
            )
            for n in range(count)
        ],
    )


def challenge_timeseries(
    competition: Competition, challenge: Challenge, *, window: int, bucket: int
) -> Series:
    """Attempts, wrong attempts and completions of `challenge` per bucket."""
    start, count = series_bounds(window, bucket)
    attempts = _bucketed(
        Submission.objects.filter(
            principal__competition=competition, question__challenge=challenge
        ),
        start,
        bucket,
        attempts=Count("pk"),
        wrong=Count("pk", filter=Q(result=Result.WRONG)),
    )
    solves: dict[int, int] = {}
    for at in (
        _completions(competition)
        .filter(question__challenge=challenge, at__gte=start)
        .values_list("at", flat=True)
    ):
        slot = int((at - start).total_seconds() // bucket)
        solves[slot] = solves.get(slot, 0) + 1
    return _series(start, bucket, count, attempts, solves)


def competition_activity(
    competition: Competition, *, window: int, bucket: int
) -> Series:
    """Submissions (attempts, wrong) and correct flags (solves) per bucket."""
    start, count = series_bounds(window, bucket)
    rows = _bucketed(
        Submission.objects.filter(principal__competition=competition),
        start,
        bucket,
        attempts=Count("pk"),
        wrong=Count("pk", filter=Q(result=Result.WRONG)),
        solves=Count("pk", filter=Q(result=Result.CORRECT)),
    )
    solves = {slot: row.pop("solves") for slot, row in rows.items()}
    return _series(start, bucket, count, rows, solves)


def latest_solves(competition: Competition, limit: int = 10) -> list[Solve]:
    """The newest question solves, with who and what."""
    return list(
        Solve.objects.filter(principal__competition=competition)
        .select_related("principal__team", "principal__user", "question__challenge")
        .order_by("-created_at", "-pk")[:limit]
    )


def latest_first_bloods(competition: Competition, limit: int = 10) -> list[dict]:
    """The newest first bloods: challenge, principal and time, newest first."""
    firsts = sorted(
        _first_bloods(competition).items(), key=lambda item: item[1][1], reverse=True
    )[:limit]
    names = _names(principal for _, (principal, _, _) in firsts)
    challenges = dict(
        Challenge.objects.filter(pk__in=[c for c, _ in firsts]).values_list(
            "pk", "name"
        )
    )
    return [
        {
            "challenge_id": challenge,
            "challenge": challenges[challenge],
            "principal_id": principal,
            "principal": names[principal],
            "at": at,
        }
        for challenge, (principal, at, _) in firsts
    ]


def open_cheats(competition: Competition) -> QuerySet:
    """Cheat records whose submitter is not banned yet: the organizer has not
    acted on them. Newest first."""
    return (
        CheatRecord.objects.filter(
            submitter__competition=competition, submitter__is_banned=False
        )
        .select_related(
            "submitter__team",
            "submitter__user",
            "owner__team",
            "owner__user",
            "question__challenge",
        )
        .order_by("-created_at", "-pk")
    )
