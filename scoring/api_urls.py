from django.urls import path

from scoring.api import AttemptView, MeView

urlpatterns = [
    path("me", MeView.as_view(), name="api-me"),
    path(
        "challenges/<int:challenge_id>/attempt",
        AttemptView.as_view(),
        name="api-attempt",
    ),
]
