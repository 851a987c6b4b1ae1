from django.urls import path

from challenges import views

app_name = "challenges"

urlpatterns = [
    path("", views.board, name="board"),
    path("<int:challenge_id>/", views.detail, name="detail"),
    path("<int:challenge_id>/files/<int:file_id>/", views.download, name="download"),
    path("<int:challenge_id>/feedback/", views.feedback, name="feedback"),
]
