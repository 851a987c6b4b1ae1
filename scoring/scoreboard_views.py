"""Scoreboard pages: the board, its htmx table, chart data, the CTFtime feed and
principal pages. Public: anyone may look; staff may switch to the live board."""

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from audit.models import EventLog, EventType
from challenges.board import Board as ChallengeBoard
from challenges.models import Competition
from scoring.hot import current_competition
from scoring.models import Principal, Solve
from scoring.scoreboard import (
    KINDS,
    Board,
    Row,
    board,
    chart_json,
    ctftime_json,
    remember,
    score_lines,
    score_steps,
    timeline_json,
)
from scoring.selectors import principal_for, principal_score

PAGE_SIZE = 50


def _options(request: HttpRequest) -> tuple[Competition, str, str | None, bool]:
    competition = current_competition()
    name = request.GET.get("filter", "all")
    if name not in KINDS:
        name = "all"
    live = request.user.is_staff and request.GET.get("live") == "1"
    return competition, name, KINDS[name], live


def wall_of_shame(competition: Competition, current: Board) -> list[dict]:
    """The latest automatic bans for cheating (at most 8)."""

    def build() -> list[dict]:
        principals = Principal.objects.filter(competition=competition)
        events = EventLog.objects.filter(
            event_type=EventType.USER_AUTO_BANNED_CHEATING,
            principal_id__in=principals.values("pk"),
        ).select_related("user")[:8]
        return [
            {
                "player": e.user.username if e.user else "",
                "principal": e.subject,
                "reason": e.message,
                "at": e.created_at,
            }
            for e in events
        ]

    return remember(current.competition_id, current.version, "sb:shame", build, 15)


def _personal(table: str, mine: Row | None, on_page: bool) -> SafeString:
    """The shared table with the viewer's row marked, or pinned above the page."""
    if mine is None:
        return mark_safe(table)  # noqa: S308 (rendered by our own template)
    if on_page:
        tag = f'<tr data-principal="{mine.principal_id}">'
        table = table.replace(tag, tag[:-1] + ' class="me">', 1)
    else:
        pinned = render_to_string("scoring/_scoreboard_pinned.html", {"mine": mine})
        table = table.replace("<tbody>", "<tbody>" + pinned, 1)
    return mark_safe(table)  # noqa: S308 (rendered by our own templates)


def _table_context(request: HttpRequest) -> dict:
    competition, name, kind, live = _options(request)
    current = board(competition, kind=kind, live=live)
    page = Paginator(current.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    # Rendered once per board version, filter, page and live switch; identical
    # for every viewer until the viewer's own row is marked in it.
    table = remember(
        current.competition_id,
        current.version,
        f"sb:table:{current.key}:{live}:{page.number}",
        lambda: render_to_string(
            "scoring/_scoreboard_table.html",
            {"page": page, "filter": name, "live": live},
        ),
    )
    principal = principal_for(request.user, competition)
    mine = current.by_principal.get(principal.pk) if principal else None
    on_page = mine is not None and page.start_index() <= mine.rank <= page.end_index()
    return {
        "competition": competition,
        "board": current,
        "filter": name,
        "live": live,
        "frozen": current.frozen,
        "page": page,
        "mine": mine,
        "principal": principal,
        # The board row's name spares a query for the principal's team or user.
        "principal_name": mine.name if mine else principal,
        "table": _personal(table, mine, on_page),
    }


def scoreboard(request: HttpRequest) -> HttpResponse:
    context = _table_context(request)
    if request.htmx:
        return HttpResponse(context["table"])
    principal, mine = context["principal"], context["mine"]
    if principal is not None:
        # A live board's row is the live score already; a frozen one is not.
        context["live_score"] = (
            mine.score if mine and not context["frozen"] else principal_score(principal)
        )
    context["wall_of_shame"] = wall_of_shame(context["competition"], context["board"])
    return render(request, "scoring/scoreboard.html", context)


def scoreboard_partial(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_table_context(request)["table"])


def _json(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


def scoreboard_chart_data(request: HttpRequest) -> HttpResponse:
    competition, _, kind, live = _options(request)
    return _json(chart_json(competition, kind=kind, live=live))


def scoreboard_timeline(request: HttpRequest) -> HttpResponse:
    competition, _, _, live = _options(request)
    return _json(timeline_json(competition, live=live))


def ctftime_feed(request: HttpRequest) -> HttpResponse:
    """The standings in CTFtime's scoreboard feed format (respects the freeze)."""
    return _json(ctftime_json(current_competition()))


def principal_page(request: HttpRequest, principal_id: int) -> HttpResponse:
    """Solves, score history and, for its own members, each question's status."""
    principal = get_object_or_404(
        Principal.objects.select_related("team", "user", "competition"), pk=principal_id
    )
    own = principal_for(request.user, principal.competition) == principal
    if not principal.is_public and not (own or request.user.is_staff):
        raise Http404("No such team or player.")
    competition = principal.competition
    frozen = competition.is_frozen() and not (own or request.user.is_staff)
    solves = (
        Solve.objects.filter(principal=principal)
        .select_related("question__challenge", "user")
        .order_by("created_at")
    )
    until = competition.freeze_at if frozen else None
    if frozen:
        solves = solves.filter(created_at__lte=until)
    steps = score_steps(competition, [principal.pk], until)
    points: dict[int, int] = {}
    for _, _, question_id, delta in steps:
        if question_id:
            points[question_id] = points.get(question_id, 0) + delta
    lines, end = score_lines(
        competition,
        [principal.pk],
        [(principal.pk, at, delta) for at, _, _, delta in steps],
        frozen,
    )
    current = board(competition, live=not frozen and request.user.is_staff)
    # Challenges appear as the viewer's own board shows them: a solve of one the
    # viewer may not know of is listed without its name.
    viewer = ChallengeBoard(
        request.user,
        principal if own else principal_for(request.user, competition),
        competition,
    )
    context = {
        "principal": principal,
        "own": own,
        "standing": current.by_principal.get(principal.pk),
        "solves": [(s, points.get(s.question_id, 0)) for s in solves],
        "named": viewer.named_ids(),
        "history": {"points": lines[principal.pk], "end": end},
        "score": sum(delta for *_, delta in steps),
        "frozen": frozen,
        "flag_status": _flag_status(principal, viewer) if own else None,
    }
    return render(request, "scoring/principal.html", context)


def _flag_status(principal: Principal, viewer: ChallengeBoard) -> list[dict]:
    """Each question the principal's board opens: solved or not, wrong attempts,
    flag issued or rotated; a locked challenge is one row, as its card reads."""
    solved = set(principal.solves.values_list("question_id", flat=True))
    flags: dict[int, dict] = {}
    for question_id, status in principal.flags.values_list("question_id", "status"):
        flags.setdefault(question_id, {"current": 0, "rotated": 0})[status] += 1
    wrong = dict(
        principal.submissions.filter(result="wrong")
        .values("question_id")
        .annotate(n=Count("pk"))
        .values_list("question_id", "n")
    )
    rows: list[dict] = []
    for card in viewer.cards():
        if not card.access.is_open:
            rows.append({"card": card, "locked": True})
            continue
        rows.extend(
            {
                "card": card,
                "question": q,
                "solved": q.pk in solved,
                "wrong": wrong.get(q.pk, 0),
                "flag": flags.get(q.pk),
            }
            for q in card.questions
        )
    return rows
