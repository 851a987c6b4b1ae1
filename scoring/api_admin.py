"""Organizer routes for scoring (`/api/v1/admin/...`, staff only): challenge
statistics and time series, attempt resets, principals (ban, unban, adjust the
score) and submissions. The numbers come from `scoring.stats`, as the admin's
statistics screen shows them; every write goes through `scoring.services`."""

from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Team
from challenges.api_admin import AdminView, CompetitionQuery, competition_field, query
from challenges.models import Challenge, Question
from scoring.admin import MAX_ADJUSTMENT
from scoring.models import Principal, PrincipalKind, Result, Submission
from scoring.services import (
    principal_set_banned,
    question_attempts_reset,
    score_adjust,
)
from scoring.stats import (
    MAX_WINDOW,
    STATS_ORDERINGS,
    BadSeries,
    challenge_stats,
    challenge_timeseries,
    stats_ordered,
)

# Statistics


class FirstBloodSerializer(serializers.Serializer):
    principal_id = serializers.IntegerField()
    principal = serializers.CharField(help_text="The team's or player's name.")
    at = serializers.DateTimeField()


class ChallengeStatsSerializer(serializers.Serializer):
    challenge_id = serializers.IntegerField()
    name = serializers.CharField()
    category = serializers.CharField(allow_blank=True)
    in_play = serializers.BooleanField(
        help_text="In the competition's challenge set now (visible to players)."
    )
    attempts = serializers.IntegerField(help_text="Every flag submitted.")
    wrong = serializers.IntegerField(help_text="Wrong flags submitted.")
    solves = serializers.IntegerField(
        help_text="Public teams and players that solved every question."
    )
    first_blood = FirstBloodSerializer(allow_null=True)


class StatsQuery(CompetitionQuery):
    ordering = serializers.ChoiceField(
        STATS_ORDERINGS,
        default="board",
        help_text="A column, `-` first for descending.",
    )


class ChallengeStatsView(AdminView, ListAPIView):
    """Per challenge: attempts, wrong attempts, solves and first blood."""

    serializer_class = ChallengeStatsSerializer

    @extend_schema(parameters=[StatsQuery])
    def get(self, request: Request) -> Response:
        params = query(StatsQuery, request)
        rows = challenge_stats(StatsQuery.competition(params))
        page = self.paginate_queryset(stats_ordered(rows, params["ordering"]))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class BucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    attempts = serializers.IntegerField()
    wrong = serializers.IntegerField()
    solves = serializers.IntegerField()


class SeriesSerializer(serializers.Serializer):
    challenge_id = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    bucket = serializers.IntegerField(help_text="Seconds per bucket.")
    buckets = BucketSerializer(many=True)


class TimeseriesQuery(CompetitionQuery):
    window = serializers.IntegerField(
        default=86400,
        min_value=1,
        max_value=MAX_WINDOW,
        help_text="Seconds back from now.",
    )
    bucket = serializers.IntegerField(
        default=3600, min_value=1, help_text="Seconds per bucket."
    )


class ChallengeTimeseriesView(AdminView):
    """Attempts, wrong attempts and solves per bucket over the last `window`
    seconds, on bucket edges that stay put (hours at :00); at most 1,000
    buckets over at most 31 days."""

    @extend_schema(parameters=[TimeseriesQuery], responses=SeriesSerializer)
    def get(self, request: Request, challenge_id: int) -> Response:
        challenge = get_object_or_404(Challenge, pk=challenge_id)
        params = query(TimeseriesQuery, request)
        try:
            series = challenge_timeseries(
                TimeseriesQuery.competition(params),
                challenge,
                window=params["window"],
                bucket=params["bucket"],
            )
        except BadSeries as bad:
            raise serializers.ValidationError({bad.field: [str(bad)]}) from None
        data = SeriesSerializer({**series.__dict__, "challenge_id": challenge.pk}).data
        return Response(data)


# Attempt resets


class ResetSerializer(CompetitionQuery):
    reason = serializers.CharField(max_length=300, help_text="Kept with the reset.")


class AttemptResetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    team_id = serializers.IntegerField(source="principal.team_id")
    principal_id = serializers.IntegerField()
    competition_id = serializers.IntegerField(source="principal.competition_id")
    challenge_id = serializers.IntegerField(source="question.challenge_id")
    question_id = serializers.IntegerField()
    reason = serializers.CharField()
    admin = serializers.CharField(source="admin.username", allow_null=True)
    created_at = serializers.DateTimeField()


class ResetAttemptsView(AdminView):
    """Give a team a fresh wrong-attempt budget on one question: a new baseline
    (no submission is deleted)."""

    @extend_schema(request=ResetSerializer, responses=AttemptResetSerializer)
    def post(
        self, request: Request, team_id: int, challenge_id: int, question_id: int
    ) -> Response:
        body = ResetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        competition = CompetitionQuery.competition(body.validated_data)
        team = get_object_or_404(Team, pk=team_id)
        question = get_object_or_404(
            Question.objects.select_related("challenge"),
            pk=question_id,
            challenge_id=challenge_id,
        )
        principal = Principal.objects.filter(competition=competition, team=team).first()
        if principal is None:
            raise NotFound(f"{team} has not played in {competition} yet.")
        reset = question_attempts_reset(
            principal=principal,
            question=question,
            admin=request.user,
            reason=body.validated_data["reason"],
        )
        return Response(AttemptResetSerializer(reset).data)


# Principals


class PrincipalSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="__str__")
    score = serializers.IntegerField(help_text="Live, dynamic values included.")

    class Meta:
        model = Principal
        fields = [
            "id",
            "competition_id",
            "kind",
            "name",
            "team_id",
            "user_id",
            "score",
            "solve_count",
            "last_solve_at",
            "is_banned",
            "is_hidden",
            "created_at",
        ]


PRINCIPAL_ORDER = ["id", "score", "solve_count", "last_solve_at", "created_at"]


class PrincipalQuery(serializers.Serializer):
    competition_id = competition_field("Only this competition's; all if left out.")
    kind = serializers.ChoiceField(PrincipalKind.choices, required=False)
    banned = serializers.BooleanField(required=False, allow_null=True, default=None)
    hidden = serializers.BooleanField(required=False, allow_null=True, default=None)
    search = serializers.CharField(required=False, help_text="Part of the name.")
    ordering = serializers.ChoiceField(
        [key for name in PRINCIPAL_ORDER for key in (name, f"-{name}")],
        default="id",
    )


def _principals():
    return Principal.objects.with_score().select_related("team", "user")


class PrincipalListView(AdminView, ListAPIView):
    """Teams and solo players, with their live score."""

    serializer_class = PrincipalSerializer

    @extend_schema(parameters=[PrincipalQuery])
    def get(self, request: Request) -> Response:
        params = query(PrincipalQuery, request)
        principals = _principals().order_by(params["ordering"], "pk")
        if "competition_id" in params:
            principals = principals.filter(competition=params["competition_id"])
        if "kind" in params:
            principals = principals.filter(kind=params["kind"])
        for name, column in (("banned", "is_banned"), ("hidden", "is_hidden")):
            if params[name] is not None:
                principals = principals.filter(**{column: params[name]})
        if "search" in params:
            principals = principals.filter(
                Q(team__name__icontains=params["search"])
                | Q(user__username__icontains=params["search"])
            )
        page = self.paginate_queryset(principals)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def _principal(principal_id: int) -> Principal:
    return get_object_or_404(_principals(), pk=principal_id)


class PrincipalDetailView(AdminView):
    @extend_schema(responses=PrincipalSerializer)
    def get(self, request: Request, principal_id: int) -> Response:
        return Response(PrincipalSerializer(_principal(principal_id)).data)


class BanSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Kept in the audit log.",
    )


class PrincipalChangeSerializer(serializers.Serializer):
    changed = serializers.BooleanField(help_text="False if it was so already.")
    principal = PrincipalSerializer()


class _BanView(AdminView):
    banned = True

    @extend_schema(request=BanSerializer, responses=PrincipalChangeSerializer)
    def post(self, request: Request, principal_id: int) -> Response:
        principal = _principal(principal_id)
        body = BanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = principal_set_banned(
            principal=principal,
            banned=self.banned,
            actor=request.user,
            reason=body.validated_data["reason"],
        )
        principal = _principal(principal_id)
        return Response(
            {"changed": changed, "principal": PrincipalSerializer(principal).data}
        )


class PrincipalBanView(_BanView):
    """Ban: its submissions are refused and it leaves the board (dynamic values
    of what it solved follow)."""

    banned = True


class PrincipalUnbanView(_BanView):
    """Lift a ban."""

    banned = False


class AdjustSerializer(serializers.Serializer):
    delta = serializers.IntegerField(
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text="Points to add, negative to take away.",
    )
    note = serializers.CharField(
        max_length=200, help_text="Why; the ledger shows it as admin:<note>."
    )

    def validate_delta(self, delta: int) -> int:
        if not delta:
            raise serializers.ValidationError("The adjustment cannot be zero.")
        return delta


class PrincipalAdjustView(AdminView):
    """Adjust the score by hand: an `admin:<note>` event in the ledger."""

    @extend_schema(request=AdjustSerializer, responses=PrincipalSerializer)
    def post(self, request: Request, principal_id: int) -> Response:
        principal = _principal(principal_id)
        body = AdjustSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        score_adjust(principal=principal, actor=request.user, **body.validated_data)
        return Response(PrincipalSerializer(_principal(principal_id)).data)


# Submissions


class SubmissionSerializer(serializers.ModelSerializer):
    principal = serializers.CharField(source="principal.__str__", allow_null=True)
    user = serializers.CharField(source="user.username", allow_null=True)
    challenge_id = serializers.IntegerField(source="question.challenge_id")
    challenge = serializers.CharField(source="question.challenge.name")
    question = serializers.CharField(source="question.key")
    flag_sha256 = serializers.CharField(source="flag_hash")

    class Meta:
        model = Submission
        fields = [
            "id",
            "created_at",
            "principal_id",
            "principal",
            "user_id",
            "user",
            "challenge_id",
            "challenge",
            "question_id",
            "question",
            "result",
            "reason",
            "points",
            "ip",
            "flag_sha256",
        ]


class SubmissionQuery(serializers.Serializer):
    competition_id = competition_field("Only this competition's; all if left out.")
    result = serializers.ChoiceField(Result.choices, required=False)
    category = serializers.CharField(required=False)
    challenge_id = serializers.IntegerField(required=False)
    question_id = serializers.IntegerField(required=False)
    principal_id = serializers.IntegerField(required=False)
    team_id = serializers.IntegerField(required=False)
    user_id = serializers.IntegerField(required=False)
    ip = serializers.IPAddressField(required=False)
    flag_sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$",
        required=False,
        help_text="SHA-256 (hex) of a flag: who submitted it.",
    )
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    COLUMNS = {
        "competition_id": "principal__competition",
        "result": "result",
        "category": "question__challenge__category",
        "challenge_id": "question__challenge_id",
        "question_id": "question_id",
        "principal_id": "principal_id",
        "team_id": "principal__team_id",
        "user_id": "user_id",
        "ip": "ip",
        "flag_sha256": "flag_hash",
        "since": "created_at__gte",
        "until": "created_at__lt",
    }


class SubmissionListView(AdminView, ListAPIView):
    """Every flag attempt, newest first (the SHA-256 of what was typed, never
    the text)."""

    serializer_class = SubmissionSerializer

    @extend_schema(parameters=[SubmissionQuery])
    def get(self, request: Request) -> Response:
        params = query(SubmissionQuery, request)
        submissions = (
            Submission.objects.filter(
                **{SubmissionQuery.COLUMNS[k]: v for k, v in params.items()}
            )
            .select_related(
                "principal__team", "principal__user", "user", "question__challenge"
            )
            .order_by("-created_at", "-pk")
        )
        page = self.paginate_queryset(submissions)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
