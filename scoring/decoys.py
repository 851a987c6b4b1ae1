"""Decoy flag hashes per competition: every wrong submission checks them.

Redis keeps a copy that the attempt script reads (`store.copies_put`); with
Redis down the table answers.
"""

import contextlib

from scoring import store
from scoring.models import DecoyFlag


def decoy_hashes_of(competition) -> dict[str, int]:
    """The competition's decoy flags from the table: SHA-256 -> decoy id."""
    return dict(
        DecoyFlag.objects.filter(competition=competition).values_list(
            "value_hash", "pk"
        )
    )


def decoys_changed(competition) -> None:
    """Drop Redis's copy after a decoy is added or removed."""
    with contextlib.suppress(store.StoreDown):
        store.copies_forget(competition_id=competition.pk)
