"""Per-team instances: start, restart, extend, stop, reap and reconcile.

A start request only creates the `starting` row (guards first) and queues the
work; a worker places it on a node, makes sure the images are there, issues
the flag and starts the containers. Every status change is a conditional
UPDATE from the status it expects, so a stop racing a start, or the reaper
racing a worker, changes a row once.
"""

from nodes.models import Instance


class InstanceRefused(Exception):
    """The instance cannot be started, extended or stopped; `message` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def instance_start(*, user, challenge, competition=None) -> Instance:
    """Start the principal's instance, or return its active one."""
    raise NotImplementedError


def instance_restart(*, user, challenge, competition=None) -> Instance:
    """Stop the principal's instance, if any, and start a fresh one."""
    raise NotImplementedError


def instance_extend(
    *, user=None, instance=None, challenge=None, competition=None, actor=None
) -> Instance:
    """Push the expiry back by the competition's extension step."""
    raise NotImplementedError


def instance_stop(*, instance: Instance, actor) -> Instance:
    """Stop an instance and remove its containers (audited)."""
    raise NotImplementedError


def instances_reap(*, now=None) -> int:
    """Stop expired instances, all at a competition's end, and stuck starts."""
    raise NotImplementedError


def instances_reconcile(*, node=None) -> dict:
    """Remove containers the database does not know; mark rows without containers."""
    raise NotImplementedError
