"""Decoy flag hashes per competition: every wrong submission checks them.

Redis keeps a copy (`store.decoys_put`, read by the attempt script); with Redis
down the cache below (or the table) answers.
"""

import contextlib

from django.core.cache import cache

from scoring import store
from scoring.models import DecoyFlag

DECOY_CACHE_SECONDS = 60


def decoy_hashes_of(competition) -> dict[str, int]:
    """The competition's decoy flags from the table: SHA-256 -> decoy id."""
    return dict(
        DecoyFlag.objects.filter(competition=competition).values_list(
            "value_hash", "pk"
        )
    )


def decoy_hashes(competition) -> dict[str, int]:
    """The same, cached for a minute."""
    key = f"scoring:decoys:{competition.pk}"
    decoys = cache.get(key)
    if decoys is None:
        decoys = decoy_hashes_of(competition)
        cache.set(key, decoys, DECOY_CACHE_SECONDS)
    return decoys


def decoys_changed(competition) -> None:
    """Forget the cached hashes after a decoy is added or removed."""
    cache.delete(f"scoring:decoys:{competition.pk}")
    with contextlib.suppress(store.StoreDown):
        store.copies_forget(competition_id=competition.pk)
