"""Node operations: register, check health, enable and disable Docker hosts."""

import os

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import EventType
from audit.services import record
from nodes import docker_client
from nodes.models import Node, NodeStatus

LOCAL_NAME = "local"
LOCAL_SOCKET = "unix:///var/run/docker.sock"


def node_add(
    *,
    name: str,
    url: str,
    tls_ca: str = "",
    tls_cert: str = "",
    tls_key: str = "",
    public_address: str = "",
    capacity: int = 50,
    concurrency: int = 2,
    labels: dict | None = None,
    allow_plain_tcp: bool = False,
    actor=None,
) -> Node:
    """Register a node and check it at once; raise ValidationError on bad input."""
    node = Node(
        name=name,
        url=url.strip(),
        tls_ca=tls_ca.strip(),
        tls_cert=tls_cert.strip(),
        tls_key=tls_key.strip(),
        public_address=public_address.strip(),
        capacity=capacity,
        concurrency=concurrency,
        labels=labels or {},
        allow_plain_tcp=allow_plain_tcp,
    )
    node.full_clean()
    return node_save(node=node, actor=actor)


def node_save(*, node: Node, actor=None) -> Node:
    """Save a validated node (new or edited), audit it, and check it."""
    created = node.pk is None
    try:
        with transaction.atomic():
            node.save()
            record(
                EventType.NODE_CHANGED,
                actor=actor,
                subject=node.name,
                message=f"node {'added' if created else 'changed'}: {node.url}",
                details={"node": node.pk, "url": node.url, "tls": node.uses_tls},
            )
    except IntegrityError:
        raise ValidationError({"name": f"A node named {node.name!r} exists."}) from None
    return node_check(node=node)


def node_check(*, node: Node) -> Node:
    """Ping the node and record its health; the detail says what is wrong."""
    now = timezone.now()
    try:
        info = docker_client.engine_info(node.endpoint())
    except docker_client.NodeError as error:
        fields = {
            "status": NodeStatus.OFFLINE,
            "status_detail": str(error)[:500],
            "checked_at": now,
        }
    else:
        fields = {
            "status": NodeStatus.ONLINE,
            "status_detail": f"Docker {info.version} (API {info.api_version})",
            "checked_at": now,
            "last_seen_at": now,
            "engine_version": info.version,
            "cpus": info.cpus,
            "memory": info.memory,
            "disk_free": info.disk_free,
        }
    Node.objects.filter(pk=node.pk).update(**fields)
    for key, value in fields.items():
        setattr(node, key, value)
    return node


def node_mark_offline(*, node: Node, reason: str) -> None:
    """Record that the node stopped answering during work (no extra ping)."""
    Node.objects.filter(pk=node.pk).update(
        status=NodeStatus.OFFLINE,
        status_detail=reason[:500],
        checked_at=timezone.now(),
    )


def nodes_check_all() -> list[Node]:
    """Check every enabled node (the periodic health check)."""
    return [node_check(node=node) for node in Node.objects.enabled()]


def node_set_enabled(*, node: Node, enabled: bool, actor=None) -> Node:
    """Enable or disable a node; a disabled node gets no work and no state."""
    if node.enabled != enabled:
        Node.objects.filter(pk=node.pk).update(enabled=enabled)
        node.enabled = enabled
        record(
            EventType.NODE_CHANGED,
            actor=actor,
            subject=node.name,
            message="node enabled" if enabled else "node disabled",
            details={"node": node.pk, "enabled": enabled},
        )
    return node


def node_register_local(*, url: str = "") -> Node | None:
    """Register this machine's Docker socket as `local` when an engine answers.

    Re-running it is harmless; without an engine it returns None.
    """
    url = url or _local_url()
    existing = Node.objects.filter(name=LOCAL_NAME).first()
    if existing is not None:
        return node_check(node=existing)
    try:
        docker_client.ping(docker_client.Endpoint(url))
    except docker_client.NodeError:
        return None
    return node_add(name=LOCAL_NAME, url=url, public_address="127.0.0.1")


def _local_url() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    return host if host.startswith("unix://") else LOCAL_SOCKET
