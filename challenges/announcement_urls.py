from django.urls import path

from challenges import announcement_views as views

app_name = "announcements"

urlpatterns = [
    path("", views.announcements, name="list"),
    path("banner", views.banner, name="banner"),
]
