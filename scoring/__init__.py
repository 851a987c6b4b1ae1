"""Principals, flags, the submission pipeline, the score ledger and the scoreboard."""
