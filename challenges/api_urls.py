from django.urls import path

from challenges import api_admin as admin
from challenges.api import ChallengeDetailView, ChallengeFileView, ChallengeListView

urlpatterns = [
    path("challenges", ChallengeListView.as_view(), name="api-challenges"),
    path(
        "challenges/<int:challenge_id>",
        ChallengeDetailView.as_view(),
        name="api-challenge",
    ),
    path(
        "challenges/<int:challenge_id>/files/<int:file_id>",
        ChallengeFileView.as_view(),
        name="api-challenge-file",
    ),
    # Organizers
    path(
        "admin/challenges",
        admin.ChallengeListView.as_view(),
        name="api-admin-challenges",
    ),
    path(
        "admin/challenges/<int:challenge_id>",
        admin.ChallengeDetailView.as_view(),
        name="api-admin-challenge",
    ),
    path(
        "admin/challenges/<int:challenge_id>/hide",
        admin.ChallengeHideView.as_view(),
        name="api-admin-challenge-hide",
    ),
    path(
        "admin/challenges/<int:challenge_id>/show",
        admin.ChallengeShowView.as_view(),
        name="api-admin-challenge-show",
    ),
    path(
        "admin/challenges/<int:challenge_id>/feedback",
        admin.FeedbackListView.as_view(),
        name="api-admin-challenge-feedback",
    ),
    path(
        "admin/competitions",
        admin.CompetitionListView.as_view(),
        name="api-admin-competitions",
    ),
    path(
        "admin/competitions/<int:competition_id>",
        admin.CompetitionDetailView.as_view(),
        name="api-admin-competition",
    ),
    path(
        "admin/competitions/<int:competition_id>/freeze",
        admin.CompetitionFreezeView.as_view(),
        name="api-admin-competition-freeze",
    ),
    path(
        "admin/competitions/<int:competition_id>/unfreeze",
        admin.CompetitionUnfreezeView.as_view(),
        name="api-admin-competition-unfreeze",
    ),
]
