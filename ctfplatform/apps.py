from django.apps import AppConfig


class CtfPlatformConfig(AppConfig):
    name = "ctfplatform"
    verbose_name = "CTF platform"

    def ready(self) -> None:
        from ctfplatform import checks  # noqa: F401  (registers the system checks)
