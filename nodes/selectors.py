"""Reads of nodes' tables for the admin and the API: per-challenge build and pull
state aggregated over nodes, and task records. A constant number of queries."""

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from django.db.models import Prefetch

from nodes.models import (
    STATUS_RANK,
    BackgroundTask,
    ImageStatus,
    Instance,
    InstanceStatus,
    Node,
    NodeChallengeState,
    OutcomeStatus,
    TaskOutcome,
)
from nodes.plans import needs_images

NOT_NEEDED = "none"


@dataclass(frozen=True)
class NodeImageState:
    node: str
    node_id: int
    status: str
    content_hash: str = ""
    images: dict = field(default_factory=dict)
    message: str = ""
    log_tail: str = ""
    updated_at: str | None = None


@dataclass(frozen=True)
class ChallengeImageState:
    """The worst case over online nodes (failed > building > pending > built)."""

    challenge_id: int
    challenge: str
    kind: str
    status: str
    nodes: list[NodeImageState]

    def to_dict(self) -> dict:
        return asdict(self)


def challenge_image_states(
    *, kind: str, challenges: Iterable
) -> dict[int, ChallengeImageState]:
    """Return the state of `kind` (build or pull) of each challenge, by its id.

    Challenges that have nothing to build (or pull) get status "none". Only
    enabled, online nodes count; a node without a row is pending.
    """
    challenges = list(challenges)
    nodes = list(Node.objects.online())
    rows = {
        (s.challenge_id, s.node_id): s
        for s in NodeChallengeState.objects.filter(
            kind=kind, node__in=nodes, challenge__in=[c.pk for c in challenges]
        )
    }
    pending = ImageStatus.PENDING
    result = {}
    for challenge in challenges:
        if not needs_images(challenge, kind):
            result[challenge.pk] = ChallengeImageState(
                challenge.pk, challenge.name, kind, NOT_NEEDED, []
            )
            continue
        per_node = []
        for node in nodes:
            row = rows.get((challenge.pk, node.pk))
            per_node.append(
                NodeImageState(
                    node=node.name,
                    node_id=node.pk,
                    status=row.status if row else pending,
                    content_hash=row.content_hash if row else "",
                    images=row.images if row else {},
                    message=row.message if row else "",
                    log_tail=row.log_tail if row else "",
                    updated_at=row.updated_at.isoformat() if row else None,
                )
            )
        worst = max((n.status for n in per_node), key=STATUS_RANK.get, default=pending)
        result[challenge.pk] = ChallengeImageState(
            challenge.pk, challenge.name, kind, worst, per_node
        )
    return result


@dataclass(frozen=True)
class NodeResult:
    """One node's share of a task, for the drill-down and the record."""

    node: str
    status: str
    done: int
    total: int
    outcomes: list[TaskOutcome]


# Prefetch this on a list of tasks: `task_record` then queries nothing per task.
TASK_OUTCOMES = Prefetch(
    "outcomes", queryset=TaskOutcome.objects.select_related("node", "challenge")
)


def task_nodes(task: BackgroundTask) -> list[NodeResult]:
    """Return the task's outcomes grouped per node, worst status first in words."""
    grouped: dict[str, list[TaskOutcome]] = {}
    prefetched = "outcomes" in getattr(task, "_prefetched_objects_cache", {})
    outcomes = (
        task.outcomes.all()
        if prefetched
        else task.outcomes.select_related("node", "challenge")
    )
    for outcome in outcomes:
        grouped.setdefault(outcome.node.name, []).append(outcome)
    results = []
    for name, outcomes in grouped.items():
        statuses = {o.status for o in outcomes}
        finished = [o for o in outcomes if o.status not in _UNFINISHED]
        if statuses & set(_UNFINISHED):
            status = "running" if OutcomeStatus.RUNNING in statuses else "queued"
        elif statuses == {OutcomeStatus.SUCCEEDED}:
            status = "succeeded"
        elif statuses == {OutcomeStatus.FAILED}:
            status = "failed"
        else:
            status = "partial"
        results.append(NodeResult(name, status, len(finished), len(outcomes), outcomes))
    return results


_UNFINISHED = (OutcomeStatus.QUEUED, OutcomeStatus.RUNNING)


def task_record(task: BackgroundTask) -> dict:
    """The task as plain JSON-ready data: what the command and the API print."""
    return {
        "id": task.pk,
        "kind": task.kind,
        "status": task.status,
        "progress": {"done": task.done, "total": task.total},
        "parameters": task.params,
        "nodes": {
            result.node: {
                "status": result.status,
                "done": result.done,
                "total": result.total,
                "outcomes": [
                    {
                        "challenge_id": o.challenge_id,
                        "challenge": o.challenge.name if o.challenge else None,
                        "status": o.status,
                        "message": o.message,
                        "log_tail": o.log_tail,
                        "started_at": _iso(o.started_at),
                        "finished_at": _iso(o.finished_at),
                    }
                    for o in result.outcomes
                ],
            }
            for result in task_nodes(task)
        },
        "result": task.result,
        "error": task.error,
        "created_by": task.created_by.get_username() if task.created_by else None,
        "created_at": _iso(task.created_at),
        "started_at": _iso(task.started_at),
        "finished_at": _iso(task.finished_at),
    }


def node_record(node: Node) -> dict:
    """A node as plain JSON-ready data (TLS material left out)."""
    return {
        "id": node.pk,
        "name": node.name,
        "url": node.url,
        "tls": node.uses_tls,
        "public_address": node.host,
        "labels": node.labels,
        "capacity": node.capacity,
        "enabled": node.enabled,
        "status": node.status,
        "detail": node.status_detail,
        "engine_version": node.engine_version,
        "cpus": node.cpus,
        "memory": node.memory,
        "disk_free": node.disk_free,
        "last_seen_at": _iso(node.last_seen_at),
    }


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


# Instances.

LATENCY_BOUNDS_MS = (250, 500, 1000, 2000, 5000, 10000, 30000, None)


def instance_of(*, user, challenge, competition=None) -> Instance | None:
    """The principal's active instance of `challenge`, else its most recent one."""
    from challenges.models import Competition
    from scoring.models import Principal

    competition = competition or Competition.objects.default()
    plays_as = competition.plays_as(user)
    if plays_as is None:
        return None
    lookup = {"team_id": user.team_id} if plays_as == "team" else {"user": user}
    principal = Principal.objects.filter(
        competition=competition, kind=plays_as, **lookup
    ).first()
    if principal is None:
        return None
    rows = Instance.objects.filter(principal=principal, challenge=challenge)
    return rows.active().select_related("node").first() or (
        rows.select_related("node").first()
    )


def instance_view(instance: Instance, *, now=None) -> dict:
    """What a player may see of an instance (no container ids, no errors)."""
    from django.utils import timezone

    now = now or timezone.now()
    running = instance.status == InstanceStatus.RUNNING
    host = instance.node.host if instance.node and running else ""
    ports = list(instance.ports) if running else []
    can_extend = running and instance.extend_refusal(now) is None
    seconds_left = None
    if running and instance.expires_at:
        seconds_left = max(0, int((instance.expires_at - now).total_seconds()))
    return {
        "id": instance.pk,
        "status": instance.status,
        "message": instance.message,
        "host": host,
        "ports": ports,
        "connection": _connection(instance, host, ports) if running else "",
        "expires_at": _iso(instance.expires_at) if running else None,
        "seconds_left": seconds_left,
        "can_extend": can_extend,
        "extensions_left": instance.extensions_left(),
        "requested_at": _iso(instance.requested_at),
        "running_at": _iso(instance.running_at),
    }


def _connection(instance: Instance, host: str, ports: list[dict]) -> str:
    """The spec's connection_info with {host} and {port} filled in."""
    template = instance.challenge.connection_info or "{host}:{port}"
    port = str(ports[0]["host_port"]) if ports else ""
    text = template.replace("{host}", host).replace("{port}", port)
    # Several published ports: {port:<container port>} names one of them.
    for item in ports:
        text = text.replace(f"{{port:{item['port']}}}", str(item["host_port"]))
    return text


def instance_record(instance: Instance) -> dict:
    """An instance for organizers: the player's view plus what went on inside."""
    principal = instance.principal
    data = instance_view(instance)
    data.update(
        {
            "principal": {"id": principal.pk, "name": str(principal)},
            "challenge": {"id": instance.challenge_id, "name": instance.challenge.name},
            "competition": instance.competition_id,
            "node": instance.node.name if instance.node else None,
            "error": instance.error,
            "log_tail": instance.log_tail,
            "containers": instance.containers,
            "network": instance.network,
            "latency_ms": instance.latency_ms,
            "connect_ms": instance.connect_ms,
            "connected_at": _iso(instance.connected_at),
            "extensions": instance.extensions,
            "started_by": (
                instance.started_by.get_username() if instance.started_by else None
            ),
            "stopped_at": _iso(instance.stopped_at),
        }
    )
    return data


def latency_histogram(*, challenge_id=None, competition_id=None) -> list[dict]:
    """Request-to-running times of instances that ran, in fixed buckets (one query)."""
    from django.db.models import Count, Q

    rows = Instance.objects.filter(latency_ms__isnull=False)
    if challenge_id is not None:
        rows = rows.filter(challenge_id=challenge_id)
    if competition_id is not None:
        rows = rows.filter(competition_id=competition_id)
    counts = {}
    lower = -1
    for bound in LATENCY_BOUNDS_MS:
        rule = Q(latency_ms__gt=lower)
        if bound is not None:
            rule &= Q(latency_ms__lte=bound)
        counts[f"b{bound}"] = Count("pk", filter=rule)
        lower = bound if bound is not None else lower
    totals = rows.aggregate(**counts)
    return [
        {"le_ms": bound, "count": totals[f"b{bound}"]} for bound in LATENCY_BOUNDS_MS
    ]
