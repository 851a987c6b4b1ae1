"""Benchmark: build_all over two nodes, fanned out against node after node; and
a rescan of 1,000 specs with two nodes.

The nodes issue's figures: "build_all of 10 challenges on 2 nodes takes about
as long as the slowest node, not the sum" and "a rescan of 1,000 specs with 2
nodes must finish in seconds".

Needs what `make test` starts: run it under `tests/services.sh` (as root), which
gives two Docker daemons (alpha on a Unix socket, beta on TCP with TLS),
PostgreSQL and Redis; images are built offline from Debian's busybox-static
(`apt-get install docker.io busybox-static`, or `make test-deps`). The script
makes a throw-away database (bench/_common.py), registers both nodes, and starts
a real Celery worker (thread pool) on Redis database 2.

  fan-out         build_all submitted to the worker: one sub-task per node, each
                  node building with its concurrency (2); submit to finished
  node after node the same build_all run in-process (Celery's eager mode): node
                  alpha's sub-task, then beta's; same code, same concurrency
  rescan          the rescan task through the worker: the catalog of N specs
                  loaded, then each node's inventory (one image listing, bulk
                  state writes); first on an empty database, then unchanged

Each build round writes a fresh nonce into every challenge, so every round
really builds (new content hash, new tag); the base layers are warmed first.

Run:  tests/services.sh .venv/bin/python bench/build_fanout.py \\
          [--challenges 10] [--rounds 3] [--seconds 1] [--specs 1000]
"""

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import (
    add_db_options,
    canary,
    load,
    start_worker,
    throwaway_database,
)

BUSYBOX = Path("/bin/busybox")


def hardware() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} vCPU ({model})"


def write_builds(root: Path, count: int, seconds: float) -> None:
    """`count` busybox challenges whose build runs `seconds` of work."""
    for i in range(count):
        folder = root / "fanout" / f"box-{i:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(BUSYBOX, folder / "busybox")
        (folder / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            "COPY nonce /nonce\n"
            # Some CPU and some waiting, as real builds (compile, download) have.
            f'RUN ["/bin/sh", "-c", "head -c 4000000 /dev/urandom | sha256sum '
            f'> /sum; sleep {seconds}"]\n'
        )
        (folder / "challenge.yml").write_text(
            f"name: Box {i:02d}\ncategory: pwn\nvalue: 100\ntype: standard\n"
            'flags: ["CTF{x}"]\nimage: .\n'
        )


def renonce(root: Path) -> None:
    for folder in (root / "fanout").iterdir():
        (folder / "nonce").write_text(uuid.uuid4().hex)


def write_specs(root: Path, count: int) -> None:
    """`count` specs from bench/rescan.py: a quarter built, a tenth pulled."""
    from rescan import CATEGORIES, spec_text

    rng = random.Random(7)
    for i in range(count):
        folder = root / "catalog" / CATEGORIES[i % len(CATEGORIES)] / f"chal-{i:04d}"
        text, files = spec_text(i, rng)
        for rel, body in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(body)
        folder.mkdir(parents=True, exist_ok=True)
        if i % 4 == 0:
            (folder / "Dockerfile").write_text("FROM scratch\nCOPY app.py /app.py\n")
            (folder / "app.py").write_text(f"print({i})\n" * 50)
            text += "image: .\n"
        elif i % 10 == 1:
            text += f"image: registry.example.org/ctf/chal-{i:04d}:1\n"
        (folder / "challenge.yml").write_text(text)


def wait(task) -> float:
    """Poll the task until it finishes; return seconds from its creation."""
    while True:
        task.refresh_from_db()
        if task.is_finished:
            return (task.finished_at - task.created_at).total_seconds()
        time.sleep(0.02)


def node_spans(task) -> dict[str, float]:
    """Seconds from each node's first unit start to its last unit end."""
    spans: dict[str, list] = {}
    for outcome in task.outcomes.select_related("node"):
        span = spans.setdefault(
            outcome.node.name, [outcome.started_at, outcome.finished_at]
        )
        span[0] = min(span[0], outcome.started_at)
        span[1] = max(span[1], outcome.finished_at)
    return {name: (end - start).total_seconds() for name, (start, end) in spans.items()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--challenges", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--seconds",
        type=float,
        default=1.0,
        help="sleep in each build's RUN step (default 1)",
    )
    parser.add_argument("--specs", type=int, default=1000)
    add_db_options(parser)
    args = parser.parse_args()
    if not os.environ.get("TEST_DOCKER_NODES") or not os.environ.get("REDIS_URL"):
        sys.exit(
            "run under tests/services.sh (as root): it starts the Docker "
            "daemons, PostgreSQL and Redis this needs"
        )
    if not BUSYBOX.exists():
        sys.exit("needs Debian's busybox-static (/bin/busybox)")
    work = Path(tempfile.mkdtemp(prefix="ctf-bench-fanout-"))
    os.environ["CATALOG_DIR"] = str(work / "catalog")
    os.environ["CELERY_BROKER_URL"] = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/2"
    os.environ["LOG_LEVEL"] = "WARNING"
    (work / "catalog").mkdir()
    print(
        f"{hardware()}; CPU canary (1e6-iteration loop): {canary():.1f} ms; "
        f"{load()}"
    )
    worker = None
    try:
        with throwaway_database(args.pg_db) as label:
            import redis

            from challenges.services import catalog_rescan
            from ctfplatform.celery import app
            from nodes.models import TaskKind
            from nodes.services.nodes import node_add
            from nodes.services.tasks import task_submit

            redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
            print(f"database: {label}")
            for item in json.loads(os.environ["TEST_DOCKER_NODES"]):
                pems = {
                    k: Path(item[k]).read_text()
                    for k in ("tls_ca", "tls_cert", "tls_key")
                    if k in item
                }
                node = node_add(name=item["name"], url=item["url"], **pems)
                print(f"node {node.name}: {node.status}, {node.status_detail}")
            worker = start_worker(work / "worker.log")

            def build_all(fanned_out: bool):
                app.conf.task_always_eager = not fanned_out
                task = task_submit(kind=TaskKind.BUILD_ALL)
                seconds = wait(task)
                app.conf.task_always_eager = True
                bad = [
                    o.message
                    for o in task.outcomes.all()
                    if o.status != "succeeded"
                    or o.message == "up to date: nothing rebuilt"
                ]
                if task.status != "succeeded" or bad:
                    sys.exit(f"build_all {task.status}: {task.error or bad[:3]}")
                return seconds, node_spans(task)

            catalog = work / "catalog"
            write_builds(catalog, args.challenges, args.seconds)
            app.conf.task_always_eager = True
            renonce(catalog)
            catalog_rescan()
            build_all(False)  # warm the base layers on both nodes, untimed
            results = {"fan-out": [], "node after node": []}
            spans = []
            for round_ in range(args.rounds):
                for mode in (
                    ("fan-out", "node after node")
                    if round_ % 2 == 0
                    else ("node after node", "fan-out")
                ):
                    renonce(catalog)
                    catalog_rescan()
                    seconds, per_node = build_all(mode == "fan-out")
                    results[mode].append(seconds)
                    if mode == "fan-out":
                        spans.append(max(per_node.values()))
                    print(
                        f"round {round_ + 1} {mode:>15}: {seconds:6.2f} s  "
                        + "  ".join(
                            f"{n} {s:.2f} s" for n, s in sorted(per_node.items())
                        )
                    )
            fan = statistics.median(results["fan-out"])
            seq = statistics.median(results["node after node"])
            print(
                f"\nbuild_all of {args.challenges} challenges on 2 nodes, median of "
                f"{args.rounds}: fan-out {fan:.2f} s, node after node {seq:.2f} s, "
                f"ratio {fan / seq:.2f}; slowest node within the fan-out "
                f"{statistics.median(spans):.2f} s"
            )

            shutil.rmtree(catalog / "fanout")
            write_specs(work, args.specs)
            for run in ("first", "unchanged"):
                app.conf.task_always_eager = False
                task = task_submit(kind=TaskKind.RESCAN)
                seconds = wait(task)
                app.conf.task_always_eager = True
                first_unit = min(o.started_at for o in task.outcomes.all())
                catalog_part = (first_unit - task.started_at).total_seconds()
                report = task.result["catalog"]
                print(
                    f"rescan of {args.specs} specs with 2 nodes, {run}: "
                    f"{seconds:.2f} s "
                    f"(catalog {catalog_part:.2f} s: {len(report['added'])} added, "
                    f"{len(report['unchanged'])} unchanged; inventory "
                    + ", ".join(
                        f"{n} {s:.2f} s" for n, s in sorted(node_spans(task).items())
                    )
                    + f"); {task.status}"
                )
                print("   ", "; ".join(o.message for o in task.outcomes.all()))
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"CPU canary after: {canary():.1f} ms; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
