"""Configuration sanity as Django system checks (`manage.py check` lists them).

Errors stop `runserver`, `migrate`, the WSGI entry point and Celery workers;
warnings are printed and let the platform start.
"""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=False)
def check_secrets(app_configs=None, **kwargs) -> list:
    """Refuse the placeholder secrets anywhere but in debug mode."""
    if settings.DEBUG:
        return []
    problems = []
    if settings.SECRET_KEY == settings.DEFAULT_SECRET_KEY:
        problems.append(
            Error(
                "SECRET_KEY is the built-in placeholder and DEBUG is off.",
                hint="Set SECRET_KEY to a long random value (or DEBUG=true).",
                id="ctfplatform.E001",
            )
        )
    if settings.FLAG_SECRET == settings.DEFAULT_FLAG_SECRET:
        problems.append(
            Error(
                "FLAG_SECRET is the built-in placeholder and DEBUG is off: "
                "anyone could derive every team's flags.",
                hint="Set FLAG_SECRET to a long random value, not SECRET_KEY.",
                id="ctfplatform.E002",
            )
        )
    elif len(settings.FLAG_SECRET) < 32:
        problems.append(
            Warning(
                "FLAG_SECRET is shorter than 32 characters.",
                hint="Use at least 32 random characters.",
                id="ctfplatform.W001",
            )
        )
    if settings.FLAG_SECRET == settings.SECRET_KEY:
        problems.append(
            Error(
                "FLAG_SECRET equals SECRET_KEY.",
                hint="Use two different random values.",
                id="ctfplatform.E003",
            )
        )
    if not settings.ALLOWED_HOSTS:
        problems.append(
            Error(
                "ALLOWED_HOSTS is empty and DEBUG is off: every request is refused.",
                hint="Set ALLOWED_HOSTS=ctf.example.org (comma-separated).",
                id="ctfplatform.E004",
            )
        )
    return problems


@register(deploy=False)
def check_runtime(app_configs=None, **kwargs) -> list:
    """Warn about settings that work but are not what a real event wants."""
    problems = []
    if not Path(settings.CATALOG_DIR).is_dir():
        problems.append(
            Warning(
                f"CATALOG_DIR {settings.CATALOG_DIR} is not a directory; rescans fail.",
                hint="Point CATALOG_DIR at the folder that holds the challenge specs.",
                id="ctfplatform.W002",
            )
        )
    if not settings.DEBUG:
        if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
            problems.append(
                Warning(
                    "SQLite is in use with DEBUG off.",
                    hint="Set DATABASE_URL=postgres://… for a real event.",
                    id="ctfplatform.W003",
                )
            )
        if not settings.REDIS_URL:
            problems.append(
                Warning(
                    "REDIS_URL is not set: the cache is files on this machine and "
                    "rate limits are replayed from the database.",
                    hint="Set REDIS_URL=redis://host:6379/0 for a real event.",
                    id="ctfplatform.W004",
                )
            )
        if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
            problems.append(
                Warning(
                    "Mail is printed to the console: password resets reach no one.",
                    hint="Set EMAIL_URL=smtp+tls://user:password@mail.example.org.",
                    id="ctfplatform.W005",
                )
            )
    return problems
