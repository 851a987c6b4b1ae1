"""The "Test as" screen of a challenge's requirement, an htmx partial in the admin.

An organizer picks a team or a player and sees whether the requirement holds
for them, with the value of each sub-expression (AND/OR short-circuit, so some
are not evaluated). It reads like a player's board: the player's principal in
the default competition, the same RequirementContext, the same compiled text.
"""

from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.models import Team, User
from challenges.access import RequirementContext
from challenges.models import Challenge, Competition
from requirements.compiled import caret_excerpt, compile_requirement
from requirements.lispish import LispIshError
from scoring.services import principal_resolve

MATCHES = 10


@staff_member_required
def requirement_test_as(request: HttpRequest, challenge_id: int) -> HttpResponse:
    """Evaluate the requirement as ``?team=<id>`` or ``?user=<id>``, or search ``?q=``.

    With ``draft=1`` the text under ``requirement`` (the editor's unsaved text)
    is tested instead of the stored one.
    """
    if not request.user.has_perm("challenges.view_challenge"):
        raise PermissionDenied
    challenge = get_object_or_404(Challenge, pk=challenge_id)
    params = request.POST if request.method == "POST" else request.GET
    if not params.get("user") and not params.get("team"):
        return _matches(request, challenge, params.get("q", "").strip())

    if params.get("team"):
        team = get_object_or_404(Team, pk=params["team"])
        user = _team_player(team)
        label = f"team {team.name}"
    else:
        user = get_object_or_404(User, pk=params["user"])
        label = f"player {user.username}"
    text = params.get("requirement", "") if params.get("draft") else None
    context: dict[str, Any] = {
        "challenge": challenge,
        "label": label,
        "draft": text is not None,
    }
    if text is None:
        text = challenge.requirement
    if user is None:
        context["problem"] = "This team has no members to play as."
    elif not text.strip():
        context["problem"] = "No requirement: every player can open this challenge."
    else:
        context.update(_verdict(user, text))
    return render(request, "requirements/_test_as.html", context)


def _team_player(team: Team) -> User | None:
    """The team's captain, or any member when the captain has left."""
    if team.captain.team_id == team.pk:
        return team.captain
    return team.members.order_by("pk").first()


def _verdict(user: User, text: str) -> dict[str, Any]:
    try:
        expression = compile_requirement(text)
    except LispIshError as error:
        return {
            "problem": str(error),
            "excerpt": caret_excerpt(text, error.line, error.col),
        }
    competition = Competition.objects.default()
    principal = principal_resolve(user=user, competition=competition)
    functions = RequirementContext(user, principal).functions()
    trace = expression.trace(functions)
    return {
        "competition": competition,
        "plays_as": principal,
        "trace": _shown(trace.to_dict()),
        "result": None if trace.error else bool(trace.value),
        "error": trace.error,
    }


def _shown(node: dict[str, Any]) -> dict[str, Any]:
    """Add how each value reads in LispIsh (true, 100, "text") to a trace tree."""
    value = node["value"]
    if not node["evaluated"]:
        node["shown"], node["state"] = "not evaluated", "skipped"
    elif node["error"]:
        node["shown"], node["state"] = node["error"], "error"
    elif isinstance(value, bool):
        node["shown"], node["state"] = str(value).lower(), str(value).lower()
    elif isinstance(value, str):
        node["shown"], node["state"] = f'"{value}"', "value"
    else:
        node["shown"], node["state"] = str(value), "value"
    for child in node["children"]:
        _shown(child)
    return node


def _matches(request: HttpRequest, challenge: Challenge, query: str) -> HttpResponse:
    """Teams and players whose name contains ``query``, to pick one from."""
    teams = users = []
    if query:
        teams = list(Team.objects.filter(name__icontains=query)[:MATCHES])
        users = list(
            User.objects.filter(username__icontains=query)
            .select_related("team")
            .order_by("username")[:MATCHES]
        )
    context = {"challenge": challenge, "query": query, "teams": teams, "users": users}
    return render(request, "requirements/_test_as_matches.html", context)
