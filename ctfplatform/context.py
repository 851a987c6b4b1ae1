"""Template context shared by every page (the site name, navigation flags and
the announcement banner)."""

from django.conf import settings
from django.http import HttpRequest

from challenges.announcement_views import banner_context


def site(request: HttpRequest) -> dict:
    return {
        "CTF_NAME": settings.CTF_NAME,
        "REGISTRATION_OPEN": settings.REGISTRATION_OPEN,
        # Read only by the pages that draw the banner (base.html), when they do.
        "announcement_banner": lambda: banner_context(request)["announcement"],
    }
