"""Benchmark: per-team instances, request to running, on warm nodes.

The instances issue's figures: "median request-to-running time on a warm node
... aim under 1 s end to end; report p50 and p95" and "fifty principals
pressing start within one second must neither fail nor exceed node capacity;
report how long the last one waits".

Starts its own services: run outside the harness, it runs itself again under
`tests/services.sh` (as root: PostgreSQL, Redis, two Docker daemons). It makes
a throw-away database, registers both nodes, builds one busybox challenge (an
`nc` server answering with $FLAG) on both, and starts a real Celery worker
(thread pool) on Redis database 2. The request side is `instance_start`, as
the challenge page calls it: it creates the `starting` row and queues the
start; the worker places, starts and marks it running.

  warm      --warm starts one after the other (a new principal each), each
            stopped once running: request -> running (the row's latency_ms)
  burst     --burst principals press start at random moments within one
            second; the nodes' capacities add up to exactly --burst, so every
            place is needed and none may be exceeded (sampled all along)

Exits non-zero on any failed start, a node over capacity, or a container left
behind. Run:  .venv/bin/python bench/instances.py [--warm 20] [--burst 50]
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from _common import (
    ROOT,
    add_db_options,
    canary,
    load,
    p,
    start_worker,
    throwaway_database,
)

BUSYBOX = Path("/bin/busybox")
SERVE = (
    'ENTRYPOINT ["sh", "-c", "mkdir -p /tmp; echo \\"$FLAG\\" > /tmp/reply; '
    'exec nc -ll -p 9000 -e cat /tmp/reply"]'
)


def hardware() -> str:
    model = "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{os.cpu_count()} vCPU ({model})"


def write_challenge(catalog: Path) -> None:
    folder = catalog / "bench" / "echo"
    folder.mkdir(parents=True)
    shutil.copy(BUSYBOX, folder / "busybox")
    (folder / "nonce").write_text(uuid.uuid4().hex)
    (folder / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        f"COPY nonce /nonce\n{SERVE}\n"
    )
    (folder / "challenge.yml").write_text(
        "name: Echo\ncategory: pwn\nvalue: 100\ntype: standard\n"
        'flags: [{type: derived, template: "CTF{echo_{hash}}"}]\n'
        "image: .\ninstance: {ports: [9000]}\n"
    )


def wait_running(ids: list[int], timeout: float = 300) -> list:
    from nodes.models import Instance, InstanceStatus

    deadline = time.monotonic() + timeout
    while True:
        rows = list(Instance.objects.filter(pk__in=ids))
        if all(r.status != InstanceStatus.STARTING for r in rows):
            return rows
        if time.monotonic() > deadline:
            sys.exit(f"instances still starting after {timeout} s")
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--burst", type=int, default=50)
    add_db_options(parser)
    args = parser.parse_args()
    if not os.environ.get("TEST_DOCKER_NODES"):
        if os.geteuid() != 0:
            sys.exit("run as root: tests/services.sh starts Docker daemons")
        script = ROOT / "tests" / "services.sh"
        return subprocess.call([str(script), sys.executable, *sys.argv])
    if not BUSYBOX.exists():
        sys.exit("needs Debian's busybox-static (/bin/busybox)")
    work = Path(tempfile.mkdtemp(prefix="ctf-bench-instances-"))
    os.environ["CATALOG_DIR"] = str(work / "catalog")
    os.environ["CELERY_BROKER_URL"] = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/2"
    os.environ["LOG_LEVEL"] = "WARNING"
    write_challenge(work / "catalog")
    print(f"{hardware()}; CPU canary {canary():.1f} ms; {load()}")
    worker = None
    failures: list[str] = []
    try:
        with throwaway_database(args.pg_db) as label:
            import redis

            from accounts.models import User
            from challenges.models import Challenge
            from challenges.services import catalog_rescan
            from ctfplatform.celery import app
            from nodes.models import PLACED, Instance, InstanceStatus, Node
            from nodes.plans import challenge_plan
            from nodes.services.images import challenge_build
            from nodes.services.instances import instance_start, instance_stop
            from nodes.services.nodes import node_add

            redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
            print(f"database: {label}")
            report = catalog_rescan(catalog=work / "catalog")
            assert not report.rejected, report.rejected
            challenge = Challenge.objects.get(identity="bench/echo")
            nodes = []
            for item in json.loads(os.environ["TEST_DOCKER_NODES"]):
                pems = {
                    k: Path(item[k]).read_text()
                    for k in ("tls_ca", "tls_cert", "tls_key")
                    if k in item
                }
                node = node_add(name=item["name"], url=item["url"], **pems)
                plan = challenge_plan(challenge, work / "catalog")
                outcome = challenge_build(node=node, plan=plan, challenge=challenge)
                assert outcome.ok, outcome.message
                nodes.append(node)
                print(f"node {node.name}: {node.status_detail}; image built")
            app.conf.task_always_eager = False
            worker = start_worker(work / "worker.log")

            def principal_user(name: str) -> User:
                return User.objects.create_user(username=name, email=f"{name}@x.org")

            # Warm: one node (the first), one start at a time.
            Node.objects.exclude(pk=nodes[0].pk).update(enabled=False)
            warm, seen = [], []
            for n in range(args.warm):
                user = principal_user(f"warm{n}")
                t0 = time.perf_counter()
                instance = instance_start(user=user, challenge=challenge)
                [row] = wait_running([instance.pk])
                seen.append((time.perf_counter() - t0) * 1000)
                if row.status != InstanceStatus.RUNNING:
                    failures.append(f"warm start {n}: {row.status} {row.error}")
                    continue
                warm.append(row.latency_ms)
                instance_stop(instance=row, actor=user)
            if warm:
                print(
                    f"warm ({nodes[0].name}, {len(warm)} starts): request->running "
                    f"p50 {statistics.median(warm):.0f} ms, p95 {p(warm, 0.95):.0f} ms"
                    f"; seen by a 10 ms poller p50 {statistics.median(seen):.0f} ms"
                )
            wait_stopped(Instance)

            # Burst: every node, capacities adding up to the burst exactly.
            Node.objects.update(enabled=True)
            share, extra = divmod(args.burst, len(nodes))
            capacity = {}
            for index, node in enumerate(nodes):
                capacity[node.pk] = share + (1 if index < extra else 0)
                Node.objects.filter(pk=node.pk).update(capacity=capacity[node.pk])
            users = [principal_user(f"burst{n}") for n in range(args.burst)]
            over: list[str] = []
            done = threading.Event()

            def sample() -> None:
                from django.db import connection
                from django.db.models import Count

                while not done.is_set():
                    counts = (
                        Instance.objects.filter(status__in=PLACED)
                        .values("node")
                        .annotate(n=Count("pk"))
                    )
                    for c in counts:
                        if c["node"] and c["n"] > capacity[c["node"]]:
                            over.append(f"node {c['node']}: {c['n']}")
                    time.sleep(0.02)
                connection.close()

            ids: list[int] = []
            lock = threading.Lock()

            def press(user) -> None:
                from django.db import connection

                time.sleep(random.random())  # noqa: S311
                try:
                    instance = instance_start(user=user, challenge=challenge)
                    with lock:
                        ids.append(instance.pk)
                except Exception as error:  # noqa: BLE001 (counted as a failure)
                    failures.append(f"{user}: {error}")
                finally:
                    connection.close()

            sampler = threading.Thread(target=sample)
            sampler.start()
            t0 = time.perf_counter()
            presses = [threading.Thread(target=press, args=(u,)) for u in users]
            for thread in presses:
                thread.start()
            for thread in presses:
                thread.join()
            rows = wait_running(ids)
            wall = time.perf_counter() - t0
            done.set()
            sampler.join()
            ran = [r for r in rows if r.status == InstanceStatus.RUNNING]
            failures += [f"burst: {r.status} {r.error}" for r in rows if r not in ran]
            failures += [f"over capacity: {o}" for o in over[:5]]
            latencies = [r.latency_ms for r in ran]
            per_node = {}
            for r in ran:
                per_node[r.node_id] = per_node.get(r.node_id, 0) + 1
            if latencies:
                print(
                    f"burst ({args.burst} principals within 1 s, capacities "
                    f"{sorted(capacity.values())}): {len(ran)} running, per node "
                    f"{sorted(per_node.values())}; request->running p50 "
                    f"{statistics.median(latencies):.0f} ms, p95 "
                    f"{p(latencies, 0.95):.0f} ms, the last one waited "
                    f"{max(latencies):.0f} ms; all running {wall:.1f} s after the "
                    f"first press; over capacity: {len(over)} samples"
                )
            for r in ran:
                instance_stop(instance=r, actor=None)
            wait_stopped(Instance)
            for item in json.loads(os.environ["TEST_DOCKER_NODES"]):
                socket_url = item.get("socket", item["url"])
                left = subprocess.run(
                    ["docker", "-H", socket_url, "ps", "-aq"]
                    + ["--filter", "label=ctf.instance"],
                    capture_output=True,
                    text=True,
                ).stdout.split()
                if left:
                    failures.append(f"{len(left)} container(s) left on {item['name']}")
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, 15)
            worker.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"CPU canary after: {canary():.1f} ms; {load()}")
    for failure in failures[:20]:
        print("FAILED:", failure)
    return 1 if failures else 0


def wait_stopped(Instance) -> None:  # noqa: N803 (the model class)
    deadline = time.monotonic() + 120
    while Instance.objects.filter(status="stopping").exists():
        if time.monotonic() > deadline:
            sys.exit("instances still stopping after 120 s")
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
