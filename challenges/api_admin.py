"""Organizer routes for challenges and competitions (`/api/v1/admin/...`, staff
only): list, show, hide and show challenges, players' feedback, competitions
and their freeze (the rescan, a background task, is in `nodes.api_admin`).
Each view parses its input and calls one service; lists answer in the one page
shape (`ctfplatform.pagination`)."""

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from challenges.models import (
    Challenge,
    ChallengeState,
    Competition,
    CompetitionPhase,
    Feedback,
)
from challenges.services import (
    challenge_set_state,
    competition_freeze,
    competition_unfreeze,
)


def query(serializer_class, request: Request) -> dict:
    """The request's query parameters, validated (a 400 names each bad one)."""
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


def competition_field(
    help_text: str = "The competition; the default one if left out.",
) -> serializers.Field:
    """An optional `competition_id` that must name a competition."""
    return serializers.PrimaryKeyRelatedField(
        queryset=Competition.objects.all(), required=False, help_text=help_text
    )


class CompetitionQuery(serializers.Serializer):
    competition_id = competition_field()

    @staticmethod
    def competition(params: dict) -> Competition:
        return params.get("competition_id") or Competition.objects.default()


class AdminView(APIView):
    permission_classes = [IsAdminUser]


# Challenges


class AdminChallengeSerializer(serializers.ModelSerializer):
    question_count = serializers.IntegerField(read_only=True)
    from_catalog = serializers.BooleanField(read_only=True)

    class Meta:
        model = Challenge
        fields = [
            "id",
            "name",
            "category",
            "type",
            "value",
            "state",
            "position",
            "identity",
            "spec_path",
            "from_catalog",
            "is_missing",
            "requirement",
            "locked_visibility",
            "question_count",
            "spec_error",
            "requirement_error",
            "created_at",
            "updated_at",
        ]


class AdminQuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()
    points = serializers.IntegerField()
    attempts = serializers.IntegerField(help_text="Wrong attempts allowed; 0: no cap.")
    flag_kinds = serializers.SerializerMethodField()

    def get_flag_kinds(self, question) -> list[str]:
        # The kinds only, as the admin shows them: flags stay out of logs.
        return [flag.get("kind", "static") for flag in question.flags]


class AdminHintSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    cost = serializers.IntegerField()


class AdminFileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()


class AdminChallengeDetailSerializer(AdminChallengeSerializer):
    questions = AdminQuestionSerializer(many=True)
    hints = AdminHintSerializer(many=True)
    files = AdminFileSerializer(many=True)

    class Meta(AdminChallengeSerializer.Meta):
        fields = AdminChallengeSerializer.Meta.fields + [
            "author",
            "description",
            "connection_info",
            "tags",
            "topics",
            "next_ref",
            "services",
            "questions",
            "hints",
            "files",
        ]


class ChallengeQuery(serializers.Serializer):
    state = serializers.ChoiceField(ChallengeState.choices, required=False)
    category = serializers.CharField(required=False)
    search = serializers.CharField(
        required=False, help_text="Part of the name or the spec's folder."
    )
    problem = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only challenges with a rejected spec, a requirement "
        "error or a missing folder; false: only those without.",
    )


def _challenges():
    # An aggregate drops Meta.ordering: the board's order, again.
    return Challenge.objects.annotate(question_count=Count("questions")).order_by(
        *Challenge._meta.ordering
    )


class ChallengeListView(AdminView, ListAPIView):
    """Every challenge, hidden ones included, in the board's order."""

    serializer_class = AdminChallengeSerializer

    @extend_schema(parameters=[ChallengeQuery])
    def get(self, request: Request) -> Response:
        params = query(ChallengeQuery, request)
        challenges = _challenges()
        for name in ("state", "category"):
            if name in params:
                challenges = challenges.filter(**{name: params[name]})
        if "search" in params:
            challenges = challenges.filter(
                Q(name__icontains=params["search"])
                | Q(identity__icontains=params["search"])
            )
        if params["problem"] is not None:
            troubled = Q(is_missing=True) | ~Q(spec_error="") | ~Q(requirement_error="")
            challenges = challenges.filter(troubled if params["problem"] else ~troubled)
        page = self.paginate_queryset(challenges)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ChallengeDetailView(AdminView):
    @extend_schema(responses=AdminChallengeDetailSerializer)
    def get(self, request: Request, challenge_id: int) -> Response:
        challenge = get_object_or_404(
            _challenges().prefetch_related("questions", "hints", "files"),
            pk=challenge_id,
        )
        return Response(AdminChallengeDetailSerializer(challenge).data)


class StateChangeSerializer(serializers.Serializer):
    changed = serializers.BooleanField(help_text="False if it was so already.")
    challenge = AdminChallengeSerializer()


class _StateView(AdminView):
    state = ""

    @extend_schema(request=None, responses=StateChangeSerializer)
    def post(self, request: Request, challenge_id: int) -> Response:
        get_object_or_404(Challenge, pk=challenge_id)
        changed = challenge_set_state(
            challenges=Challenge.objects.filter(pk=challenge_id),
            state=self.state,
            actor=request.user,
        )
        challenge = _challenges().get(pk=challenge_id)
        return Response(
            {
                "changed": bool(changed),
                "challenge": AdminChallengeSerializer(challenge).data,
            }
        )


class ChallengeHideView(_StateView):
    """Hide the challenge from players (rescans keep it hidden)."""

    state = ChallengeState.HIDDEN


class ChallengeShowView(_StateView):
    """Show the challenge to players again."""

    state = ChallengeState.VISIBLE


class RescanSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(
        default=False, help_text="Report what would change, change nothing."
    )


class RejectedSerializer(serializers.Serializer):
    path = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    error = serializers.CharField()


class WarningSerializer(serializers.Serializer):
    path = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()


class RescanReportSerializer(serializers.Serializer):
    added = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())
    hidden = serializers.ListField(child=serializers.CharField())
    rejected = RejectedSerializer(many=True)
    warnings = WarningSerializer(many=True)
    dry_run = serializers.BooleanField()
    summary = serializers.CharField()


# Feedback


class FeedbackSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField()
    user = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    team_id = serializers.IntegerField(source="user.team_id", allow_null=True)
    team = serializers.CharField(source="user.team.name", allow_null=True, default=None)
    reaction = serializers.SerializerMethodField()

    class Meta:
        model = Feedback
        fields = [
            "id",
            "competition_id",
            "user_id",
            "user",
            "email",
            "team_id",
            "team",
            "reaction",
            "vote",
            "comment",
            "created_at",
            "updated_at",
        ]

    def get_reaction(self, feedback: Feedback) -> str:
        return "up" if feedback.vote == Feedback.Vote.UP else "down"


class FeedbackQuery(serializers.Serializer):
    competition_id = competition_field(
        "Only reactions given in this competition; all if left out."
    )
    reaction = serializers.ChoiceField(["up", "down"], required=False)


class FeedbackListView(AdminView, ListAPIView):
    """Every reaction to the challenge, newest first."""

    serializer_class = FeedbackSerializer

    @extend_schema(parameters=[FeedbackQuery])
    def get(self, request: Request, challenge_id: int) -> Response:
        params = query(FeedbackQuery, request)
        challenge = get_object_or_404(Challenge, pk=challenge_id)
        feedback = (
            Feedback.objects.filter(challenge=challenge)
            .select_related("user__team")
            .order_by("-updated_at", "-pk")
        )
        if "competition_id" in params:
            feedback = feedback.filter(competition=params["competition_id"])
        if "reaction" in params:
            up = params["reaction"] == "up"
            feedback = feedback.filter(
                vote=Feedback.Vote.UP if up else Feedback.Vote.DOWN
            )
        page = self.paginate_queryset(feedback)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


# Competitions


class CompetitionSerializer(serializers.ModelSerializer):
    # Methods: DRF calls them.
    phase = serializers.ChoiceField(CompetitionPhase.choices)
    frozen = serializers.BooleanField(source="is_frozen")
    next_change = serializers.DateTimeField(
        allow_null=True,
        help_text="When the phase changes next (the start or the end).",
    )

    class Meta:
        model = Competition
        fields = [
            "id",
            "name",
            "slug",
            "is_default",
            "play_mode",
            "starts_at",
            "ends_at",
            "freeze_at",
            "frozen",
            "phase",
            "next_change",
        ]


class CompetitionListView(AdminView, ListAPIView):
    serializer_class = CompetitionSerializer
    queryset = Competition.objects.all()


class CompetitionDetailView(AdminView):
    @extend_schema(responses=CompetitionSerializer)
    def get(self, request: Request, competition_id: int) -> Response:
        competition = get_object_or_404(Competition, pk=competition_id)
        return Response(CompetitionSerializer(competition).data)


class FreezeSerializer(serializers.Serializer):
    at = serializers.DateTimeField(
        required=False, help_text="Schedule the freeze; now if left out."
    )


class CompetitionFreezeView(AdminView):
    """Freeze the public scoreboard now, or schedule it."""

    @extend_schema(request=FreezeSerializer, responses=CompetitionSerializer)
    def post(self, request: Request, competition_id: int) -> Response:
        competition = get_object_or_404(Competition, pk=competition_id)
        body = FreezeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        competition_freeze(
            competition=competition,
            actor=request.user,
            at=body.validated_data.get("at"),
        )
        return Response(CompetitionSerializer(competition).data)


class CompetitionUnfreezeView(AdminView):
    """Show the live scoreboard again (or cancel a scheduled freeze)."""

    @extend_schema(request=None, responses=CompetitionSerializer)
    def post(self, request: Request, competition_id: int) -> Response:
        competition = get_object_or_404(Competition, pk=competition_id)
        competition_unfreeze(competition=competition, actor=request.user)
        return Response(CompetitionSerializer(competition).data)
