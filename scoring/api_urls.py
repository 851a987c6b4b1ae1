from django.urls import path

from scoring import api_admin as admin
from scoring.api import AttemptView, MeView, ScoreboardView

urlpatterns = [
    path("me", MeView.as_view(), name="api-me"),
    path(
        "challenges/<int:challenge_id>/attempt",
        AttemptView.as_view(),
        name="api-attempt",
    ),
    path("scoreboard", ScoreboardView.as_view(), name="api-scoreboard"),
    # Organizers
    path(
        "admin/challenges/stats",
        admin.ChallengeStatsView.as_view(),
        name="api-admin-challenges-stats",
    ),
    path(
        "admin/challenges/<int:challenge_id>/timeseries",
        admin.ChallengeTimeseriesView.as_view(),
        name="api-admin-challenge-timeseries",
    ),
    path(
        "admin/teams/<int:team_id>/questions/<int:challenge_id>/<int:question_id>"
        "/reset-attempts",
        admin.ResetAttemptsView.as_view(),
        name="api-admin-reset-attempts",
    ),
    path(
        "admin/principals",
        admin.PrincipalListView.as_view(),
        name="api-admin-principals",
    ),
    path(
        "admin/principals/<int:principal_id>",
        admin.PrincipalDetailView.as_view(),
        name="api-admin-principal",
    ),
    path(
        "admin/principals/<int:principal_id>/ban",
        admin.PrincipalBanView.as_view(),
        name="api-admin-principal-ban",
    ),
    path(
        "admin/principals/<int:principal_id>/unban",
        admin.PrincipalUnbanView.as_view(),
        name="api-admin-principal-unban",
    ),
    path(
        "admin/principals/<int:principal_id>/adjust-score",
        admin.PrincipalAdjustView.as_view(),
        name="api-admin-principal-adjust",
    ),
    path(
        "admin/submissions",
        admin.SubmissionListView.as_view(),
        name="api-admin-submissions",
    ),
]
