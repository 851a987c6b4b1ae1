"""What-if WSGI app for bench/scoreboard.py (`-c sync:2:whatif`): the same app,
with the scoreboard's results also kept in each worker's memory under their
versioned cache key, so a warm request reads one small Redis key (the version)
instead of unpickling 10,000 rows, and the JSON feeds are encoded once per version.

Not app code: it measures what the suggested fix would buy.
"""

import os
import time

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctfplatform.settings")
application = get_wsgi_application()

from django.core.cache import cache  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402

from scoring import scoreboard as sb  # noqa: E402
from scoring import scoreboard_views as views  # noqa: E402

TTL = 15  # seconds; the version key makes a solve visible at once anyway
_memo: dict[str, tuple[float, object]] = {}
_standings = sb.standings


def _version(competition_id: int) -> int:
    """The board's version key, as scoring.scoreboard reads it (one Redis GET)."""
    return cache.get_or_set(f"sb:v:{competition_id}", 1, None) or 1


def _memoised(key: str, compute):
    hit = _memo.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    if len(_memo) > 64:
        _memo.clear()
    value = compute()
    _memo[key] = (time.monotonic() + TTL, value)
    return value


def standings(competition, *, kind=None, live=False):
    frozen = competition.is_frozen() and not live
    key = f"{competition.pk}:{_version(competition.pk)}:{frozen}:{live}:{kind}"
    return _memoised("rows:" + key, lambda: _standings(competition, kind=kind,
                                                       live=live))


def _json(name: str, request, build):
    competition, _, kind, live = views._options(request)
    key = f"{name}:{competition.pk}:{_version(competition.pk)}:{kind}:{live}"
    body = _memoised(key, lambda: JsonResponse(build(competition, kind, live)).content)
    return HttpResponse(body, content_type="application/json")


def chart(request):
    return _json("chart", request, lambda c, k, live: sb.chart_data(c, kind=k,
                                                                     live=live))


def ctftime(request):
    return _json("ctftime", request, lambda c, k, live: {"standings": [
        {"pos": r.rank, "team": r.name, "score": r.score} for r in standings(c)]})


# Before the first request: the URLconf, imported lazily, picks these up.
sb.standings = views.standings = standings
views.scoreboard_chart_data, views.ctftime_feed = chart, ctftime
