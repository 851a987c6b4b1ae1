"""Signals other apps listen to, so this app never imports the apps above it.

`challenges_published` is sent after challenges become visible (by the admin,
or a rescan that adds or updates them); scoring pre-derives their per-team flags.
"""

from django.dispatch import Signal

# Sent with `challenge_ids`: a list of primary keys.
challenges_published = Signal()
