from django.urls import path

from scoring import scoreboard_views as views

app_name = "scoreboard"

urlpatterns = [
    path("", views.scoreboard, name="scoreboard"),
    path("partial", views.scoreboard_partial, name="partial"),
    path("chart-data", views.scoreboard_chart_data, name="chart-data"),
    path("timeline-data", views.scoreboard_timeline, name="timeline-data"),
    path("ctftime.json", views.ctftime_feed, name="ctftime"),
    path("principal/<int:principal_id>/", views.principal_page, name="principal"),
]
