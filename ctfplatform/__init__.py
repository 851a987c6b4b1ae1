"""Project wiring: settings, URLs, the Celery app, system checks and the API root."""

from ctfplatform.celery import app as celery_app

__all__ = ["celery_app"]
