"""Celery tasks of scoring: thin, they call one service."""

from celery import shared_task

from scoring.flags import flags_reindex, flags_repair


@shared_task(ignore_result=True)
def flags_reindex_task() -> int:
    """Reload every TeamFlag into Redis (queued when Redis came back empty)."""
    return flags_reindex()


@shared_task(ignore_result=True)
def flags_repair_task() -> int:
    """Copy flags rotated while Redis was down into Redis (every minute)."""
    return flags_repair()
