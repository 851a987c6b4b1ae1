"""The event dashboard, the admin's index: what an organizer watches during the
event. The competition's state and time left, submissions and solves per
minute, the latest solves and first bloods, cheat records nobody acted on yet,
the nodes' health and the tasks in progress; the panels refresh in place
(htmx) every REFRESH_SECONDS.

It sits on top of the house because it gathers every app's panel; each
panel's numbers come from its app's selectors and models (`scoring.stats`,
`nodes`). Running instances get their panel with the instances issue (the
marked slot in `admin/dashboard/_panels.html`).
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from challenges.models import Competition
from nodes.models import FINISHED, BackgroundTask, Node
from scoring.stats import (
    competition_activity,
    latest_first_bloods,
    latest_solves,
    open_cheats,
)

REFRESH_SECONDS = 15
HOURS = (1, 3, 6, 12)  # the chart's spans, per minute
LATEST = 10


def _options(request: HttpRequest) -> tuple[Competition, list[Competition], int]:
    competitions = list(Competition.objects.all())
    wanted = request.GET.get("competition", "")
    competition = next(
        (c for c in competitions if str(c.pk) == wanted),
        next((c for c in competitions if c.is_default), None),
    )
    if competition is None:  # an emptied database
        competition = Competition.objects.default()
        competitions = [competition]
    hours = request.GET.get("hours", "")
    return competition, competitions, int(hours) if hours in map(str, HOURS) else 3


def _panels(competition: Competition, hours: int) -> dict:
    activity = competition_activity(competition, window=hours * 3600, bucket=60)
    cheats = open_cheats(competition)
    now = timezone.now()
    change = competition.next_change(now)
    return {
        "now": now,
        "phase": competition.phase(now),
        "next_change": change,
        "time_left": change - now if change else None,
        "activity": {
            "labels": [b.start.isoformat() for b in activity.buckets],
            "attempts": [b.attempts for b in activity.buckets],
            "solves": [b.solves for b in activity.buckets],
        },
        "activity_totals": {
            "attempts": sum(b.attempts for b in activity.buckets),
            "solves": sum(b.solves for b in activity.buckets),
        },
        "latest_solves": latest_solves(competition, LATEST),
        "first_bloods": latest_first_bloods(competition, LATEST),
        "cheats": list(cheats[:LATEST]),
        "cheat_count": cheats.count(),
        **_work(),
    }


def _work() -> dict:
    """The nodes (a handful: all of them) and the tasks not finished yet."""
    tasks = BackgroundTask.objects.exclude(status__in=FINISHED)
    return {
        "nodes": list(Node.objects.all()),
        "tasks": list(tasks.select_related("created_by")[:LATEST]),
    }


def dashboard_context(request: HttpRequest) -> dict:
    """The index page's context: the options and every panel."""
    competition, competitions, hours = _options(request)
    return {
        "competition": competition,
        "competitions": competitions,
        "hours": hours,
        "hour_choices": HOURS,
        "refresh_seconds": REFRESH_SECONDS,
        **_panels(competition, hours),
    }


def panels(request: HttpRequest) -> HttpResponse:
    """The panels alone, for the page's htmx refresh."""
    competition, _, hours = _options(request)
    context = {"competition": competition, "hours": hours}
    context.update(_panels(competition, hours))
    return render(request, "admin/dashboard/_panels.html", context)
