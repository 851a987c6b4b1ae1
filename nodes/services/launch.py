"""The worker's half of an instance start: place it on a node (race-proof),
make sure the images are there, issue the flag, start the containers on a
network of their own, and watch them come up. Also the teardown.

Everything the instance leaves on a node carries the `ctf.instance` label (its
id), so reconciliation can match containers and networks to rows.
"""

import hashlib
import ipaddress
import logging
import random
import secrets
import socket
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from nodes import docker_client
from nodes.models import (
    PLACED,
    ImageKind,
    ImageStatus,
    Instance,
    InstanceStatus,
    Node,
    NodeChallengeState,
)
from nodes.plans import ChallengePlan, challenge_plan, needs_images
from nodes.services.images import challenge_build, challenge_pull

log = logging.getLogger(__name__)
S = InstanceStatus
LABEL = "ctf.instance"
LABEL_PRINCIPAL = "ctf.instance.principal"
LABEL_CHALLENGE = "ctf.instance.challenge"
LABEL_COMPETITION = "ctf.instance.competition"
LABEL_SERVICE = "ctf.instance.service"
LABEL_DEPLOYMENT = "ctf.deployment"
DEFAULT_LIFETIME = 1800
# Docker's default capabilities that challenges seldom need: dropped unless a
# service's cap_add names them (they are defaults, so no trust is needed).
DROPPED_CAPABILITIES = ("AUDIT_WRITE", "MKNOD", "NET_RAW", "SETFCAP", "SYS_CHROOT")
# A container that dies this soon after its start counts as "exits at once".
SETTLE_SECONDS = 0.1
CONNECT_TIMEOUT = 30.0
LOG_LINES = 60


class StartFailed(Exception):
    def __init__(self, message: str, error: str = "", log_tail: str = "") -> None:
        super().__init__(error or message)
        self.message = message
        self.error = error or message
        self.log_tail = log_tail


class Superseded(Exception):
    """The row left `starting` meanwhile (stopped, reaped): undo and go."""


@dataclass
class Started:
    containers: dict[str, str]
    ports: list[dict]


def instance_run(*, instance_id: int) -> Instance | None:
    """Bring a `starting` instance up (the worker); a redelivered message for
    a row that moved on does nothing, one half done starts over."""
    instance = (
        Instance.objects.select_related("challenge", "competition", "principal")
        .filter(pk=instance_id)
        .first()
    )
    if instance is None or instance.status != S.STARTING:
        return instance
    if instance.containers or instance.network:
        instance_teardown(instance)  # a worker died half way: start clean
        _save(instance, containers={}, network="", ports=[])
    try:
        if instance.challenge.needs_trust:
            raise StartFailed(
                "This challenge waits for the organizers' approval.",
                f"needs trust: {', '.join(instance.challenge.needs_trust)}",
            )
        node = _place(instance)
        plan = challenge_plan(instance.challenge, settings.CATALOG_DIR)
        _ensure_images(instance, node, plan)
        with transaction.atomic():
            # A start cancelled meanwhile must not rotate the next one's flag.
            if (
                not Instance.objects.select_for_update()
                .filter(pk=instance.pk, status=S.STARTING)
                .exists()
            ):
                raise Superseded
            environment = _flag_environment(instance)
        started = _launch(instance, node, plan, environment)
    except Superseded:
        instance_teardown(instance)
        return instance
    except StartFailed as failure:
        _fail(instance, failure)
        return instance
    except docker_client.NodeError as error:
        _fail(instance, StartFailed(_sorry(), str(error)))
        return instance
    except Exception as error:
        # Whatever else went wrong, the row must not stay `starting`.
        log.exception("instance %s failed to start", instance.pk)
        _fail(instance, StartFailed(_sorry(), f"{type(error).__name__}: {error}"))
        return instance
    now = timezone.now()
    latency = int((now - instance.requested_at).total_seconds() * 1000)
    changed = Instance.objects.filter(pk=instance.pk, status=S.STARTING).update(
        status=S.RUNNING,
        running_at=now,
        expires_at=_expiry(instance, now),
        latency_ms=latency,
        containers=started.containers,
        ports=started.ports,
        message="",
    )
    instance.refresh_from_db()
    if not changed:
        instance_teardown(instance)
        return instance
    if (instance.challenge.services or {}).get("healthcheck") and started.ports:
        _first_connect(instance, node, started.ports[0]["host_port"])
    return instance


def deployment_labels(*labels: str) -> list[str]:
    """Docker label filters (all must match) limited to this installation's
    containers: teardown and reconciliation never touch another's (staging
    beside production, or two test runs, on one engine)."""
    return [*labels, f"{LABEL_DEPLOYMENT}={deployment()}"]


def deployment() -> str:
    """This installation's mark: INSTANCES_DEPLOYMENT, else its database's."""
    if settings.INSTANCES_DEPLOYMENT:
        return settings.INSTANCES_DEPLOYMENT
    db = connection.settings_dict
    where = f"{db['ENGINE']}|{db.get('HOST')}|{db.get('PORT')}|{db['NAME']}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def instance_teardown(instance: Instance) -> None:
    """Remove the instance's containers and network from its node (best effort:
    an unreachable node is cleaned by reconciliation when it answers again)."""
    node = instance.node or (
        Node.objects.filter(pk=instance.node_id).first() if instance.node_id else None
    )
    if node is None:
        return
    ep = node.endpoint()
    try:
        ids = set(instance.containers.values())
        ids |= {
            c.id
            for c in docker_client.containers_labelled(
                ep, deployment_labels(f"{LABEL}={instance.pk}")
            )
        }
        for ident in ids:
            docker_client.container_remove(ep, ident)
        if instance.network:
            docker_client.network_remove(ep, instance.network)
    except docker_client.NodeError:
        pass


# Placement.


def _place(instance: Instance) -> Node:
    """Choose a node with room and save it on the row, under the nodes' locks.

    Candidate nodes are locked in id order while their placed instances are
    counted, so concurrent starts see each other's places and never exceed a
    node's capacity.
    """
    challenge = instance.challenge
    kinds = [k for k in (ImageKind.BUILD, ImageKind.PULL) if needs_images(challenge, k)]
    with transaction.atomic():
        nodes = list(Node.objects.online().select_for_update().order_by("pk"))
        if not nodes:
            raise StartFailed(
                "No server can take an instance right now; try again soon.",
                "no enabled, online node",
            )
        used = dict(
            Instance.objects.filter(node__in=nodes, status__in=PLACED)
            .values_list("node")
            .annotate(n=Count("pk"))
        )
        ready_kinds: dict[int, set] = {}
        for node_id, kind in NodeChallengeState.objects.filter(
            node__in=nodes,
            challenge=challenge,
            status__in=(ImageStatus.BUILT, ImageStatus.PULLED),
        ).values_list("node_id", "kind"):
            ready_kinds.setdefault(node_id, set()).add(kind)
        room = [n for n in nodes if used.get(n.pk, 0) < n.capacity]
        if not room:
            raise StartFailed(
                "Every server is full right now; try again in a few minutes.",
                f"no room on {len(nodes)} online node(s)",
            )

        def rank(node: Node) -> tuple:
            ready = set(kinds) <= ready_kinds.get(node.pk, set())
            return (not ready, used.get(node.pk, 0), node.pk)

        node = min(room, key=rank)
        if not Instance.objects.filter(pk=instance.pk, status=S.STARTING).update(
            node=node
        ):
            raise Superseded
    instance.node = node
    return node


def _ensure_images(instance: Instance, node: Node, plan: ChallengePlan) -> None:
    """Build or pull what the node lacks first, and tell the player so."""
    states = {
        s.kind: s
        for s in NodeChallengeState.objects.filter(
            node=node, challenge=instance.challenge
        )
    }
    fetched = False
    build = states.get(ImageKind.BUILD)
    if plan.builds and not (
        build
        and build.status == ImageStatus.BUILT
        and build.content_hash == plan.content_hash
    ):
        _message(instance, "Building the challenge first…")
        outcome = challenge_build(node=node, plan=plan, challenge=instance.challenge)
        fetched = True
        if not outcome.ok:
            raise StartFailed(_sorry(), f"build: {outcome.message}", outcome.log_tail)
    pull = states.get(ImageKind.PULL)
    if plan.pulls and not (pull and pull.status == ImageStatus.PULLED):
        _message(instance, "Pulling the challenge's images first…")
        outcome = challenge_pull(node=node, plan=plan, challenge=instance.challenge)
        fetched = True
        if not outcome.ok:
            raise StartFailed(_sorry(), f"pull: {outcome.message}", outcome.log_tail)
    if fetched:
        _message(instance, "Starting…")


# The flag.


def _flag_environment(instance: Instance) -> dict[str, str]:
    """The principal's flag under `flag_env` (FLAG): derived, or issued fresh.

    A dynamic flag is registered before any container starts, so it is
    accepted at once; the previous one is rotated. Further derived questions
    get `<flag_env>_<KEY>`.
    """
    from scoring.derivation import derived_template
    from scoring.flags import expected_flag, flag_issue_random

    spec = instance.challenge.services.get("instance") or {}
    name = spec.get("flag_env") or "FLAG"
    questions = list(instance.challenge.questions.all())
    environment: dict[str, str] = {}
    first = True
    for question in questions:
        template = derived_template(question)
        if template is None:
            continue
        if spec.get("flag") == "dynamic":
            value = flag_issue_random(
                principal=instance.principal, question=question, template=template
            )
        else:
            value = expected_flag(instance.principal, question)
        key = name if first else f"{name}_{_env_key(question.key)}"
        environment[key] = value or ""
        first = False
    if first:  # no per-team flag: a static one, the same for everyone
        for question in questions:
            for flag in question.flags:
                if flag.get("kind") == "static" and name not in environment:
                    environment[name] = flag.get("content", "")
    return environment


def _env_key(key: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in key).upper()


# Containers.


def _launch(
    instance: Instance, node: Node, plan: ChallengePlan, flags: dict[str, str]
) -> Started:
    ep = node.endpoint()
    challenge = instance.challenge
    services = challenge.services.get("services") or []
    spec = challenge.services.get("instance") or {}
    labels = {
        LABEL: str(instance.pk),
        LABEL_PRINCIPAL: str(instance.principal_id),
        LABEL_CHALLENGE: str(challenge.pk),
        LABEL_COMPETITION: str(instance.competition_id),
        LABEL_DEPLOYMENT: deployment(),
    }
    network = f"ctfi-{instance.pk}-{secrets.token_hex(3)}"
    _save(instance, network=network)
    _network(ep, network, labels, no_egress=bool(spec.get("no_egress")))
    trusted = not challenge.needs_trust
    containers: dict[str, str] = {}
    for index, service in enumerate(services):
        name = service["name"]
        image = plan.run_images[name]
        ports = list(service.get("ports") or ())
        if index == 0:
            ports += [p for p in spec.get("ports") or () if p not in ports]
            if not ports:
                ports = list(docker_client.image_ports(ep, image))
        environment = {k: v for k, v in service.get("environment") or ()}
        environment.update(flags)
        cap_add = tuple(service.get("cap_add") or ()) if trusted else ()
        containers[name] = _run(
            ep,
            docker_client.ContainerSpec(
                name=f"{network}-{name}",
                image=image,
                network=network,
                alias=name,
                environment=environment,
                ports=tuple(ports),
                labels={**labels, LABEL_SERVICE: name},
                memory=spec.get("memory") or settings.INSTANCES_MEMORY_MB << 20,
                nano_cpus=int(
                    (spec.get("cpus") or settings.INSTANCES_MILLICPUS / 1000) * 1e9
                ),
                pids=spec.get("pids") or settings.INSTANCES_PIDS,
                cap_add=cap_add,
                cap_drop=tuple(c for c in DROPPED_CAPABILITIES if c not in cap_add),
                privileged=bool(service.get("privileged")) and trusted,
                read_only=bool(spec.get("read_only")),
            ),
        )
        # Saved as they come, so a teardown after a crash finds them all.
        _save(instance, containers=containers)
    time.sleep(SETTLE_SECONDS)
    published = []
    for name, ident in containers.items():
        state = docker_client.container_state(ep, ident)
        if state is None or not state.running:
            code = state.exit_code if state else "?"
            raise StartFailed(
                "The instance stopped as soon as it started; the organizers can "
                "see why.",
                f"service {name} exited at once (exit code {code})",
                docker_client.container_logs(ep, ident, tail=LOG_LINES),
            )
        for port, host_port in sorted(state.ports.items()):
            published.append({"service": name, "port": port, "host_port": host_port})
    return Started(containers, published)


def _run(ep, spec: docker_client.ContainerSpec) -> str:
    """Start a container, again if a random host port was taken meanwhile."""
    for _ in range(4):
        try:
            return docker_client.container_run(ep, spec)
        except docker_client.PortTaken:
            continue
    return docker_client.container_run(ep, spec)


def _network(ep, name: str, labels: dict, *, no_egress: bool) -> None:
    """Create the instance's network on a free /28 of INSTANCES_SUBNETS."""
    pool = list(ipaddress.ip_network(settings.INSTANCES_SUBNETS).subnets(new_prefix=28))
    for attempt in range(8):
        subnet = str(random.choice(pool))  # noqa: S311 (not a secret)
        try:
            docker_client.network_create(
                ep, name, subnet=subnet, labels=labels, no_egress=no_egress
            )
            return
        except docker_client.SubnetTaken:
            continue
        except docker_client.NodeError as error:
            # Engines sharing a host's iptables (a busy test machine) now and
            # then fail to program the NAT chain: once more, then give up.
            if "iptables" not in str(error) or attempt >= 2:
                raise
            docker_client.network_remove(ep, name)
            time.sleep(0.2)
    raise StartFailed(_sorry(), "no free subnet found for the instance's network")


def _first_connect(instance: Instance, node: Node, port: int) -> None:
    """Record the first successful TCP connect on the first published port."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while time.monotonic() < deadline:
        if not _answers(node.host, port):
            time.sleep(0.05)
            continue
        now = timezone.now()
        Instance.objects.filter(pk=instance.pk, connected_at__isnull=True).update(
            connected_at=now,
            connect_ms=int((now - instance.requested_at).total_seconds() * 1000),
        )
        return


def _answers(host: str, port: int) -> bool:
    """A connection that stays open (or sends) is served; one closed at once is
    Docker's port proxy finding nothing listening behind it yet."""
    try:
        with socket.create_connection((host, port), timeout=1) as conn:
            conn.settimeout(0.2)
            try:
                return conn.recv(1) != b""
            except TimeoutError:
                return True
    except OSError:
        return False


# Rows.


def _expiry(instance: Instance, now):
    """Now plus the lifetime (the competition's when its organizer set one,
    else the spec's, else 30 minutes), never past the competition's end."""
    from datetime import timedelta

    spec = instance.challenge.services.get("instance") or {}
    seconds = (
        instance.competition.instance_lifetime
        or spec.get("lifetime")
        or DEFAULT_LIFETIME
    )
    until = now + timedelta(seconds=seconds)
    ends = instance.competition.ends_at
    return min(until, ends) if ends else until


def _fail(instance: Instance, failure: StartFailed) -> None:
    Instance.objects.filter(pk=instance.pk, status=S.STARTING).update(
        status=S.FAILED,
        message=failure.message[:500],
        error=failure.error,
        log_tail=failure.log_tail[-8000:],
        stopped_at=timezone.now(),
    )
    instance.refresh_from_db()
    instance_teardown(instance)


def _message(instance: Instance, text: str) -> None:
    if not Instance.objects.filter(pk=instance.pk, status=S.STARTING).update(
        message=text
    ):
        raise Superseded


def _save(instance: Instance, **fields) -> None:
    for key, value in fields.items():
        setattr(instance, key, value)
    Instance.objects.filter(pk=instance.pk).update(**fields)


def _sorry() -> str:
    return "The instance could not be started; try again, or ask the organizers."
