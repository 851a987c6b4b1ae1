"""Signals other apps listen to, so this app never imports the apps above it.

`challenges_published` is sent after challenges become visible (by the admin,
or a rescan that adds or updates them); scoring pre-derives their per-team flags.
`catalog_rescanned` is sent after every applied rescan; nodes refreshes what
each Docker host holds.
"""

from django.dispatch import Signal

# Sent with `challenge_ids`: a list of primary keys.
challenges_published = Signal()

# Sent with `report` (a RescanReport) and `actor` once the rescan committed.
catalog_rescanned = Signal()
