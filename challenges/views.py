"""Player challenge pages: the board, a challenge's detail, files and feedback.

Every page goes through `Board`, so the requirement check that hides or locks a
card also guards the detail page and file downloads.
"""

import mimetypes
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from challenges.board import Board, Card, player_board
from challenges.models import ChallengeFile, Feedback
from challenges.services import feedback_set
from scoring.selectors import unlocked_hint_ids


def _filtered(cards: list[Card], params) -> list[Card]:
    category, status = params.get("category", ""), params.get("status", "")
    query = params.get("q", "").strip().casefold()
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
        categories.setdefault(card.challenge.category or "misc", []).append(card)
    context = {
        "board": board,
        "competition": board.competition,
        "not_started": board.not_started,
        "categories": categories,
        "all_categories": sorted({c.challenge.category or "misc" for c in cards}),
        "filters": {k: request.GET.get(k, "") for k in ("category", "status", "q")},
        "solved_count": sum(1 for c in cards if c.solved),
        "total_count": len(cards),
    }
    template = "challenges/_board.html" if request.htmx else "challenges/board.html"
    return render(request, template, context)


def _open_card(request: HttpRequest, challenge_id: int) -> tuple[Board, Card]:
    board = player_board(request.user)
    card = board.get(challenge_id)
    if card is None:
        raise Http404("No such challenge.")
    return board, card


@login_required
def detail(request: HttpRequest, challenge_id: int) -> HttpResponse:
    board, card = _open_card(request, challenge_id)
    challenge = card.challenge
    context = {"card": card, "challenge": challenge, "competition": board.competition}
    if card.access.is_open:
        feedback = Feedback.objects.filter(
            challenge=challenge, user=request.user
        ).first()
        context.update(
            description=board.description(card),
            files=challenge.files.all(),
            hints=challenge.hints.all(),
            unlocked_hints=unlocked_hint_ids(board.principal),
            feedback=feedback,
        )
    status = 200 if card.access.is_open else 403
    return render(request, "challenges/detail.html", context, status=status)


def _catalog_file(challenge_identity: str, relative_path: str) -> Path:
    """The file on disk, refusing anything that resolves outside the catalog."""
    root = Path(settings.CATALOG_DIR).resolve()
    path = (root / challenge_identity / relative_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Http404("File not found.")
    return path


@login_required
def download(request: HttpRequest, challenge_id: int, file_id: int) -> HttpResponse:
    board, card = _open_card(request, challenge_id)
    if not card.access.is_open:
        raise Http404("No such file.")
    handout = get_object_or_404(ChallengeFile, pk=file_id, challenge=card.challenge)
    path = _catalog_file(card.challenge.identity, handout.relative_path)
    if handout.placeholders:
        text = board.fill(card, path.read_text(encoding="utf-8"))
        content_type = mimetypes.guess_type(handout.name)[0] or "text/plain"
        response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=handout.name
        )
        return response
    return FileResponse(path.open("rb"), as_attachment=True, filename=handout.name)


@login_required
@require_POST
def feedback(request: HttpRequest, challenge_id: int) -> HttpResponse:
    board, card = _open_card(request, challenge_id)
    if not card.access.is_open:
        raise Http404("No such challenge.")
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
