"""Per-team instances on real engines: a busybox `nc` answering with $FLAG, the
flag scored through the pipeline, compose services on their own network,
isolation between teams, no egress, limits, the reaper, reconciliation, a
node that dies, and a container that exits at once."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from challenges.models import Challenge, Competition
from nodes.models import BackgroundTask, Instance, InstanceStatus
from nodes.services.instances import (
    InstanceRefused,
    instance_restart,
    instance_start,
    instance_stop,
    instances_reap,
    instances_reconcile,
)
from nodes.services.launch import deployment
from nodes.services.nodes import node_check
from scoring.models import Result
from tests.scoring.factories import attempt, player

from .conftest import SLOW_RUN, kill_daemon, wait_until

# Serve $FLAG (and the name of the service) to every connection on port 9000.
SERVE = (
    'ENTRYPOINT ["sh", "-c", "mkdir -p /tmp; printf \\"%s %s\\\\n\\" \\"$FLAG\\" '
    '\\"$(hostname)\\" > /tmp/reply; exec nc -ll -p 9000 -e cat /tmp/reply"]'
)
SLEEP = 'ENTRYPOINT ["sleep", "3600"]'


def instanced(catalog, identity: str, *, instance: str = "{ports: [9000]}", **extra):
    """A busybox challenge with a derived flag and an `instance:` block."""
    catalog.challenge(identity, steps=extra.pop("steps", SERVE), **extra)
    spec = catalog.root / identity / "challenge.yml"
    text = spec.read_text().replace(
        'flags: ["CTF{x}"]', 'flags: [{type: derived, template: "CTF{inst_{hash}}"}]'
    )
    spec.write_text(text + f"instance: {instance}\n")
    catalog.rescan()
    return Challenge.objects.get(identity=identity)


def read_port(host: str, port: int) -> str:
    """What the service sends on connecting (retried while it is still coming up)."""
    deadline = time.monotonic() + 10
    while True:
        with socket.create_connection((host, port), timeout=5) as conn:
            conn.settimeout(5)
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
        if data or time.monotonic() > deadline:
            return data.decode().strip()
        time.sleep(0.1)


def inspect(daemon, ident: str) -> dict:
    return json.loads(daemon.docker("inspect", ident))[0]


def running(daemon, instance=None) -> list[str]:
    """Running instance containers: all, or those of one instance."""
    label = "ctf.instance" + (f"={instance.pk}" if instance else "")
    return daemon.docker("ps", "-q", "--filter", f"label={label}").split()


def start(user, challenge) -> Instance:
    instance = instance_start(user=user, challenge=challenge)
    instance.refresh_from_db()
    return instance


@pytest.fixture
def players(transactional_db):
    return player("alpha-team"), player("bravo-team")


@pytest.fixture(autouse=True)
def no_leftovers(daemons):
    """Remove what a failed test left: bridges outlive a stopped daemon."""
    yield
    for daemon in daemons.values():
        for kind in ("container", "network"):
            listed = daemon.docker(
                kind,
                "ls",
                "-aq" if kind == "container" else "-q",
                "--filter",
                "label=ctf.instance",
                check=False,
            )
            for ident in listed.split():
                daemon.docker(
                    kind,
                    "rm",
                    *(["-f"] if kind == "container" else []),
                    ident,
                    check=False,
                )


def test_it_starts_an_instance_whose_flag_scores(daemons, alpha, catalog, players):
    challenge = instanced(catalog, "pwn/echo")
    user, _ = players

    instance = start(user, challenge)

    assert instance.status == InstanceStatus.RUNNING, (instance.error, instance.message)
    assert instance.node == alpha
    assert instance.latency_ms is not None and instance.latency_ms > 0
    [published] = instance.ports
    assert published["service"] == "challenge" and published["port"] == 9000
    flag, _ = read_port(alpha.host, published["host_port"]).split()
    assert flag.startswith("CTF{inst_")
    assert attempt(user, challenge, flag).result == Result.CORRECT
    # The same button pressed again (or by a teammate): the same instance.
    assert instance_start(user=user, challenge=challenge).pk == instance.pk

    stopped = instance_stop(instance=instance, actor=user)

    stopped.refresh_from_db()
    assert stopped.status == InstanceStatus.STOPPED
    assert running(daemons["alpha"], instance) == []


def test_it_applies_limits_and_labels_to_every_container(daemons, alpha, catalog):
    challenge = instanced(
        catalog,
        "pwn/limited",
        instance="{ports: [9000], memory: 64m, cpus: 0.25, pids: 32, read_only: true}",
    )
    user = player("limits")

    instance = start(user, challenge)

    assert instance.status == InstanceStatus.RUNNING, instance.error
    info = inspect(daemons["alpha"], instance.containers["challenge"])
    host = info["HostConfig"]
    assert host["Memory"] == 64 << 20
    assert host["NanoCpus"] == 250_000_000
    assert host["PidsLimit"] == 32
    assert host["ReadonlyRootfs"] is True
    assert host["Privileged"] is False
    assert "no-new-privileges" in host["SecurityOpt"]
    assert {"NET_RAW", "MKNOD"} <= set(host["CapDrop"])
    assert list(host["PortBindings"]) == ["9000/tcp"]  # only the declared port
    labels = info["Config"]["Labels"]
    assert labels["ctf.instance"] == str(instance.pk)
    assert labels["ctf.instance.principal"] == str(instance.principal_id)
    assert labels["ctf.instance.challenge"] == str(challenge.pk)
    assert labels["ctf.instance.competition"] == str(instance.competition_id)
    # It still serves from its read-only root (its /tmp is its own tmpfs).
    port = instance.ports[0]["host_port"]
    assert read_port(alpha.host, port).startswith("CTF{inst_")


COMPOSE = """\
services:
  web:
    build: ./web
    ports: ["8000:9000"]
  db:
    build: ./db
"""


def test_compose_services_resolve_each_other_and_not_other_teams(
    daemons, alpha, catalog, players
):
    catalog.challenge("web/pair", compose=COMPOSE)
    (catalog.root / "web/pair/web").mkdir()
    (catalog.root / "web/pair/db").mkdir()
    catalog.busybox_context("web/pair/web", steps=SERVE)
    catalog.busybox_context("web/pair/db", steps=SERVE)
    spec = catalog.root / "web/pair/challenge.yml"
    spec.write_text(
        spec.read_text().replace(
            'flags: ["CTF{x}"]', 'flags: [{type: derived, template: "CTF{p_{hash}}"}]'
        )
        + "instance: true\n"
    )
    catalog.rescan()
    challenge = Challenge.objects.get(identity="web/pair")
    first, second = (start(user, challenge) for user in players)
    docker = daemons["alpha"].docker

    assert first.status == second.status == InstanceStatus.RUNNING
    assert first.network != second.network
    # web reaches db by its service name, on the instance's own network.
    reply = docker("exec", first.containers["web"], "nc", "db", "9000")
    flag, hostname = reply.split()
    assert hostname == "db" and attempt(players[0], challenge, flag).result == "correct"
    # Nothing of the other team is reachable: not its name, not its address.
    other_db = inspect(daemons["alpha"], second.containers["db"])
    address = other_db["NetworkSettings"]["Networks"][second.network]["IPAddress"]
    other_name = other_db["Name"].lstrip("/")
    lookup = docker(
        "exec", first.containers["web"], "nslookup", other_name, check=False
    )
    assert address not in lookup
    # Only web's declared port is published.
    assert [p["service"] for p in first.ports] == ["web"]
    # Between networks, Docker's isolation chains drop the packets. Another
    # engine starting on this host (the harness runs several) flushes those
    # chains for all engines: only with the rules in place is the probe fair.
    bridges = [
        "br-" + docker("network", "inspect", "-f", "{{.Id}}", i.network)[:12]
        for i in (first, second)
    ]
    rules = subprocess.run(
        ["iptables", "-S", "DOCKER-ISOLATION-STAGE-2"], capture_output=True, text=True
    ).stdout
    if not all(f"-o {bridge} -j DROP" in rules for bridge in bridges):
        pytest.skip("another engine on this host flushed Docker's isolation chains")
    probe = docker(
        "exec", first.containers["web"], "nc", "-w", "2", address, "9000", check=False
    )
    assert probe == ""


def test_no_egress_turns_masquerading_off_and_keeps_published_ports(
    daemons, alpha, catalog
):
    challenge = instanced(
        catalog, "pwn/sealed", instance="{ports: [9000], no_egress: true}"
    )

    instance = start(player("sealed"), challenge)

    assert instance.status == InstanceStatus.RUNNING, instance.error
    network = json.loads(
        daemons["alpha"].docker("network", "inspect", instance.network)
    )
    options = network[0]["Options"]
    assert options["com.docker.network.bridge.enable_ip_masquerade"] == "false"
    assert network[0]["Internal"] is False
    subnet = network[0]["IPAM"]["Config"][0]["Subnet"]
    nat = subprocess.run(
        ["iptables", "-t", "nat", "-S", "POSTROUTING"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert not [line for line in nat.splitlines() if subnet in line]
    port = instance.ports[0]["host_port"]
    assert read_port(alpha.host, port).startswith("CTF{inst_")


def test_a_container_that_exits_at_once_fails_and_leaves_nothing(
    daemons, alpha, catalog
):
    challenge = instanced(
        catalog, "pwn/crash", steps='ENTRYPOINT ["sh", "-c", "echo boom >&2; exit 3"]'
    )

    instance = start(player("crash"), challenge)

    assert instance.status == InstanceStatus.FAILED
    assert "exit code 3" in instance.error
    assert "boom" in instance.log_tail
    assert "organizers" in instance.message and "exit" not in instance.message
    listed = daemons["alpha"].docker("ps", "-aq", "--filter", "label=ctf.instance")
    assert listed == ""


def test_the_reaper_stops_expired_instances_and_all_at_the_end(
    daemons, alpha, catalog, players
):
    challenge = instanced(catalog, "pwn/timed")
    first, second = (start(user, challenge) for user in players)
    Instance.objects.filter(pk=first.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert instances_reap() == 1
    first.refresh_from_db()
    assert first.status == InstanceStatus.EXPIRED
    assert running(daemons["alpha"]) == [second.containers["challenge"][:12]]

    Competition.objects.filter(pk=second.competition_id).update(
        ends_at=timezone.now() - timedelta(seconds=1)
    )
    assert instances_reap() == 1
    second.refresh_from_db()
    assert second.status == InstanceStatus.EXPIRED
    assert second.message == "The competition is over."
    assert running(daemons["alpha"]) == []
    with pytest.raises(InstanceRefused) as refused:
        instance_start(user=players[0], challenge=challenge)
    assert refused.value.code == "over"


def test_reconciliation_repairs_both_sides(daemons, alpha, catalog, players):
    challenge = instanced(catalog, "pwn/drift")
    instance = start(players[0], challenge)
    docker = daemons["alpha"].docker
    docker("rm", "-f", instance.containers["challenge"])
    # A container with our labels that no row knows (left by a crash), and one
    # of another installation sharing the engine.
    ours, theirs = (
        docker(
            "create",
            "--label",
            "ctf.instance=987654",
            "--label",
            f"ctf.deployment={mark}",
            challenge_image(instance),
            "sleep",
            "60",
        )
        for mark in (deployment(), "another-installation")
    )

    found = instances_reconcile()

    instance.refresh_from_db()
    assert instance.status == InstanceStatus.LOST
    assert "start it again" in instance.message
    assert found["lost"] == 1 and found["containers_removed"] >= 1
    assert ours not in docker("ps", "-aq", "--no-trunc")
    assert theirs in docker("ps", "-aq", "--no-trunc")
    docker("rm", "-f", theirs)
    # The team may start again at once.
    again = start(players[0], challenge)
    assert again.status == InstanceStatus.RUNNING and again.pk != instance.pk


def challenge_image(instance: Instance) -> str:
    from nodes.models import NodeChallengeState

    state = NodeChallengeState.objects.get(
        node=instance.node, challenge=instance.challenge, kind="build"
    )
    return state.images["challenge"]["ref"]


def test_a_node_lost_with_instances_lets_them_start_elsewhere(
    daemons, alpha, doomed, catalog, players
):
    gamma = doomed.register()
    challenge = instanced(catalog, "pwn/fragile")
    alpha.enabled = False
    alpha.save(update_fields=["enabled"])
    instance = start(players[0], challenge)
    assert instance.node == gamma and instance.status == InstanceStatus.RUNNING

    bridge = (
        "br-"
        + doomed.docker("network", "inspect", "-f", "{{.Id}}", instance.network)[:12]
    )
    kill_daemon(doomed)
    subprocess.run(["ip", "link", "del", bridge], check=False)
    node_check(node=gamma)
    alpha.enabled = True
    alpha.save(update_fields=["enabled"])
    instances_reap()  # one missed check may be a blip: nothing is lost yet
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.RUNNING
    later = timezone.now() + timedelta(seconds=settings.INSTANCES_LOST_AFTER + 1)
    instances_reap(now=later)

    instance.refresh_from_db()
    assert instance.status == InstanceStatus.LOST
    again = start(players[0], challenge)
    assert again.status == InstanceStatus.RUNNING and again.node == alpha


def test_a_restart_gives_a_fresh_instance(daemons, alpha, catalog, players):
    challenge = instanced(catalog, "pwn/again")
    first = start(players[0], challenge)

    second = instance_restart(user=players[0], challenge=challenge)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == InstanceStatus.STOPPED
    assert second.status == InstanceStatus.RUNNING and second.pk != first.pk
    assert running(daemons["alpha"]) == [second.containers["challenge"][:12]]


def test_starts_racing_for_one_team_make_one_instance(daemons, alpha, catalog):
    challenge = instanced(catalog, "pwn/race")
    user = player("racer")
    barrier = threading.Barrier(6)
    ids = []

    def press() -> None:
        barrier.wait()
        try:
            ids.append(instance_start(user=user, challenge=challenge).pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(ids) == 6 and len(set(ids)) == 1
    assert Instance.objects.get().status == InstanceStatus.RUNNING
    assert len(running(daemons["alpha"])) == 1


def test_a_start_whose_worker_died_is_failed_and_cleaned(daemons, alpha, catalog):
    challenge = instanced(catalog, "pwn/orphaned")
    user = player("orphan")
    instance = start(user, challenge)
    # As a killed worker leaves it: still starting, a container up, long ago.
    Instance.objects.filter(pk=instance.pk).update(
        status=InstanceStatus.STARTING,
        requested_at=timezone.now() - timedelta(hours=1),
    )

    instances_reap()

    instance.refresh_from_db()
    assert instance.status == InstanceStatus.FAILED
    assert "too long" in instance.message and "worker" in instance.error
    assert daemons["alpha"].docker("ps", "-aq", "--filter", "label=ctf.instance") == ""


def test_a_worker_killed_while_starting_leaves_nothing_starting(
    daemons, alpha, catalog, start_worker
):
    worker = start_worker()
    # The image is not on the node yet: the worker builds it first, slowly.
    challenge = instanced(
        catalog, "pwn/killed", steps=SLOW_RUN.format(seconds=30) + "\n" + SERVE
    )
    wait_until(
        lambda: (
            not BackgroundTask.objects.exclude(
                status__in=("succeeded", "partial", "failed")
            ).exists()
        ),
        60,
        lambda: f"the rescan's node refresh: {worker.tail()}",
    )
    user = player("killed")
    instance = instance_start(user=user, challenge=challenge)
    wait_until(
        lambda: "Building" in Instance.objects.get(pk=instance.pk).message,
        60,
        lambda: f"the worker to start building: {worker.tail()}",
    )

    worker.kill()
    assert instances_reap() == 0  # not stuck yet
    later = timezone.now() + timedelta(seconds=settings.INSTANCES_START_DEADLINE + 1)
    assert instances_reap(now=later) == 1

    instance.refresh_from_db()
    assert instance.status == InstanceStatus.FAILED
    assert "try again" in instance.message
    assert daemons["alpha"].docker("ps", "-aq", "--filter", "label=ctf.instance") == ""
    again = instance_start(user=user, challenge=challenge)
    assert again.pk != instance.pk and again.status == InstanceStatus.STARTING


def test_it_times_the_first_connect_when_the_spec_has_a_health_check(
    daemons, alpha, catalog
):
    challenge = instanced(catalog, "pwn/healthy", files={"healthcheck.sh": "true\n"})
    spec = catalog.root / "pwn/healthy/challenge.yml"
    spec.write_text(spec.read_text() + "healthcheck: healthcheck.sh\n")
    catalog.rescan()
    challenge.refresh_from_db()

    instance = start(player("healthy"), challenge)

    assert instance.status == InstanceStatus.RUNNING, instance.error
    assert instance.connected_at is not None
    assert instance.connect_ms >= instance.latency_ms


# A dynamic flag rotated while Redis does not answer.


class DurableRedis:
    """A private redis-server with an append-only file: stopped and started
    again, it comes back with the keys it had (as a production Redis does)."""

    def __init__(self, folder) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.server = None
        self.start()

    def start(self) -> None:
        self.server = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
            + ["--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )
        wait_until(lambda: _answers(self.port), 10, "redis")

    def stop(self) -> None:
        self.server.kill()
        self.server.wait()


@pytest.fixture
def durable_redis(settings, tmp_path):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (make test provides it)")
    redis = DurableRedis(tmp_path)
    caches = {"default": {**settings.CACHES["default"], "LOCATION": redis.url}}
    try:
        with override_settings(REDIS_URL=redis.url, CACHES=caches):
            yield redis
    finally:
        redis.stop()


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def test_a_dynamic_flag_rotated_with_redis_down_is_the_one_accepted(
    daemons, alpha, catalog, players, durable_redis
):
    from django_redis import get_redis_connection

    from scoring.derivation import flag_hash
    from scoring.flags import flags_reindex, flags_repair
    from scoring.models import CheatKind, CheatRecord

    challenge = instanced(
        catalog, "pwn/rotating", instance="{ports: [9000], flag: dynamic}"
    )
    user, other = players
    flags_reindex()
    first = start(user, challenge)
    old = read_port(alpha.host, first.ports[0]["host_port"]).split()[0]
    instance_stop(instance=first, actor=user)
    redis = get_redis_connection("default")
    assert redis.get(f"flag_owner:{flag_hash(old)}").decode().endswith(":current")

    durable_redis.stop()
    second = start(user, challenge)
    new = read_port(alpha.host, second.ports[0]["host_port"]).split()[0]
    durable_redis.start()

    assert second.status == InstanceStatus.RUNNING and new != old
    # Redis missed the rotation: its index still calls the old flag current...
    assert redis.get(f"flag_owner:{flag_hash(old)}").decode().endswith(":current")
    # ...yet the table decides: the old flag is wrong, the new one scores.
    assert attempt(user, challenge, old).result == Result.WRONG
    assert attempt(user, challenge, new).result == Result.CORRECT
    # The minute's repair puts Redis right, so a replay by another team is seen.
    assert flags_repair() >= 2
    assert redis.get(f"flag_owner:{flag_hash(old)}").decode().endswith(":rotated")
    assert attempt(other, challenge, old).result == Result.WRONG
    assert CheatRecord.objects.get().kind == CheatKind.REPLAY
