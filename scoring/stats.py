"""Organizer statistics, read-only: per challenge its attempts, solves and first
blood, its activity over time, and what the event dashboard watches. The admin
screens and the API read the same functions, so they show the same numbers.

A challenge's solves are its completions (every question solved) by public
principals, as the board counts them; attempts count every submission,
whoever made it. Each function costs a fixed number of queries, however many
challenges or principals there are.
"""

import math
import operator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce

from django.core.cache import cache
from django.db.models import (
    Count,
    F,
    Func,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from challenges.access import catalog_version
from challenges.models import Challenge, Competition, Question
from scoring.models import CheatRecord, Principal, Result, Solve, Submission

# Bounds of a time series: a month at most, in at most this many buckets.
MAX_WINDOW = 31 * 86400
MIN_BUCKET = 10
MAX_BUCKETS = 1000
# A bucket of the activity that ended this long ago is final.
SETTLED_SECONDS = 120
COUNTS = ("attempts", "wrong", "solves")


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


def _questions_per_challenge() -> dict[int, list[int]]:
    """Number of questions -> the challenges that have that many."""
    by_need: dict[int, list[int]] = {}
    for challenge_id, need in (
        Question.objects.values_list("challenge_id").annotate(n=Count("pk")).order_by()
    ):
        by_need.setdefault(need, []).append(challenge_id)
    return by_need


def _completions(competition: Competition, by_need: dict | None = None) -> QuerySet:
    """(challenge, principal, at) of every public completion: the principal has
    solved all of the challenge's questions, the last at `at`."""
    # HAVING compares with constants, the challenges grouped by their number
    # of questions: a subquery per group took seconds for 200,000 solves.
    by_need = _questions_per_challenge() if by_need is None else by_need
    grouped = (
        _public_solves(competition)
        .values("question__challenge", "principal")
        .annotate(n=Count("pk"), at=Max("created_at"))
    )
    if not by_need:
        return grouped.none()
    return grouped.filter(
        reduce(
            operator.or_,
            (Q(question__challenge__in=ids, n__gte=n) for n, ids in by_need.items()),
        )
    )


def _names(principal_ids) -> dict[int, str]:
    return {
        pk: team or user
        for pk, team, user in Principal.objects.filter(
            pk__in=principal_ids
        ).values_list("pk", "team__name", "user__username")
    }


def _first_bloods(
    competition: Competition, only: Q | None = None, by_need: dict | None = None
) -> dict[int, tuple[int, datetime]]:
    """challenge id -> (first principal, its time) of the challenges `only`
    selects (all by default), counted from every solve."""
    ranked = (
        _completions(competition, by_need)
        .filter(only or Q())
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=F("question__challenge"),
                order_by=[F("at").asc(), F("principal").asc()],
            )
        )
        .filter(rank=1)
        .values_list("question__challenge", "principal", "at")
    )
    return {challenge: (principal, at) for challenge, principal, at in ranked}


def first_bloods(
    competition: Competition, by_need: dict | None = None
) -> dict[int, tuple[int, datetime]]:
    """challenge id -> (principal, time) of its first public completion: what
    `challenge_stats` says, kept in the cache and brought up to date for the
    price of the solves of challenges nobody completed yet.

    A first blood stands while its principal stays on the board with its
    solves; a ban, unban, hide or show (the set of principals off the board
    changes) or a catalog change (what completes a challenge) starts afresh.
    """
    away = set(
        Principal.objects.filter(competition=competition)
        .filter(Q(is_banned=True) | Q(is_hidden=True))
        .values_list("pk", flat=True)
    )
    key = f"stats:first-bloods:{competition.pk}"
    fingerprint = (catalog_version(), away)
    held = cache.get(key)
    by_need = _questions_per_challenge() if by_need is None else by_need
    if held is None or held[0] != fingerprint:
        known = _first_bloods(competition, by_need=by_need)
    else:
        known = held[1]
        # Still complete, and with the same last solve (not removed and done
        # again later). Whole seconds: a few thousand ints load in no time,
        # where as many datetimes took tens of milliseconds.
        standing = dict(
            ((c, p), last)
            for c, p, last in _completions(competition, by_need)
            .filter(
                principal__in={p for p, _ in known.values()},
                question__challenge__in=list(known),
            )
            .annotate(last=Epoch(Max("created_at")))
            .values_list("question__challenge", "principal", "last")
        )
        known = {
            c: (p, at)
            for c, (p, at) in known.items()
            if standing.get((c, p)) == int(at.timestamp())
        }
        open_questions = list(
            Question.objects.exclude(challenge__in=list(known)).values_list(
                "pk", flat=True
            )
        )
        known.update(
            _first_bloods(competition, Q(question__in=open_questions), by_need)
        )
    cache.set(key, (fingerprint, known), 86400)
    return known


def _solve_counts(competition: Competition, by_need: dict, only: Q) -> dict[int, int]:
    """challenge id -> its public completions."""
    # A one-question challenge's completions are its question's solves: one
    # group per challenge instead of one per principal and challenge.
    counts = dict(
        _public_solves(competition)
        .filter(only, question__challenge__in=by_need.get(1, []))
        .values("question__challenge")
        .annotate(n=Count("pk"))
        .values_list("question__challenge", "n")
    )
    several = {n: ids for n, ids in by_need.items() if n > 1}
    if several:
        for (challenge_id,) in (
            _completions(competition, several)
            .filter(only)
            .values_list("question__challenge")
        ):
            counts[challenge_id] = counts.get(challenge_id, 0) + 1
    return counts


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
    by_need = _questions_per_challenge()
    solves = _solve_counts(competition, by_need, only)
    firsts = first_bloods(competition, by_need)
    if challenge:
        firsts = {challenge.pk: firsts[challenge.pk]} if challenge.pk in firsts else {}
    names = _names(principal for principal, _ in firsts.values())
    in_play = competition.challenge_set()
    if challenge:
        in_play = in_play.filter(pk=challenge.pk)
    in_play = set(in_play.values_list("pk", flat=True))
    shown = {challenge.pk} if challenge else in_play | set(attempts) | set(solves)
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
                solves=solves.get(pk, 0),
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
    """Submissions (attempts, wrong) and correct flags (solves) per bucket.

    Buckets that ended SETTLED_SECONDS ago no longer change (every submission
    commits within moments of its time): they are kept in the cache, so a
    dashboard refresh counts only the last few minutes, however busy the event.
    """
    start, count = series_bounds(window, bucket)
    key = f"stats:activity:{competition.pk}:{bucket}"
    settled: dict[int, tuple[int, int, int]] = cache.get(key) or {}
    first = int(start.timestamp())
    edges = [first + n * bucket for n in range(count)]
    todo = next((n for n, edge in enumerate(edges) if edge not in settled), count)
    if todo < count:
        counted = _bucketed(
            Submission.objects.filter(principal__competition=competition),
            datetime.fromtimestamp(edges[todo], tz=UTC),
            bucket,
            attempts=Count("pk"),
            wrong=Count("pk", filter=Q(result=Result.WRONG)),
            solves=Count("pk", filter=Q(result=Result.CORRECT)),
        )
        fresh = {
            edge: tuple(counted.get(n, {}).get(k, 0) for k in COUNTS)
            for n, edge in enumerate(edges[todo:])
        }
        quiet = timezone.now().timestamp() - SETTLED_SECONDS
        keep = first - MAX_WINDOW  # forget what no window reaches any more
        settled = {e: c for e, c in settled.items() if e >= keep}
        settled.update((e, c) for e, c in fresh.items() if e + bucket <= quiet)
        cache.set(key, settled, MAX_WINDOW)
        settled = {**settled, **fresh}
    rows = {
        n: dict(zip(COUNTS, settled[edge], strict=True)) for n, edge in enumerate(edges)
    }
    solves = {n: row.pop("solves") for n, row in rows.items()}
    return _series(start, bucket, count, rows, solves)


def latest_solves(competition: Competition, limit: int = 10) -> list[Solve]:
    """The newest question solves, with who and what."""
    return list(
        Solve.objects.filter(principal__competition=competition)
        .select_related("principal__team", "principal__user", "question__challenge")
        .order_by("-created_at")[:limit]
    )


def latest_first_bloods(competition: Competition, limit: int = 10) -> list[dict]:
    """The newest first bloods: challenge, principal and time, newest first."""
    firsts = sorted(
        first_bloods(competition).items(), key=lambda item: item[1][1], reverse=True
    )[:limit]
    names = _names(principal for _, (principal, _) in firsts)
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
        for challenge, (principal, at) in firsts
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
