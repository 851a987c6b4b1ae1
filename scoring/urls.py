from django.urls import path

from scoring import views

app_name = "scoring"

urlpatterns = [
    path("<int:challenge_id>/attempt/", views.attempt, name="attempt"),
    path(
        "<int:challenge_id>/hints/<int:hint_id>/unlock/",
        views.unlock_hint,
        name="unlock-hint",
    ),
]
