from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CtfPlatformConfig(AppConfig):
    name = "ctfplatform"
    verbose_name = "CTF platform"

    def ready(self) -> None:
        from ctfplatform import checks  # noqa: F401  (registers the system checks)


class AdminConfig(admin_apps.AdminConfig):
    """Django's admin, on our site: its index is the event dashboard."""

    default = False  # the app's own config stays CtfPlatformConfig
    default_site = "ctfplatform.admin_site.AdminSite"
