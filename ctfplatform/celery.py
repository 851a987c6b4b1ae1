"""The Celery app. Without CELERY_BROKER_URL tasks run in-process (eager)."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctfplatform.settings")

app = Celery("ctfplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_bad_configuration(**kwargs) -> None:
    """Run the system checks so a worker refuses to start where the web would."""
    from django.core.management import call_command

    call_command("check")
