from django.urls import path

from challenges.api import ChallengeDetailView, ChallengeListView

urlpatterns = [
    path("challenges", ChallengeListView.as_view(), name="api-challenges"),
    path(
        "challenges/<int:challenge_id>",
        ChallengeDetailView.as_view(),
        name="api-challenge",
    ),
]
