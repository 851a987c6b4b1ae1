"""Per-team instances: start, restart, extend, stop, reap and reconcile.

A start request only creates the `starting` row (guards first) and queues the
work; a worker places it on a node, makes sure the images are there, issues
the flag and starts the containers (`nodes.services.launch`). Every status
change is a conditional UPDATE from the status it expects, so a stop racing a
start, or the reaper racing a worker, changes a row once.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.models import EventType
from audit.services import record
from challenges.access import RequirementContext, challenge_access
from challenges.models import Competition
from nodes import docker_client
from nodes.models import ACTIVE, PLACED, Instance, InstanceStatus, Node, NodeStatus
from nodes.services.launch import LABEL, deployment_labels, instance_teardown

log = logging.getLogger(__name__)

S = InstanceStatus


class InstanceRefused(Exception):
    """The instance cannot be started, extended or stopped; `message` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def instance_start(*, user, challenge, competition=None) -> Instance:
    """Start the principal's instance, or return its active one."""
    competition = competition or Competition.objects.default()
    principal = _guard(user, challenge, competition)
    if challenge.needs_trust:
        raise InstanceRefused(
            "untrusted",
            "This challenge cannot start yet: it waits for the organizers' approval.",
        )
    existing = _active(principal, challenge)
    if existing is not None:
        return existing
    if not Node.objects.online().exists():
        raise InstanceRefused(
            "no_node", "No server can take an instance right now; try again soon."
        )
    try:
        with transaction.atomic():
            # The principal's row is the lock: two starts of different
            # challenges by two teammates cannot both pass the limit.
            type(principal).objects.select_for_update().filter(pk=principal.pk).get()
            limit = competition.instance_max_per_principal
            running = Instance.objects.active().filter(principal=principal).count()
            if running >= limit:
                raise InstanceRefused(
                    "limit",
                    f"You have {running} instance(s) running, the most allowed: "
                    "stop one to start another.",
                )
            instance = Instance.objects.create(
                principal=principal,
                challenge=challenge,
                competition=competition,
                started_by=user,
                message="Starting…",
            )
            transaction.on_commit(lambda: _enqueue_start(instance.pk))
    except IntegrityError:  # a teammate's (or a double click's) start won
        existing = _active(principal, challenge)
        if existing is None:
            raise
        return existing
    return instance


def instance_restart(*, user, challenge, competition=None) -> Instance:
    """Stop the principal's instance, if any, and start a fresh one."""
    competition = competition or Competition.objects.default()
    principal = _guard(user, challenge, competition)
    current = _active(principal, challenge)
    if current is not None:
        try:
            instance_stop(instance=current, actor=user)
        except InstanceRefused:
            pass  # it ended meanwhile
    return instance_start(user=user, challenge=challenge, competition=competition)


def instance_extend(
    *, user=None, instance=None, challenge=None, competition=None, actor=None
) -> Instance:
    """Push the expiry back by the competition's extension step.

    A player names the challenge (`user` and `challenge`); an organizer the
    instance (`instance` and `actor`), free of the last-part-of-the-lifetime
    rule but not of the maximum or the competition's end.
    """
    admin = instance is not None
    if instance is None:
        competition = competition or Competition.objects.default()
        principal = _guard(user, challenge, competition)
        instance = _active(principal, challenge)
        if instance is None:
            raise InstanceRefused("not_active", "There is no running instance.")
        actor = actor or user
    instance = Instance.objects.select_related("competition").get(pk=instance.pk)
    now = timezone.now()
    refusal = instance.extend_refusal(now, admin=admin)
    if refusal is not None:
        raise InstanceRefused(*refusal)
    until = instance.expires_at + timedelta(
        seconds=instance.competition.instance_extension
    )
    ends = instance.competition.ends_at
    if ends and until > ends:
        until = ends
    changed = Instance.objects.filter(
        pk=instance.pk,
        status=S.RUNNING,
        expires_at=instance.expires_at,
        extensions=instance.extensions,
    ).update(expires_at=until, extensions=F("extensions") + 1)
    if not changed:  # another extension or a stop came first
        raise InstanceRefused("not_active", "The instance changed meanwhile.")
    _audit(instance, actor, f"instance extended until {until:%H:%M:%S}")
    instance.refresh_from_db()
    return instance


def instance_stop(*, instance: Instance, actor) -> Instance:
    """Stop an instance and remove its containers (audited)."""
    changed = Instance.objects.filter(pk=instance.pk, status__in=ACTIVE).update(
        status=S.STOPPING, message="Stopping…", stopped_at=timezone.now()
    )
    if not changed:
        raise InstanceRefused("not_active", "There is no running instance to stop.")
    _audit(instance, actor, "instance stopped")
    transaction.on_commit(lambda: _enqueue_stop(instance.pk))
    instance.refresh_from_db()
    return instance


def instance_finish_stop(*, instance_id: int) -> None:
    """Remove a stopping instance's containers and mark it stopped (the worker)."""
    instance = Instance.objects.select_related("node").filter(pk=instance_id).first()
    if instance is None or instance.status != S.STOPPING:
        return
    instance_teardown(instance)
    Instance.objects.filter(pk=instance.pk, status=S.STOPPING).update(
        status=S.STOPPED, message="Stopped."
    )


def instances_reap(*, now=None) -> int:
    """Stop expired instances, all at a competition's end, stuck starts and
    stops, and mark the instances of offline nodes lost; returns how many."""
    now = now or timezone.now()
    deadline = now - timedelta(seconds=settings.INSTANCES_START_DEADLINE)
    done = 0
    rows = Instance.objects.select_related("node")
    # A node is lost once offline for INSTANCES_LOST_AFTER, not at one missed
    # check: a network blip must not end every team's instance on it.
    seen = now - timedelta(seconds=settings.INSTANCES_LOST_AFTER)
    gone = Q(node__last_seen_at__lt=seen) | Q(node__last_seen_at__isnull=True)
    offline = rows.filter(status__in=ACTIVE, node__status=NodeStatus.OFFLINE)
    for instance in offline.filter(gone):
        # The node cannot be asked: reconciliation cleans up if it returns.
        done += _end(
            instance,
            S.LOST,
            "The server running your instance went away; start it again.",
            error=f"node {instance.node} offline: {instance.node.status_detail}",
            teardown=False,
        )
    for instance in rows.filter(status__in=ACTIVE, principal__is_banned=True):
        done += _end(instance, S.STOPPED, "Your team is banned from this competition.")
    for instance in rows.filter(status=S.RUNNING, expires_at__lte=now):
        done += _end(instance, S.EXPIRED, "The instance's time is up.")
    for instance in rows.filter(status__in=ACTIVE, competition__ends_at__lte=now):
        done += _end(instance, S.EXPIRED, "The competition is over.")
    for instance in rows.filter(status=S.STARTING, requested_at__lt=deadline):
        done += _end(
            instance,
            S.FAILED,
            "The instance took too long to start; try again.",
            error="no worker finished the start in "
            f"{settings.INSTANCES_START_DEADLINE} s (worker killed?)",
        )
    for instance in rows.filter(status=S.STOPPING, stopped_at__lt=deadline):
        instance_finish_stop(instance_id=instance.pk)
        done += 1
    return done


def instances_reconcile(*, node=None) -> dict:
    """Remove containers and networks the database does not know (or no longer
    runs), and mark running rows whose containers vanished as lost."""
    nodes = [node] if node is not None else list(Node.objects.online())
    totals = {"containers_removed": 0, "networks_removed": 0, "lost": 0, "nodes": 0}
    for each in nodes:
        try:
            found = _reconcile_node(each)
        except docker_client.NodeError:
            continue  # the health check marks it; its rows are reaped then
        totals["nodes"] += 1
        for key, value in found.items():
            totals[key] += value
    return totals


def _reconcile_node(node: Node) -> dict:
    ep = node.endpoint()
    # Only rows running before the listing can miss a container in it.
    listed_at = timezone.now()
    containers = docker_client.containers_labelled(ep, deployment_labels(LABEL))
    networks = docker_client.networks_labelled(ep, deployment_labels(LABEL))
    ids = {_instance_id(c.labels) for c in containers}
    ids |= {_instance_id(labels) for _, labels in networks}
    rows = {
        i.pk: i
        for i in Instance.objects.filter(pk__in=[i for i in ids if i is not None])
    }
    removed = 0
    live: dict[int, set[str]] = {}
    for container in containers:
        row = rows.get(_instance_id(container.labels))
        if row is None or row.status not in PLACED or row.node_id != node.pk:
            docker_client.container_remove(ep, container.id)
            removed += 1
        elif container.running:
            live.setdefault(row.pk, set()).add(container.id)
    networks_removed = 0
    for name, labels in networks:
        row = rows.get(_instance_id(labels))
        if row is None or row.status not in PLACED or row.node_id != node.pk:
            docker_client.network_remove(ep, name)
            networks_removed += 1
    lost = 0
    running = Instance.objects.select_related("node").filter(
        node=node, status=S.RUNNING, running_at__lt=listed_at
    )
    for instance in running:
        if set(instance.containers.values()) - live.get(instance.pk, set()):
            lost += _end(
                instance,
                S.LOST,
                "Your instance stopped unexpectedly; start it again.",
                error="a container vanished or stopped behind the platform's back",
            )
    return {
        "containers_removed": removed,
        "networks_removed": networks_removed,
        "lost": lost,
    }


def _instance_id(labels: dict) -> int | None:
    try:
        return int(labels.get(LABEL, ""))
    except ValueError:
        return None


def _end(instance, status, message, *, error: str = "", teardown=True) -> int:
    """Move an instance from the status it was read in to `status`, then clean up."""
    fields = {"status": status, "message": message, "stopped_at": timezone.now()}
    if error:
        fields["error"] = error
    changed = Instance.objects.filter(pk=instance.pk, status=instance.status).update(
        **fields
    )
    if changed and teardown:
        instance_teardown(instance)
    return changed


def _guard(user, challenge, competition):
    """The checks of every player action; returns the principal."""
    from scoring.services import principal_resolve

    visible = competition.challenge_set().filter(pk=challenge.pk).exists()
    if not visible and not user.is_staff:
        raise InstanceRefused("locked", "This challenge is not available.")
    principal = principal_resolve(user=user, competition=competition)
    access = challenge_access(challenge, RequirementContext(user, principal))
    if not access.is_open:
        raise InstanceRefused("locked", "This challenge is locked.")
    if (challenge.services or {}).get("instance") is None:
        raise InstanceRefused(
            "not_instanced", "This challenge has no instance to start."
        )
    if principal is None:
        raise InstanceRefused(
            "no_principal", "Join a team (or play solo) to start an instance."
        )
    if principal.is_banned:
        raise InstanceRefused("banned", "Your team is banned from this competition.")
    if not competition.is_open():
        raise InstanceRefused("over", "The competition is not running.")
    return principal


def _active(principal, challenge) -> Instance | None:
    return (
        Instance.objects.active()
        .select_related("node")
        .filter(principal=principal, challenge=challenge)
        .first()
    )


def _audit(instance: Instance, actor, message: str) -> None:
    record(
        EventType.INSTANCE_CHANGED,
        actor=actor,
        principal=instance.principal_id,
        subject=f"instance #{instance.pk}",
        message=message,
        details={
            "instance": instance.pk,
            "challenge": instance.challenge_id,
            "competition": instance.competition_id,
        },
    )


def _enqueue_start(instance_id: int) -> None:
    from nodes.tasks import start_instance

    try:
        start_instance.delay(instance_id)
    except Exception as error:  # the broker is down: say so now, not in 5 min
        log.exception("instance %s: the start could not be queued", instance_id)
        Instance.objects.filter(pk=instance_id, status=S.STARTING).update(
            status=S.FAILED,
            message="The instance could not be started; try again soon.",
            error=f"queueing the start failed: {type(error).__name__}: {error}",
        )


def _enqueue_stop(instance_id: int) -> None:
    from nodes.tasks import stop_instance

    stop_instance.delay(instance_id)
