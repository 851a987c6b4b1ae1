"""Player routes of scoring: `GET /api/v1/me`, `POST /api/v1/challenges/{id}/attempt`
(the submission pipeline over JSON) and `GET /api/v1/scoreboard`."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import MeSerializer
from accounts.models import User
from audit.services import client_ip
from challenges.access import RequirementContext, challenge_access
from challenges.api import LOCKED, locked_response
from challenges.board import Locked, open_card
from challenges.models import Competition
from scoring.hot import attempt_target, current_competition
from scoring.models import PrincipalKind, Result
from scoring.pipeline import ChallengeHidden, submission_attempt
from scoring.scoreboard import KINDS, board
from scoring.selectors import principal_for, principal_score
from scoring.services import principal_resolve


class MePrincipalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(PrincipalKind.choices)
    name = serializers.CharField()
    score = serializers.IntegerField()
    banned = serializers.BooleanField()


class MeResponseSerializer(MeSerializer):
    principal = MePrincipalSerializer(
        allow_null=True, help_text="Who scores for the caller (team or solo)."
    )
    score = serializers.IntegerField()

    class Meta(MeSerializer.Meta):
        fields = MeSerializer.Meta.fields + ["principal", "score"]


class MeView(APIView):
    """The caller's account, team, and score in the default competition."""

    @extend_schema(responses=MeResponseSerializer)
    def get(self, request: Request) -> Response:
        user = User.objects.select_related("team__captain").get(pk=request.user.pk)
        principal = principal_resolve(
            user=user, competition=Competition.objects.default()
        )
        data = MeSerializer(user).data
        score = principal_score(principal) if principal else 0
        data["principal"] = (
            None
            if principal is None
            else {
                "id": principal.pk,
                "kind": principal.kind,
                "name": str(principal),
                "score": score,
                "banned": principal.is_banned,
            }
        )
        data["score"] = score
        return Response(data)


def _locked(user, challenge) -> Response | None:
    """The answer `GET /api/v1/challenges/{id}` gives while the challenge is not
    open to `user` (404 hidden, 403 locked): the board's card words it."""
    try:
        open_card(user, challenge.pk)  # raises Http404 when hidden
    except Locked as locked:
        return locked_response(locked)
    return None  # opened in between


class AttemptSerializer(serializers.Serializer):
    question = serializers.IntegerField(
        required=False, help_text="The question's id; needed if it has several."
    )
    flag = serializers.CharField(trim_whitespace=False, allow_blank=False)


class AttemptResultSerializer(serializers.Serializer):
    result = serializers.ChoiceField(Result.choices)
    message = serializers.CharField()
    points = serializers.IntegerField()
    retry_after = serializers.IntegerField(
        required=False, help_text="Seconds until submissions are accepted again."
    )
    first_blood_bonus = serializers.IntegerField(required=False)


class AttemptView(APIView):
    """Answers correct, wrong, already_solved, rate_limited (429) or refused;
    a challenge that is not open answers as its GET does (403 or 404), a flag
    without `question` on a challenge of several questions is a 400.

    The hot path: the competition, the challenge and the principal come from
    each worker's memory (`scoring.hot`), so a wrong flag costs the token look-up,
    one INSERT and two Redis calls.
    """

    @extend_schema(
        request=AttemptSerializer,
        responses={
            200: AttemptResultSerializer,
            403: LOCKED,
            429: OpenApiResponse(
                AttemptResultSerializer,
                description="Rate limited: `retry_after` seconds (also the "
                "Retry-After header).",
            ),
        },
    )
    def post(self, request: Request, challenge_id: int) -> Response:
        data = AttemptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        competition, challenge, principal = attempt_target(
            user=request.user, challenge_id=challenge_id
        )
        if challenge is None or competition.not_started_for(request.user):
            raise Http404
        access = None
        if challenge.requirement and not request.user.is_staff:
            # Checked on the hot path's copies, and handed to the pipeline.
            access = challenge_access(
                challenge, RequirementContext(request.user, principal)
            )
            if not access.is_open:
                locked = _locked(request.user, challenge)
                if locked is not None:
                    return locked
                access = None  # it opened in between: the pipeline asks again
        question = None
        if "question" in data.validated_data:
            question = challenge.question(data.validated_data["question"])
            if question is None:
                raise Http404
        elif len(questions := challenge.questions.all()) != 1:
            ids = ", ".join(str(q.pk) for q in questions)
            raise serializers.ValidationError(
                {
                    "question": [
                        f"This challenge has {len(questions)} questions: say which "
                        f"one the flag answers (ids {ids})."
                    ]
                }
            )
        try:
            result = submission_attempt(
                user=request.user,
                challenge=challenge,
                question=question,
                flag=data.validated_data["flag"],
                competition=competition,
                principal=principal,
                ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
                access=access,
            )
        except ChallengeHidden:
            raise Http404 from None
        code = (
            status.HTTP_429_TOO_MANY_REQUESTS
            if result.result == "rate_limited"
            else status.HTTP_200_OK
        )
        response = Response(result.to_dict(), status=code)
        if result.retry_after and code == 429:
            response["Retry-After"] = str(result.retry_after)
        return response


class RowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    principal_id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(PrincipalKind.choices)
    score = serializers.IntegerField()
    solves = serializers.IntegerField()
    last_solve_at = serializers.DateTimeField(allow_null=True)


class ScoreboardQuery(serializers.Serializer):
    filter = serializers.ChoiceField(list(KINDS), default="all")
    live = serializers.BooleanField(
        default=False, help_text="Staff: the live board while it is frozen."
    )
    # Read by the paginator; declared for the schema.
    offset = serializers.IntegerField(default=0, min_value=0)
    limit = serializers.IntegerField(default=50, min_value=1)


class ScoreboardSerializer(serializers.Serializer):
    items = RowSerializer(many=True)
    total = serializers.IntegerField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    frozen = serializers.BooleanField(
        help_text="The standings as they stood at `freeze_at`."
    )
    freeze_at = serializers.DateTimeField(allow_null=True)
    mine = RowSerializer(allow_null=True, help_text="The caller's own row, if ranked.")


class ScoreboardView(GenericAPIView):
    """The ranked public standings as the scoreboard page shows them (frozen
    while the competition is), a page at a time, with the caller's own row."""

    @extend_schema(parameters=[ScoreboardQuery], responses=ScoreboardSerializer)
    def get(self, request: Request) -> Response:
        params = ScoreboardQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        competition = current_competition()
        live = params.validated_data["live"] and request.user.is_staff
        current = board(
            competition, kind=KINDS[params.validated_data["filter"]], live=live
        )
        rows = self.paginate_queryset(current.rows)
        principal = principal_for(request.user, competition)
        mine = current.by_principal.get(principal.pk) if principal else None
        page = {
            "items": rows,
            "total": self.paginator.count,
            "offset": self.paginator.offset,
            "limit": self.paginator.limit,
            "frozen": current.frozen,
            "freeze_at": competition.freeze_at if current.frozen else None,
            "mine": mine,
        }
        return Response(ScoreboardSerializer(page).data)
