"""Player challenge pages: the board, a challenge's detail, files and feedback.

Every page goes through `Board`, so the requirement check that hides or locks a
card also guards the detail page and file downloads: a hidden challenge is not
found anywhere, a locked one answers 403 with its card (anonymous, or the
preview) and nothing more.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from challenges.board import Card, Locked, open_card, player_board
from challenges.handouts import handout_response
from challenges.models import Feedback
from challenges.services import feedback_set
from scoring.selectors import unlocked_hint_ids


def _filtered(cards: list[Card], params) -> list[Card]:
    category, status = params.get("category", ""), params.get("status", "")
    query = params.get("q", "").strip().casefold()
    if category or query:
        # An anonymous card has no category, name or tags the player may know.
        cards = [c for c in cards if c.named]
    if category:
        cards = [c for c in cards if (c.challenge.category or "misc") == category]
    if status == "solved":
        cards = [c for c in cards if c.solved]
    elif status == "unsolved":
        cards = [c for c in cards if not c.solved]
    if query:
        cards = [
            c
            for c in cards
            if query in c.challenge.name.casefold()
            or any(query in str(t).casefold() for t in c.challenge.tags)
        ]
    return cards


@login_required
def board(request: HttpRequest) -> HttpResponse:
    board = player_board(request.user)
    cards = board.cards()
    shown = _filtered(cards, request.GET)
    categories: dict[str, list[Card]] = {}
    for card in shown:
        if card.named:
            categories.setdefault(card.challenge.category or "misc", []).append(card)
    context = {
        "board": board,
        "competition": board.competition,
        "not_started": board.not_started,
        "categories": categories,
        "locked_cards": [c for c in shown if c.anonymous],
        "all_categories": sorted(
            {c.challenge.category or "misc" for c in cards if c.named}
        ),
        "filters": {k: request.GET.get(k, "") for k in ("category", "status", "q")},
        "solved_count": sum(1 for c in cards if c.solved),
        "total_count": len(cards),
    }
    template = "challenges/_board.html" if request.htmx else "challenges/board.html"
    return render(request, template, context)


def _locked_page(request: HttpRequest, locked: Locked) -> HttpResponse:
    context = {"card": locked.card, "competition": locked.board.competition}
    return render(request, "challenges/detail.html", context, status=403)


def _unless_locked(view):
    """Answer a locked challenge with its card (403), as its page does."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Locked as locked:
            return _locked_page(request, locked)

    return wrapper


@login_required
@_unless_locked
def detail(request: HttpRequest, challenge_id: int) -> HttpResponse:
    board, card = open_card(request.user, challenge_id)
    challenge = card.challenge
    feedback = Feedback.objects.filter(challenge=challenge, user=request.user).first()
    context = {
        "card": card,
        "challenge": challenge,
        "competition": board.competition,
        "description": board.description(card),
        "files": challenge.files.all(),
        "hints": challenge.hints.all(),
        "unlocked_hints": unlocked_hint_ids(board.principal),
        "feedback": feedback,
        "next_card": board.next_card(card),
    }
    return render(request, "challenges/detail.html", context)


@login_required
@_unless_locked
def download(request: HttpRequest, challenge_id: int, file_id: int) -> HttpResponse:
    board, card = open_card(request.user, challenge_id)
    return handout_response(board, card, file_id)


@login_required
@require_POST
@_unless_locked
def feedback(request: HttpRequest, challenge_id: int) -> HttpResponse:
    board, card = open_card(request.user, challenge_id)
    try:
        vote = int(request.POST.get("vote", ""))
        saved = feedback_set(
            user=request.user,
            challenge=card.challenge,
            competition=board.competition,
            vote=vote,
            comment=request.POST.get("comment", ""),
        )
    except ValueError:
        return render(
            request,
            "challenges/_feedback.html",
            {"challenge": card.challenge, "error": "Pick Liked it or Not for me."},
            status=400,
        )
    return render(
        request,
        "challenges/_feedback.html",
        {"challenge": card.challenge, "feedback": saved, "saved": True},
    )
