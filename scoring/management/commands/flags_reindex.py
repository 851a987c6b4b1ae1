"""`manage.py flags_reindex`: reload the per-team flags into Redis."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scoring.flags import flags_reindex


class Command(BaseCommand):
    help = (
        "Load every per-team flag into Redis and mark the flag index complete "
        "(after Redis restarted empty, or before an event to warm it)."
    )

    def handle(self, *args, **options) -> None:
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: the table is the only store.")
        loaded = flags_reindex()
        self.stdout.write(f"{loaded} flags loaded into Redis.")
