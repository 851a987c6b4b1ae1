from django.urls import path

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
]
