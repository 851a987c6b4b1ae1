"""`GET /api/v1/challenges`, `/api/v1/challenges/{id}` and its files: the board
and a challenge as the caller sees them, with the same access rules as the
pages (hidden: 404; locked: 403 with the card and its explanation)."""

from django.http import HttpResponse
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from challenges.board import Card, Locked, open_card, player_board
from challenges.handouts import handout_response
from challenges.markdown import render_markdown


def card_data(card: Card) -> dict:
    """What the board shows of a card: nothing but the explanation when it is
    anonymous, no solve count while it is locked."""
    challenge, named, locked = card.challenge, card.named, not card.access.is_open
    return {
        "id": challenge.pk,
        "name": challenge.name if named else None,
        "category": challenge.category if named else None,
        "points": card.points if named else None,
        "solve_count": None if locked else card.solve_count,
        "solved": card.solved,
        "locked": locked,
        "explanation": card.access.explanation,
    }


def locked_response(locked: Locked) -> Response:
    """403 with the card, as `GET /api/v1/challenges/{id}` answers a locked one."""
    explanation = locked.card.access.explanation
    return Response(
        {
            "error": "locked",
            "detail": f"This challenge is locked. {explanation}".strip(),
            **card_data(locked.card),
        },
        status=403,
    )


class ChallengeListView(APIView):
    def get(self, request: Request) -> Response:
        return Response(
            [card_data(card) for card in player_board(request.user).cards()]
        )


class ChallengeDetailView(APIView):
    def get(self, request: Request, challenge_id: int) -> Response:
        try:
            board, card = open_card(request.user, challenge_id)
        except Locked as locked:
            return locked_response(locked)
        challenge = card.challenge
        data = card_data(card)
        data.update(
            author=challenge.author,
            description_html=str(board.description(card)),
            connection_info=challenge.connection_info,
            tags=challenge.tags,
            files=[
                {
                    "id": f.pk,
                    "name": f.name,
                    "size": f.size,
                    "sha256": f.sha256,
                    "url": request.build_absolute_uri(
                        reverse("api-challenge-file", args=[challenge.pk, f.pk])
                    ),
                }
                for f in challenge.files.all()
            ],
            hints=[
                {
                    "id": h.pk,
                    "title": h.title,
                    "cost": h.cost,
                    "content": h.content if not h.cost else None,
                    "content_html": str(render_markdown(h.content))
                    if not h.cost
                    else None,
                }
                for h in challenge.hints.all()
            ],
            questions=[
                {
                    "id": q.pk,
                    "key": q.key,
                    "name": q.name,
                    "points": q.points,
                    "solved": q.pk in card.solved_questions,
                }
                for q in card.questions
            ],
        )
        return Response(data)


class ChallengeFileView(APIView):
    """A handout for scripts (`Authorization: Token`); the URL is the file's id,
    so it stays the same across rescans."""

    def get(self, request: Request, challenge_id: int, file_id: int) -> HttpResponse:
        try:
            board, card = open_card(request.user, challenge_id)
        except Locked as locked:
            return locked_response(locked)
        return handout_response(board, card, file_id)
