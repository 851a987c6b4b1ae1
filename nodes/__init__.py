"""Docker hosts, background tasks, per-node build state and per-team instances."""
