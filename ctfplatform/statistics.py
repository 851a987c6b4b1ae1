"""The admin's challenge statistics screen: the stats table (sortable), the
totals per category, and a drawer per challenge with its time series and its
instance-start latency histogram. The numbers are `scoring.stats`' and
`nodes.selectors`', as `GET /api/v1/admin/challenges/stats`, `.../timeseries`
and `.../latency-histogram` give them, at a fixed number of queries however
many challenges there are."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from challenges.models import Challenge, Competition
from nodes.selectors import latency_histogram
from scoring.stats import (
    STATS_ORDERINGS,
    category_totals,
    challenge_stats,
    challenge_timeseries,
    stats_ordered,
)

COLUMNS = [  # (ordering key, heading)
    ("name", "Challenge"),
    ("category", "Category"),
    ("attempts", "Attempts"),
    ("wrong", "Wrong"),
    ("solves", "Solves"),
    ("first_blood", "First blood"),
]
WINDOWS = [  # (seconds, bucket, label) offered in the drawer
    (3600, 60, "1 h"),
    (6 * 3600, 600, "6 h"),
    (86400, 3600, "24 h"),
    (7 * 86400, 6 * 3600, "7 days"),
]


def _competition(request: HttpRequest) -> tuple[Competition, list[Competition]]:
    competitions = list(Competition.objects.all())
    wanted = request.GET.get("competition", "")
    chosen = next((c for c in competitions if str(c.pk) == wanted), None)
    return chosen or Competition.objects.default(), competitions


def _screen_context(request: HttpRequest) -> dict:
    competition, competitions = _competition(request)
    ordering = request.GET.get("o", "board")
    if ordering not in STATS_ORDERINGS:
        ordering = "board"
    rows = challenge_stats(competition)
    columns = [
        {
            "key": key,
            "heading": heading,
            "sorted": ordering.lstrip("-") == key,
            "descending": ordering == f"-{key}",
            # A click sorts by the column; on the sorted column it flips.
            "next": f"-{key}" if ordering == key else key,
        }
        for key, heading in COLUMNS
    ]
    return {
        **admin.site.each_context(request),
        "title": "Challenge statistics",
        "competition": competition,
        "competitions": competitions,
        "ordering": ordering,
        "columns": columns,
        "rows": stats_ordered(rows, ordering),
        "categories": category_totals(rows),
        "totals": {
            "attempts": sum(r.attempts for r in rows),
            "wrong": sum(r.wrong for r in rows),
            "solves": sum(r.solves for r in rows),
        },
    }


def _drawer_context(request: HttpRequest, challenge: Challenge) -> dict:
    competition, _ = _competition(request)
    window = request.GET.get("window", "")
    window, bucket, label = next(
        (w for w in WINDOWS if str(w[0]) == window), WINDOWS[2]
    )
    series = challenge_timeseries(competition, challenge, window=window, bucket=bucket)
    (row,) = challenge_stats(competition, challenge)
    latency = latency_histogram(
        challenge_id=challenge.pk, competition_id=competition.pk
    )
    most = max((b["count"] for b in latency), default=0) or 1
    return {
        "challenge": challenge,
        "competition": competition,
        "row": row,
        "window": window,
        "label": label,
        "windows": WINDOWS,
        "series": {
            "labels": [b.start.isoformat() for b in series.buckets],
            "attempts": [b.attempts for b in series.buckets],
            "wrong": [b.wrong for b in series.buckets],
            "solves": [b.solves for b in series.buckets],
        },
        "latency": [{**b, "percent": 100 * b["count"] // most} for b in latency],
        "latency_starts": sum(b["count"] for b in latency),
    }


def screen(request: HttpRequest) -> HttpResponse:
    return render(request, "admin/statistics/screen.html", _screen_context(request))


def drawer(request: HttpRequest, challenge_id: int) -> HttpResponse:
    """One challenge's numbers and time series: the drawer alone for htmx, the
    screen with the drawer open otherwise."""
    challenge = get_object_or_404(Challenge, pk=challenge_id)
    context = _drawer_context(request, challenge)
    if request.htmx:
        return render(request, "admin/statistics/_drawer.html", context)
    context.update(_screen_context(request))
    return render(request, "admin/statistics/screen.html", context)
