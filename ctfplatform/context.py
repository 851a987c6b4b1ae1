"""Template context shared by every page (the site name and navigation flags)."""

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    return {
        "CTF_NAME": settings.CTF_NAME,
        "REGISTRATION_OPEN": settings.REGISTRATION_OPEN,
    }
