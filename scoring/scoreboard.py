"""Standings: live from the principals' totals, frozen from a ledger snapshot.

Order: score descending, then the earliest last solve (none last), then id.
Hidden and banned principals never appear. Results are cached per
(competition, filter, freeze state) under a version that only changes when
a score of that competition does (`standings_changed`), so a solve invalidates
its own competition's board and nothing else.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from scoring.models import FrozenStanding, Principal, PrincipalKind, ScoreEvent, Solve

KINDS = {"all": None, "team": PrincipalKind.TEAM, "solo": PrincipalKind.SOLO}
CACHE_SECONDS = 300
SNAPSHOT_GRACE = timedelta(seconds=10)


@dataclass(frozen=True)
class Row:
    rank: int
    principal_id: int
    name: str
    kind: str
    score: int
    solves: int
    last_solve_at: datetime | None


def board_version(competition_id: int) -> int:
    return cache.get_or_set(f"sb:v:{competition_id}", 1, None) or 1


def _cache_key(what: str, competition, live: bool, kind: str | None) -> tuple:
    """Whether the answer is frozen, and its cache key: per competition, board
    version, freeze time (or live) and filter."""
    frozen = competition.is_frozen() and not live
    state = f"f{competition.freeze_at.timestamp()}" if frozen else "live"
    version = board_version(competition.pk)
    return frozen, f"sb:{what}:{competition.pk}:{version}:{state}:{kind or 'all'}"


def standings_changed(competition_id: int) -> None:
    """Invalidate one competition's cached boards (after its commit)."""

    def bump() -> None:
        try:
            cache.incr(f"sb:v:{competition_id}")
        except ValueError:
            cache.set(f"sb:v:{competition_id}", 2, None)

    transaction.on_commit(bump)


def _ranked(rows) -> list[Row]:
    # rows: (pk, name, kind, score, solves, last_solve_at)
    ordered = sorted(
        rows, key=lambda r: (-r[3], r[5] is None, r[5].timestamp() if r[5] else 0, r[0])
    )
    return [Row(rank, *row) for rank, row in enumerate(ordered, start=1)]


def _public(competition, kind: str | None):
    principals = Principal.objects.filter(
        competition=competition, is_hidden=False, is_banned=False
    )
    return principals.filter(kind=kind) if kind else principals


def _names(principals) -> dict[int, tuple[str, str]]:
    return {
        pk: (team or user, kind)
        for pk, team, user, kind in principals.values_list(
            "pk", "team__name", "user__username", "kind"
        )
    }


def _live(competition, kind: str | None) -> list[Row]:
    rows = (
        _public(competition, kind)
        .annotate(n=Count("solves"))
        .values_list(
            "pk",
            "team__name",
            "user__username",
            "kind",
            "score_total",
            "n",
            "last_solve_at",
        )
    )
    return _ranked(
        (pk, team or user, k, score, n, last)
        for pk, team, user, k, score, n, last in rows
    )


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


def _frozen(competition, kind: str | None) -> list[Row]:
    snapshot = frozen_snapshot(competition, competition.freeze_at)
    names = _names(_public(competition, kind).filter(pk__in=list(snapshot)))
    return _ranked((pk, name, k, *snapshot[pk]) for pk, (name, k) in names.items())


def standings(competition, *, kind: str | None = None, live: bool = False) -> list[Row]:
    """The ranked public standings; frozen ones unless `live` or not frozen."""
    frozen, key = _cache_key("rows", competition, live, kind)
    rows = cache.get(key)
    if rows is None:
        rows = _frozen(competition, kind) if frozen else _live(competition, kind)
        cache.set(key, rows, CACHE_SECONDS)
    return rows


def chart_data(competition, *, kind: str | None = None, live: bool = False) -> dict:
    """Rank-versus-score scatter for Chart.js, one dataset per kind of principal."""
    _, key = _cache_key("chart", competition, live, kind)
    data = cache.get(key)
    if data is not None:
        return data
    rows = standings(competition, kind=kind, live=live)
    styles = {
        PrincipalKind.TEAM: ("Teams", "rgba(57, 211, 83, 1)", "rgba(57, 211, 83, .5)"),
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
                    for r in rows
                    if r.kind == principal_kind
                ],
                "borderColor": border,
                "backgroundColor": background,
                "pointRadius": 4,
            }
        )
    data = {"datasets": datasets, "max_rank": len(rows)}
    cache.set(key, data, 15)
    return data


def timeline(competition, *, top: int = 10, live: bool = False) -> dict:
    """Score over time of the top principals, from the ledger (up to the freeze)."""
    frozen, key = _cache_key("timeline", competition, live, None)
    data = cache.get(key)
    if data is not None:
        return data
    leaders = standings(competition, live=live)[:top]
    events = ScoreEvent.objects.filter(
        principal_id__in=[r.principal_id for r in leaders]
    )
    if frozen:
        events = events.filter(created_at__lte=competition.freeze_at)
    points: dict[int, list] = {r.principal_id: [] for r in leaders}
    running: dict[int, int] = dict.fromkeys(points, 0)
    for principal_id, at, delta in events.order_by("created_at", "pk").values_list(
        "principal_id", "created_at", "delta"
    ):
        running[principal_id] += delta
        points[principal_id].append({"x": at.isoformat(), "y": running[principal_id]})
    data = {
        "datasets": [{"label": r.name, "data": points[r.principal_id]} for r in leaders]
    }
    cache.set(key, data, 15)
    return data


def rank_of(rows: list[Row], principal_id: int | None) -> Row | None:
    return next((r for r in rows if r.principal_id == principal_id), None)
