"""The instance panel on a challenge's page: start, extend, restart, stop.

Each route opens the challenge's card first (`challenges.board.open_card`, the
board's `challenge_access` check): a challenge the player may not open, hidden
or locked, is not found here, so these routes tell nothing about it. htmx gets
the panel back in place; a plain form post goes back to the challenge's page
with the outcome as a message.
"""

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from challenges.board import Board, Card, Locked, open_card
from nodes.selectors import instance_of, instance_view
from nodes.services.instances import (
    InstanceRefused,
    instance_extend,
    instance_restart,
    instance_start,
    instance_stop,
)

# Statuses the panel polls through (fast), and how often it refreshes a running
# instance's time left and extend button (slowly); settled ones never poll.
MOVING = ("starting", "stopping")
POLL_MOVING = "1s"
POLL_RUNNING = "60s"

# What a settled instance says when its record carries no message.
ENDED = {
    "stopped": "Your instance was stopped.",
    "expired": "Your instance's time ran out.",
    "failed": "Your instance could not start.",
    "lost": "Your instance's node went away; start it again.",
}

DONE = {
    "start": "Starting your instance…",
    "restart": "Restarting your instance…",
    "extend": "Instance extended.",
    "stop": "Stopping your instance…",
}


def _instanced_card(user, challenge_id: int) -> tuple[Board, Card]:
    """The open card of an instanced challenge; 404 for anything else."""
    try:
        board, card = open_card(user, challenge_id)
    except Locked:
        raise Http404("No such challenge.") from None
    if not is_instanced(card.challenge):
        raise Http404("This challenge has no instances.")
    return board, card


def is_instanced(challenge) -> bool:
    """Whether the challenge's spec has `instance:` settings."""
    return bool((challenge.services or {}).get("instance"))


def panel_context(user, challenge, competition, refusal: str = "") -> dict:
    """What the panel template needs: the player's view of the instance."""
    instance = instance_of(user=user, challenge=challenge, competition=competition)
    view = instance_view(instance) if instance is not None else None
    status = view["status"] if view else ""
    expires_at = view and view.get("expires_at")
    return {
        "challenge": challenge,
        "instance": view,
        "refusal": refusal,
        "team": competition.plays_as(user) == "team",
        "left": time_left(view["seconds_left"]) if status == "running" else "",
        "expires_at": datetime.fromisoformat(expires_at) if expires_at else None,
        "ended": ENDED.get(status, ""),
        "poll": {**dict.fromkeys(MOVING, POLL_MOVING), "running": POLL_RUNNING}.get(
            status, ""
        ),
    }


def time_left(seconds: int | None) -> str:
    """ "29 min", "45 s": what the panel says is left of the lifetime."""
    seconds = max(int(seconds or 0), 0)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


@login_required
@require_GET
def panel(request: HttpRequest, challenge_id: int) -> HttpResponse:
    """The panel alone, polled while the instance starts or stops."""
    board, card = _instanced_card(request.user, challenge_id)
    context = panel_context(request.user, card.challenge, board.competition)
    return render(request, "nodes/_instance_panel.html", context)


def _act(request: HttpRequest, challenge_id: int, action: str) -> HttpResponse:
    board, card = _instanced_card(request.user, challenge_id)
    refusal = ""
    try:
        _call(action, request.user, board, card)
    except InstanceRefused as refused:
        if refused.code == "locked":  # its requirement changed since the page
            raise Http404("No such challenge.") from None
        refusal = refused.message
    if not request.htmx:
        if refusal:
            messages.error(request, refusal)
        else:
            messages.success(request, DONE[action])
        return redirect(card.challenge)
    context = panel_context(request.user, card.challenge, board.competition, refusal)
    return render(request, "nodes/_instance_panel.html", context)


def _call(action: str, user, board: Board, card: Card) -> None:
    where = {"challenge": card.challenge, "competition": board.competition}
    if action == "start":
        instance_start(user=user, **where)
    elif action == "restart":
        instance_restart(user=user, **where)
    elif action == "extend":
        instance_extend(user=user, **where)
    else:  # stop: the principal's active instance, whoever of the team started it
        instance = instance_of(user=user, **where)
        if instance is None:
            raise InstanceRefused("not_active", "No instance is running.")
        instance_stop(instance=instance, actor=user)


@login_required
@require_POST
def start(request: HttpRequest, challenge_id: int) -> HttpResponse:
    return _act(request, challenge_id, "start")


@login_required
@require_POST
def restart(request: HttpRequest, challenge_id: int) -> HttpResponse:
    return _act(request, challenge_id, "restart")


@login_required
@require_POST
def extend(request: HttpRequest, challenge_id: int) -> HttpResponse:
    return _act(request, challenge_id, "extend")


@login_required
@require_POST
def stop(request: HttpRequest, challenge_id: int) -> HttpResponse:
    return _act(request, challenge_id, "stop")
