"""`GET /api/v1/challenges`, `/api/v1/challenges/{id}` and its files: the board
and a challenge as the caller sees them, with the same access rules as the
pages (hidden: 404; locked: 403 with the card and its explanation)."""

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
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


class CardSerializer(serializers.Serializer):
    """A board card (what `card_data` gives); name, category and points are
    null on an anonymous locked card, the solve count on any locked one."""

    id = serializers.IntegerField()
    name = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True, allow_blank=True)
    points = serializers.IntegerField(allow_null=True)
    solve_count = serializers.IntegerField(allow_null=True)
    solved = serializers.BooleanField()
    locked = serializers.BooleanField()
    explanation = serializers.CharField(
        allow_blank=True, help_text="Why it is locked, in plain English."
    )


class LockedSerializer(CardSerializer):
    error = serializers.CharField(help_text="`locked`")
    detail = serializers.CharField()


LOCKED = OpenApiResponse(LockedSerializer, description="Locked: the card and why.")


class FileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.URLField()


class HintSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    cost = serializers.IntegerField()
    content = serializers.CharField(allow_null=True, help_text="Null unless free.")
    content_html = serializers.CharField(allow_null=True)


class QuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    points = serializers.IntegerField()
    solved = serializers.BooleanField()


class ChallengeSerializer(CardSerializer):
    author = serializers.CharField(allow_blank=True)
    description_html = serializers.CharField(allow_blank=True)
    connection_info = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    files = FileSerializer(many=True)
    hints = HintSerializer(many=True)
    questions = QuestionSerializer(many=True)


class ChallengeListView(ListAPIView):
    """The board as the caller sees it; locked cards last."""

    serializer_class = CardSerializer

    def get(self, request: Request) -> Response:
        cards = self.paginate_queryset(player_board(request.user).cards())
        return self.get_paginated_response([card_data(card) for card in cards])


class ChallengeDetailView(APIView):
    @extend_schema(responses={200: ChallengeSerializer, 403: LOCKED})
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

    @extend_schema(
        responses={
            (200, "*/*"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The file; text handouts come with the caller's "
                "flags filled in.",
            ),
            403: LOCKED,
        }
    )
    def get(self, request: Request, challenge_id: int, file_id: int) -> HttpResponse:
        try:
            board, card = open_card(request.user, challenge_id)
        except Locked as locked:
            return locked_response(locked)
        return handout_response(board, card, file_id)
