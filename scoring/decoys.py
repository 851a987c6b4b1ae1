"""Decoy flag hashes per competition, cached: every wrong submission checks them."""

from django.core.cache import cache

from scoring.models import DecoyFlag

DECOY_CACHE_SECONDS = 60


def decoy_hashes(competition) -> dict[str, int]:
    """The competition's decoy flags: SHA-256 -> decoy id."""
    key = f"scoring:decoys:{competition.pk}"
    decoys = cache.get(key)
    if decoys is None:
        decoys = dict(
            DecoyFlag.objects.filter(competition=competition).values_list(
                "value_hash", "pk"
            )
        )
        cache.set(key, decoys, DECOY_CACHE_SECONDS)
    return decoys


def decoys_changed(competition) -> None:
    """Forget the cached hashes after a decoy is added or removed."""
    cache.delete(f"scoring:decoys:{competition.pk}")
