"""Standings: live from the principals' totals, frozen from a ledger snapshot.

Order: score descending, then the earliest last solve (none last), then id.
Hidden and banned principals never appear. Results are cached per
(competition, filter, freeze state) under a version that only changes when
a score of that competition does (`standings_changed`), so a solve invalidates
its own competition's board and nothing else.

Two cache levels: each worker keeps what it built or fetched in its own memory
under the versioned key, so a warm request costs one small GET (the version);
Redis shares a new version's results between workers, and a lock makes one
worker compute them while the others wait for its result.
"""

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DateTimeField, F, Max, Sum, Value
from django.utils import timezone

from challenges.models import PlayMode
from scoring.ledger import drifts
from scoring.models import (
    FrozenStanding,
    Principal,
    PrincipalKind,
    ScoreEvent,
    Solve,
    ValueChange,
)
from scoring.tallies import dynamic_values

KINDS = {"all": None, "team": PrincipalKind.TEAM, "solo": PrincipalKind.SOLO}
CACHE_SECONDS = 300  # in a worker's memory
# In Redis, only long enough for the other workers to pick a new version up:
# every solve makes one, and a board with its chart weighs about 2 MB.
SHARE_SECONDS = 30
SNAPSHOT_GRACE = timedelta(seconds=10)
LOCK_SECONDS = 30  # longest a build may hold the lock (a dead worker's expires)
LOCK_WAIT = 5.0  # longest a worker waits for another's build before its own
MEMO_SIZE = 1024  # entries per competition: boards, JSON, ~12 KB table fragments
EPOCH = Value(datetime(2000, 1, 1, tzinfo=UTC), output_field=DateTimeField())


class Row(NamedTuple):
    # A tuple: 10,000 of them pickle and unpickle several times faster than
    # dataclass instances.
    rank: int
    principal_id: int
    name: str
    kind: str
    score: int
    solves: int
    last_solve_at: datetime | None


@dataclass(frozen=True)
class Board:
    """One ranked board (competition, version, freeze state, filter)."""

    key: str
    competition_id: int
    version: int
    frozen: bool
    rows: list[Row]
    by_principal: dict[int, Row]


# competition -> (version, key -> (expires, value)): a new version drops the old
# one's entries, so memory holds one version per competition.
_memo: dict[int, tuple[int, OrderedDict[str, tuple[float, object]]]] = {}
_memo_lock = threading.Lock()


def remember(
    competition_id: int,
    version: int,
    key: str,
    build: Callable[[], object],
    seconds: int = CACHE_SECONDS,
):
    """`build()`, kept in this process's memory for the board's `version`."""
    now = time.monotonic()
    with _memo_lock:
        held_version, entries = _memo.get(competition_id, (None, None))
        if held_version == version:
            hit = entries.get(key)
            if hit is not None and hit[0] > now:
                entries.move_to_end(key)
                return hit[1]
    value = build()
    with _memo_lock:
        held_version, entries = _memo.get(competition_id, (None, None))
        if held_version != version:
            # Whichever version came last wins, older or newer: lookups compare
            # it, so at worst another request misses. (Keeping the newest would
            # stick after an outage, whose clock-started versions are larger.)
            entries = OrderedDict()
            _memo[competition_id] = (version, entries)
        entries[key] = (now + seconds, value)
        entries.move_to_end(key)
        while len(entries) > MEMO_SIZE:
            entries.popitem(last=False)
    return value


def _shared(key: str, build: Callable[[], object]):
    """`build()` from Redis, computed by one worker at a time when missing."""
    value = cache.get(key)
    if value is not None:
        return value
    lock = f"{key}:lock"
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        got = cache.add(lock, 1, LOCK_SECONDS)
        if got is None:  # the cache is down (django-redis ignores the error)
            return build()
        if got:
            break
        time.sleep(0.01)
        value = cache.get(key)
        if value is not None:
            return value
        if time.monotonic() > deadline:
            return build()  # the holder is stuck: do not hang the request
    try:
        # The previous holder may have stored it between our last look and
        # our taking the lock: look once more before building.
        value = cache.get(key)
        if value is None:
            value = build()
            cache.set(key, value, SHARE_SECONDS)
    finally:
        cache.delete(lock)
    return value


def cached(current: Board, key: str, build: Callable[[], object]):
    """`build()` for the `current` board through both levels: this process's
    memory, then Redis."""
    key = f"sb:{key}:{current.key}"
    return remember(
        current.competition_id, current.version, key, lambda: _shared(key, build)
    )


def board_version(competition_id: int) -> int:
    # A new version starts from the clock, not 1: after a cache flush it must not
    # match one that workers still keep in memory.
    return cache.get_or_set(f"sb:v:{competition_id}", time.time_ns, None)


def standings_changed(competition_id: int) -> None:
    """Invalidate one competition's cached boards (after its commit)."""

    def bump() -> None:
        try:
            cache.incr(f"sb:v:{competition_id}")
        except ValueError:
            cache.set(f"sb:v:{competition_id}", time.time_ns(), None)

    transaction.on_commit(bump)


def _ranked(rows) -> list[Row]:
    # rows: (pk, name, kind, score, solves, last_solve_at)
    ordered = sorted(
        rows, key=lambda r: (-r[3], r[5] is None, r[5].timestamp() if r[5] else 0, r[0])
    )
    return [Row(rank, *row) for rank, row in enumerate(ordered, start=1)]


def _public(competition, kind: str | None):
    """Principals on the board: not hidden or banned, and no solo principal of a
    player now in a team (their solves were folded into it) unless the event is
    solo-only."""
    principals = Principal.objects.filter(
        competition=competition, is_hidden=False, is_banned=False
    )
    if competition.play_mode != PlayMode.SOLO:
        principals = principals.exclude(
            kind=PrincipalKind.SOLO, user__team__isnull=False
        )
    return principals.filter(kind=kind) if kind else principals


def _names(principals) -> dict[int, tuple[str, str]]:
    return {
        pk: (team or user, kind)
        for pk, team, user, kind in principals.values_list(
            "pk", "team__name", "user__username", "kind"
        )
    }


def live_sql(competition, kind: str | None) -> tuple[str, list]:
    """The ranked public principals as one query (also what bench/ explains):
    (pk, team name, user name, kind, score, solve count, last solve since EPOCH).

    The score is the ledger total plus the dynamic drift, summed per principal
    in one grouped pass over the dynamic solves (an index-only scan) joined to
    the principals: a correlated subquery per principal took 20 times as long
    for 10,000 of them. The principals come from the ORM (`_public`, one rule
    for every board), named by their aliases. The denormalised solve_count
    spares a join with every solve. The last solve comes as an interval since
    EPOCH: Django's timestamptz loader is pure Python and took half of `_live`'s
    time for 10,000 rows, psycopg loads intervals in C.
    """
    public, params = (
        _public(competition, kind)
        .annotate(
            team_name=F("team__name"),
            user_name=F("user__username"),
            since=F("last_solve_at") - EPOCH,
        )
        .values_list(
            "pk",
            "team_name",
            "user_name",
            "kind",
            "ledger_total",
            "solve_count",
            "since",
            "last_solve_at",
        )
        .query.sql_with_params()
    )
    sql = f"""
        SELECT p.pk, p.team_name, p.user_name, p.kind,
            p.ledger_total + COALESCE(d.drift, 0) AS score, p.solve_count, p.since
        FROM ({public}) p
        LEFT JOIN (
            SELECT s.principal_id, SUM(t.value - s.points) AS drift
            FROM scoring_solve s JOIN scoring_questiontally t
                ON t.question_id = s.question_id AND t.competition_id = %s
            WHERE t.value IS NOT NULL
            GROUP BY s.principal_id
        ) d ON d.principal_id = p.pk
        ORDER BY score DESC, p.last_solve_at ASC NULLS LAST, p.pk
    """  # noqa: S608  (the inner query is the ORM's, with its parameters)
    return sql, [*params, competition.pk]


def _live(competition, kind: str | None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(*live_sql(competition, kind))
        rows = cursor.fetchall()
    return [
        (rank, pk, team or user, k, score, n, _last_solve(since))
        for rank, (pk, team, user, k, score, n, since) in enumerate(rows, start=1)
    ]


def _last_solve(since) -> datetime | None:
    """The time from its offset to EPOCH: an interval from PostgreSQL, the
    microseconds from SQLite (raw SQL skips the ORM's converters)."""
    if since is None:
        return None
    if not isinstance(since, timedelta):
        since = timedelta(microseconds=since)
    return EPOCH.value + since


def frozen_snapshot(competition, freeze_at: datetime) -> dict[int, tuple]:
    """principal -> (score, solves, last solve) as the ledger stood at `freeze_at`.

    Computed once per freeze time and stored; later calls read the table.
    """
    stored = FrozenStanding.objects.filter(competition=competition, freeze_at=freeze_at)
    if stored.exists():
        return {
            p: (s, n, last)
            for p, s, n, last in stored.values_list(
                "principal_id", "score", "solves", "last_solve_at"
            )
        }
    scores = dict(
        ScoreEvent.objects.filter(
            principal__competition=competition, created_at__lte=freeze_at
        )
        .values("principal")
        .annotate(total=Sum("delta"))
        .values_list("principal", "total")
    )
    # Dynamic solves up to the freeze, worth what their questions were then.
    for pk, drift in drifts(
        Solve.objects.filter(
            principal__competition=competition, created_at__lte=freeze_at
        ),
        dynamic_values(competition.pk, at=freeze_at),
    ).items():
        scores[pk] = scores.get(pk, 0) + drift
    solves = {
        p: (n, last)
        for p, n, last in Solve.objects.filter(
            principal__competition=competition, created_at__lte=freeze_at
        )
        .values("principal")
        .annotate(n=Count("pk"), last=Max("created_at"))
        .values_list("principal", "n", "last")
    }
    snapshot = {}
    for pk in Principal.objects.filter(
        competition=competition, created_at__lte=freeze_at
    ).values_list("pk", flat=True):
        n, last = solves.get(pk, (0, None))
        snapshot[pk] = (scores.get(pk, 0), n, last)
    if timezone.now() - freeze_at < SNAPSHOT_GRACE:
        # A solve scored just before the freeze may not be committed yet: do not
        # store a snapshot that could miss it.
        return snapshot
    try:
        with transaction.atomic():
            FrozenStanding.objects.bulk_create(
                FrozenStanding(
                    competition=competition,
                    freeze_at=freeze_at,
                    principal_id=pk,
                    score=s,
                    solves=n,
                    last_solve_at=last,
                )
                for pk, (s, n, last) in snapshot.items()
            )
    except IntegrityError:
        pass  # another worker stored the same snapshot first
    return snapshot


def _frozen(competition, kind: str | None) -> list[tuple]:
    snapshot = frozen_snapshot(competition, competition.freeze_at)
    names = _names(_public(competition, kind).filter(pk__in=list(snapshot)))
    return [
        tuple(row)
        for row in _ranked(
            (pk, name, k, *snapshot[pk]) for pk, (name, k) in names.items()
        )
    ]


def _state(competition, live: bool) -> tuple[bool, str]:
    """Whether the public sees the board frozen, and that state for cache keys."""
    frozen = competition.is_frozen() and not live
    return frozen, f"f{competition.freeze_at.timestamp()}" if frozen else "live"


def board(competition, *, kind: str | None = None, live: bool = False) -> Board:
    """The ranked public board; frozen unless `live` or not frozen."""
    frozen, state = _state(competition, live)
    version = board_version(competition.pk)
    key = f"{competition.pk}:{version}:{state}:{kind or 'all'}"

    def build() -> Board:
        # Redis holds plain tuples (they unpickle fastest); rows become Rows here.
        rows = _shared(
            f"sb:rows:{key}",
            lambda: _frozen(competition, kind) if frozen else _live(competition, kind),
        )
        rows = list(map(Row._make, rows))
        by_principal = {r.principal_id: r for r in rows}
        return Board(key, competition.pk, version, frozen, rows, by_principal)

    return remember(competition.pk, version, f"sb:board:{key}", build)


def standings(competition, *, kind: str | None = None, live: bool = False) -> list[Row]:
    """The ranked public standings; frozen ones unless `live` or not frozen."""
    return board(competition, kind=kind, live=live).rows


def _json(data) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def chart_json(competition, *, kind: str | None = None, live: bool = False) -> bytes:
    """Rank-versus-score scatter for Chart.js, one dataset per kind of principal,
    encoded once per board version."""
    current = board(competition, kind=kind, live=live)

    def build() -> bytes:
        styles = {
            PrincipalKind.TEAM: (
                "Teams",
                "rgba(57, 211, 83, 1)",
                "rgba(57, 211, 83, .5)",
            ),
            PrincipalKind.SOLO: (
                "Solo Players",
                "rgba(88, 166, 255, 1)",
                "rgba(88, 166, 255, .5)",
            ),
        }
        datasets = []
        for principal_kind, (label, border, background) in styles.items():
            if kind and kind != principal_kind:
                continue
            datasets.append(
                {
                    "label": label,
                    "data": [
                        {
                            "x": r.score,
                            "y": r.rank,
                            "label": r.name,
                            "kind": r.kind,
                            "rank": r.rank,
                            "score": r.score,
                            "solves": r.solves,
                            "last_solve_at": r.last_solve_at.isoformat()
                            if r.last_solve_at
                            else None,
                        }
                        for r in current.rows
                        if r.kind == principal_kind
                    ],
                    "borderColor": border,
                    "backgroundColor": background,
                    "pointRadius": 4,
                }
            )
        return _json({"datasets": datasets, "max_rank": len(current.rows)})

    return cached(current, "chart", build)


def score_steps(competition, principal_ids: list[int], until=None) -> list[tuple]:
    """(time, principal, question, delta) of every change of these principals'
    scores up to `until`, in order: their ledger events, and each value change
    of a dynamic question they had solved."""
    events = ScoreEvent.objects.filter(principal_id__in=principal_ids)
    changes = ValueChange.objects.filter(competition=competition)
    if until is not None:
        events = events.filter(created_at__lte=until)
        changes = changes.filter(created_at__lte=until)
    steps = [
        (at, 0, pk, principal_id, question_id, delta)
        for pk, principal_id, question_id, at, delta in events.values_list(
            "pk", "principal_id", "question_id", "created_at", "delta"
        )
    ]
    solvers: dict[int, list[tuple]] = {}  # question -> (solved at, principal)
    held: dict[tuple[int, int], int] = {}  # (question, principal) -> points now
    for question_id, at, principal_id, points in Solve.objects.filter(
        principal_id__in=principal_ids
    ).values_list("question_id", "created_at", "principal_id", "points"):
        solvers.setdefault(question_id, []).append((at, principal_id))
        held[question_id, principal_id] = points
    for question_id, at, value in (
        changes.filter(question_id__in=list(solvers))
        .order_by("created_at", "pk")
        .values_list("question_id", "created_at", "value")
    ):
        for solved_at, principal_id in solvers[question_id]:
            # The change the solve itself made is in its points already.
            key = (question_id, principal_id)
            if at > solved_at and value != held[key]:
                steps.append((at, 1, 0, principal_id, question_id, value - held[key]))
                held[key] = value
    steps.sort(key=lambda step: step[:3])
    return [step[:1] + step[3:] for step in steps]


def score_lines(
    competition, principal_ids: list[int], events, frozen: bool
) -> tuple[dict[int, list], str | None]:
    """Running totals over time of `principal_ids` from (principal, at, delta)
    rows in order, each line starting at zero at the competition's start (or the
    first event, without a start); and where the lines end (the freeze, a past
    end, or None: now)."""
    rows = list(events)
    starts = [at for _, at, _ in rows[:1]] + [competition.starts_at]
    origin = min((at for at in starts if at is not None), default=None)
    zero = [{"x": origin.isoformat(), "y": 0}] if origin else []
    lines = {pk: list(zero) for pk in principal_ids}
    running = dict.fromkeys(principal_ids, 0)
    for principal_id, at, delta in rows:
        running[principal_id] += delta
        lines[principal_id].append({"x": at.isoformat(), "y": running[principal_id]})
    end = competition.freeze_at if frozen else competition.ends_at
    if end is not None and end > timezone.now():
        end = None
    return lines, end.isoformat() if end else None


def timeline_json(competition, *, top: int = 10, live: bool = False) -> bytes:
    """Score over time of the top principals, from the ledger (up to the freeze)."""
    current = board(competition, live=live)

    def build() -> bytes:
        leaders = current.rows[:top]
        ids = [r.principal_id for r in leaders]
        until = competition.freeze_at if current.frozen else None
        lines, end = score_lines(
            competition,
            ids,
            (
                (p, at, delta)
                for at, p, _, delta in score_steps(competition, ids, until)
            ),
            current.frozen,
        )
        return _json(
            {
                "datasets": [
                    {"label": r.name, "data": lines[r.principal_id]} for r in leaders
                ],
                "end": end,
            }
        )

    return cached(current, f"timeline:{top}", build)


def ctftime_json(competition) -> bytes:
    """The public standings in CTFtime's scoreboard feed format."""
    current = board(competition)
    return cached(
        current,
        "ctftime",
        lambda: _json(
            {
                "standings": [
                    {"pos": r.rank, "team": r.name, "score": r.score}
                    for r in current.rows
                ]
            }
        ),
    )
