"""The flag form and hint unlocks on a challenge's page (htmx, answered in place)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from audit.services import client_ip
from challenges.board import Locked, open_card
from challenges.models import Hint
from scoring.pipeline import ChallengeHidden, submission_attempt
from scoring.services import hint_unlock


def _unless_locked(view):
    """A locked challenge answers 403 with its explanation, as its page does
    (200 to htmx, which swaps only 2xx answers, so the player reads why)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Locked as locked:
            message = f"This challenge is locked. {locked.card.access.explanation}"
            return render(
                request,
                "scoring/_attempt_result.html",
                {"attempt": {"result": "refused", "message": message.strip()}},
                status=200 if request.htmx else 403,
            )

    return wrapper


@login_required
@require_POST
@_unless_locked
def attempt(request: HttpRequest, challenge_id: int) -> HttpResponse:
    board, card = open_card(request.user, challenge_id)
    question = None
    if request.POST.get("question"):
        question = card.question(request.POST["question"])
        if question is None:
            raise Http404("No such question.")
    try:
        result = submission_attempt(
            user=request.user,
            challenge=card.challenge,
            question=question,
            flag=request.POST.get("flag", ""),
            competition=board.competition,
            principal=board.principal,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except ChallengeHidden:  # its requirement changed since the page was drawn
        raise Http404("No such challenge.") from None
    # htmx swaps only 2xx answers; a plain form post gets the real status.
    limited = result.result == "rate_limited"
    status = 429 if limited and not request.htmx else 200
    response = render(
        request,
        "scoring/_attempt_result.html",
        {"attempt": result, "question": question},
        status=status,
    )
    if result.result == "correct":
        response["HX-Trigger"] = "solved"
    return response


@login_required
@require_POST
@_unless_locked
def unlock_hint(request: HttpRequest, challenge_id: int, hint_id: int) -> HttpResponse:
    board, card = open_card(request.user, challenge_id)
    hint = get_object_or_404(Hint, pk=hint_id, challenge=card.challenge)
    if board.principal is None:
        raise Http404("Join a team to unlock hints.")
    hint_unlock(principal=board.principal, hint=hint, user=request.user)
    return render(
        request,
        "scoring/_hint.html",
        {"hint": hint, "unlocked": True, "challenge": card.challenge},
    )
