from django.urls import path

from nodes import views

app_name = "instances"

urlpatterns = [
    path("<int:challenge_id>/instance/", views.panel, name="panel"),
    path("<int:challenge_id>/instance/start/", views.start, name="start"),
    path("<int:challenge_id>/instance/restart/", views.restart, name="restart"),
    path("<int:challenge_id>/instance/extend/", views.extend, name="extend"),
    path("<int:challenge_id>/instance/stop/", views.stop, name="stop"),
]
