"""`GET /api/v1/challenges` and `/api/v1/challenges/{id}`: the board and a
challenge as the caller sees them, with the same access rules as the pages."""

from django.http import Http404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from challenges.board import Card, player_board


def card_data(card: Card) -> dict:
    challenge = card.challenge
    return {
        "id": challenge.pk,
        "name": challenge.name,
        "category": challenge.category,
        "points": card.points,
        "solve_count": card.solve_count,
        "solved": card.solved,
        "locked": not card.access.is_open,
        "explanation": card.access.explanation,
    }


class ChallengeListView(APIView):
    def get(self, request: Request) -> Response:
        return Response(
            [card_data(card) for card in player_board(request.user).cards()]
        )


class ChallengeDetailView(APIView):
    def get(self, request: Request, challenge_id: int) -> Response:
        board = player_board(request.user)
        card = board.get(challenge_id)
        if card is None:
            raise Http404
        data = card_data(card)
        if card.access.is_open:
            challenge = card.challenge
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
                        "url": request.build_absolute_uri(
                            f"/challenges/{challenge.pk}/files/{f.pk}/"
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
        return Response(data, status=200 if card.access.is_open else 403)
