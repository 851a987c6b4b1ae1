"""Docker hosts (nodes), what each holds per challenge, and background tasks."""

import ipaddress
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from nodes.docker_client import Endpoint

PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----")


class NodeStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"


class NodeQuerySet(models.QuerySet):
    def enabled(self) -> "NodeQuerySet":
        return self.filter(enabled=True)

    def online(self) -> "NodeQuerySet":
        """Enabled nodes whose last health check answered: they count for state."""
        return self.filter(enabled=True, status=NodeStatus.ONLINE)


class Node(models.Model):
    """A Docker Engine API endpoint: the local socket, or TCP with TLS.

    Certificates are stored as PEM text so remote workers need no files; the
    health fields are written by `node_check` only.
    """

    name = models.SlugField(max_length=64, unique=True)
    url = models.CharField(
        max_length=255,
        help_text="unix:///var/run/docker.sock, or tcp://host:2376 with TLS.",
    )
    tls_ca = models.TextField("TLS CA certificate", blank=True)
    tls_cert = models.TextField("TLS client certificate", blank=True)
    tls_key = models.TextField("TLS client key", blank=True)
    public_address = models.CharField(
        max_length=255,
        blank=True,
        help_text="Host name or address players connect to (default: the URL's).",
    )
    labels = models.JSONField(default=dict, blank=True, help_text='e.g. {"zone": "eu"}')
    capacity = models.PositiveIntegerField(
        default=50, help_text="Most instances running at once on this node."
    )
    concurrency = models.PositiveSmallIntegerField(
        default=2, help_text="Builds or pulls at once on this node."
    )
    enabled = models.BooleanField(default=True)
    allow_plain_tcp = models.BooleanField(
        "allow TCP without TLS",
        default=False,
        help_text="Whoever reaches a plain TCP port controls the node: "
        "only for a trusted private network.",
    )
    # Health, from the last check.
    status = models.CharField(
        max_length=8, choices=NodeStatus.choices, default=NodeStatus.UNKNOWN
    )
    status_detail = models.CharField(max_length=500, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    engine_version = models.CharField(max_length=64, blank=True)
    cpus = models.PositiveIntegerField(null=True, blank=True)
    memory = models.PositiveBigIntegerField(null=True, blank=True)
    disk_free = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = NodeQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(concurrency__gte=1), name="nodes_concurrency_min_1"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("unix", "tcp"):
            raise ValidationError(
                {"url": "Use unix:///path/to/docker.sock or tcp://host:2376."}
            )
        if parts.scheme == "tcp" and not (parts.hostname and parts.port):
            raise ValidationError({"url": "A TCP URL needs a host and a port."})
        for field in ("tls_ca", "tls_cert", "tls_key"):
            value = getattr(self, field).strip()
            if value and not PEM_BLOCK.search(value):
                raise ValidationError({field: "This is not PEM text (-----BEGIN …)."})
        if bool(self.tls_cert.strip()) != bool(self.tls_key.strip()):
            raise ValidationError(
                {"tls_key": "A client certificate needs its key, and a key its cert."}
            )
        if parts.scheme == "unix" and (self.tls_cert or self.tls_ca):
            raise ValidationError({"url": "TLS needs a tcp:// URL."})
        if parts.scheme == "tcp" and not self.uses_tls and not self.allow_plain_tcp:
            if not _is_loopback(parts.hostname or ""):
                raise ValidationError(
                    {
                        "url": f"{self.url} without TLS lets anyone who reaches "
                        "that port control the node: give its CA certificate and "
                        "a client certificate and key (or allow plain TCP)."
                    }
                )

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls_cert or self.tls_ca)

    @property
    def host(self) -> str:
        """Where players connect: the public address, else the URL's host."""
        return self.public_address or urlsplit(self.url).hostname or "127.0.0.1"

    def endpoint(self) -> Endpoint:
        return Endpoint(self.url, self.tls_ca, self.tls_cert, self.tls_key)


class ImageKind(models.TextChoices):
    BUILD = "build", "Build"
    PULL = "pull", "Pull"


class ImageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    BUILDING = "building", "Building"
    BUILT = "built", "Built"
    PULLING = "pulling", "Pulling"
    PULLED = "pulled", "Pulled"
    FAILED = "failed", "Failed"


# Worst first: the aggregate over nodes is the highest rank present.
STATUS_RANK = {
    ImageStatus.BUILT: 0,
    ImageStatus.PULLED: 0,
    ImageStatus.PENDING: 1,
    ImageStatus.BUILDING: 2,
    ImageStatus.PULLING: 2,
    ImageStatus.FAILED: 3,
}


class NodeChallengeState(models.Model):
    """Whether one node holds a challenge's built (or pulled) images, and how.

    The row is also the per-node, per-challenge lock: a worker owns it while
    `lease` is set and `lease_until` is ahead (see services.images).
    """

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="states")
    challenge = models.ForeignKey(
        "challenges.Challenge", on_delete=models.CASCADE, related_name="node_states"
    )
    kind = models.CharField(max_length=5, choices=ImageKind.choices)
    status = models.CharField(
        max_length=8, choices=ImageStatus.choices, default=ImageStatus.PENDING
    )
    # The content hash the images were built from (build), or "" (pull).
    content_hash = models.CharField(max_length=64, blank=True)
    # {service: {"ref": tag or reference, "id": "sha256:…"}}
    images = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500, blank=True)
    log_tail = models.TextField(blank=True)
    task = models.ForeignKey(
        "nodes.BackgroundTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    lease = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["node", "challenge", "kind"], name="nodes_one_state_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.challenge} on {self.node}: {self.status}"


class TaskKind(models.TextChoices):
    RESCAN = "rescan", "Rescan"
    BUILD = "build", "Build"
    BUILD_ALL = "build_all", "Build all"
    PULL = "pull", "Pull"
    PULL_ALL = "pull_all", "Pull all"


class TaskStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partly failed"
    FAILED = "failed", "Failed"


FINISHED = (TaskStatus.SUCCEEDED, TaskStatus.PARTIAL, TaskStatus.FAILED)


class BackgroundTask(models.Model):
    """One operation run by the workers: its parameters, progress and outcome.

    Per-node results are the `outcomes` rows; `heartbeat_at` is the last sign
    of life of any worker on it, which the stale-task sweep watches.
    """

    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=9, choices=TaskStatus.choices, default=TaskStatus.QUEUED
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # What the operation reports beyond outcomes (the catalog part of a rescan).
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "task"
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        return 100 * self.done // self.total if self.total else 0


class OutcomeStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class TaskOutcome(models.Model):
    """One unit of a task: a challenge on a node (or a node's inventory)."""

    task = models.ForeignKey(
        BackgroundTask, on_delete=models.CASCADE, related_name="outcomes"
    )
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    challenge = models.ForeignKey(
        "challenges.Challenge",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    status = models.CharField(
        max_length=9, choices=OutcomeStatus.choices, default=OutcomeStatus.QUEUED
    )
    message = models.CharField(max_length=500, blank=True)
    log_tail = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["node__name", "challenge__name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "node", "challenge"], name="nodes_one_outcome_per_unit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} on {self.node}: {self.status}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class InstanceStatus(models.TextChoices):
    STARTING = "starting", "Starting"
    RUNNING = "running", "Running"
    STOPPING = "stopping", "Stopping"
    STOPPED = "stopped", "Stopped"
    EXPIRED = "expired", "Expired"
    FAILED = "failed", "Failed"
    LOST = "lost", "Lost (node gone)"


ACTIVE = (InstanceStatus.STARTING, InstanceStatus.RUNNING)
# Statuses that hold a place on their node (containers may exist).
PLACED = (InstanceStatus.STARTING, InstanceStatus.RUNNING, InstanceStatus.STOPPING)


class InstanceQuerySet(models.QuerySet):
    def active(self) -> "InstanceQuerySet":
        return self.filter(status__in=ACTIVE)


class Instance(models.Model):
    """One principal's running copy of a challenge's services on one node.

    At most one is active (starting or running) per principal and challenge;
    the partial unique constraint settles a race between two starts.
    """

    principal = models.ForeignKey(
        "scoring.Principal", on_delete=models.CASCADE, related_name="instances"
    )
    challenge = models.ForeignKey(
        "challenges.Challenge", on_delete=models.CASCADE, related_name="instances"
    )
    competition = models.ForeignKey(
        "challenges.Competition", on_delete=models.CASCADE, related_name="instances"
    )
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.SET_NULL, related_name="instances"
    )
    status = models.CharField(
        max_length=8, choices=InstanceStatus.choices, default=InstanceStatus.STARTING
    )
    # A plain sentence for the player; `error` and `log_tail` are for admins.
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    log_tail = models.TextField(blank=True)
    # {service: container id}
    containers = models.JSONField(default=dict, blank=True)
    network = models.CharField(max_length=128, blank=True)
    # [{"service", "port", "host_port"}]
    ports = models.JSONField(default=list, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    running_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    extensions = models.PositiveSmallIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    connect_ms = models.PositiveIntegerField(null=True, blank=True)

    objects = InstanceQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "challenge"],
                condition=models.Q(status__in=["starting", "running"]),
                name="nodes_one_active_instance",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "node"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.challenge_id} for {self.principal_id}: {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    def extend_refusal(
        self, now=None, *, admin: bool = False
    ) -> tuple[str, str] | None:
        """Why extending now cannot work, as (code, sentence), or None if it can.

        Players may extend only in the last part of the lifetime (the
        extension step or less left), admins at any time; never more often
        than the competition allows, nor past its end.
        """
        now = now or timezone.now()
        competition = self.competition
        if self.status != InstanceStatus.RUNNING or self.expires_at is None:
            return "not_active", "There is no running instance to extend."
        if self.extensions >= competition.instance_max_extensions:
            return "extend_max", "This instance cannot be extended any more."
        if competition.ends_at and self.expires_at >= competition.ends_at:
            return "extend_max", "The instance already lasts until the end."
        step = competition.instance_extension
        if not admin and (self.expires_at - now).total_seconds() > step:
            minutes = max(1, step // 60)
            return (
                "extend_not_yet",
                f"You can extend once {minutes} minute(s) or less are left.",
            )
        return None

    def extensions_left(self) -> int:
        return max(0, self.competition.instance_max_extensions - self.extensions)
