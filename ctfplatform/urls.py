"""URL wiring: pages, the admin and the versioned API."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path(
        "",
        RedirectView.as_view(pattern_name="challenges:board", permanent=False),
        name="home",
    ),
    # Browsers ask for it on pages that name no icon (JSON, files).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"))),
    path("accounts/", include("accounts.urls")),
    path("challenges/", include("challenges.urls")),
    path("challenges/", include("scoring.urls")),
    path("challenges/", include("nodes.urls")),
    path("scoreboard/", include("scoring.scoreboard_urls")),
    path("announcements/", include("challenges.announcement_urls")),
    path("admin/", admin.site.urls),
    path("admin-tools/requirements/", include("requirements.urls")),
    path("api/v1/", include("ctfplatform.api")),
]
