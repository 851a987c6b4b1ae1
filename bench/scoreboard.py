"""Benchmark: the scoreboard (full page, htmx partial, chart data, CTFtime feed).

The scoreboard issue's figures, with 10,000 principals and 200,000 solves on a
2-core machine: the partial and the chart data answer in under 20 ms at p50 when
warm and under 100 ms when the cache is cold; the full page serves at least 10x
CTFd's HTML scoreboard (~90 req/s at concurrency 16, p50 180 ms), i.e. >= 900
req/s; a solve invalidates its own competition's board, not everything.

1. On a throw-away PostgreSQL database (named by DATABASE_URL, created from the
   `postgres` database, dropped at the end) and the Redis of REDIS_URL: migrate,
   then time `generate_fixture` (--principals/--challenges/--solves/--seed), or
   restore the pg_dump an earlier run kept in --fixture-cache.
2. In-process latency (test client, Host 127.0.0.1, DEBUG off): partial (anonymous
   and logged in as a mid-board solo player), chart data, full page and CTFtime
   feed, cold (`cache.clear()` before every call) and warm, p50/p95 over --runs;
   SQL queries per warm request; the cold path split into its parts.
3. Invalidation: a second competition with a few principals; one correct solve
   through `scoring.pipeline.submission_attempt` (static flag CTF{fx_<n>}) in the
   default one; shows both version keys, the next request's latency, the solver's
   new score on the board and that the other board is served from cache (0 SQL);
   then 8 concurrent requests right after a cache flush: how often the standings
   are computed (the rebuild lock should make it once).
4. For each gunicorn configuration (CLASS:WORKERS, DEBUG=false, ALLOWED_HOSTS=
   127.0.0.1): wrk -t1 at --connections for --warmup then --duration seconds on
   each target (full page and partial, anonymous and logged in, chart data, feed):
   req/s, p50, p90, p99, non-2xx, and the cores our processes (gunicorn, wrk, our
   PostgreSQL and Redis) and everything else on the machine used meanwhile.
5. cProfile of --profile warm requests of the full page (logged in): top functions.

Needs `wrk` (apt-get install wrk). Every request goes to 127.0.0.1 only. The
machine is shared: run it under the benchmark lock, one benchmark at a time.
Run:  flock /tmp/bench.lock tests/services.sh .venv/bin/python bench/scoreboard.py
"""

import argparse
import cProfile
import io
import os
import pickle
import pstats
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import (
    HOST,
    free_port,
    p,
    start_gunicorn,
    stop,
    throwaway_database,
)

TARGETS = [  # label, path, logged in
    ("full page, anonymous", "/scoreboard/", False),
    ("full page, logged in", "/scoreboard/", True),
    ("partial, anonymous", "/scoreboard/partial", False),
    ("partial, logged in", "/scoreboard/partial", True),
    ("chart data", "/scoreboard/chart-data", False),
    ("ctftime.json", "/scoreboard/ctftime.json", False),
]


def parse_args():
    db = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/") or "ctf"
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    ap.add_argument("--principals", type=int, default=10000)
    ap.add_argument("--challenges", type=int, default=100)
    ap.add_argument("--solves", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--runs",
        type=int,
        default=30,
        help="in-process calls per case (0: skip the in-process parts, 2 and 3)",
    )
    ap.add_argument(
        "--only", default="", help="HTTP targets whose label contains this text"
    )
    ap.add_argument(
        "-c",
        "--configs",
        nargs="*",
        default=["sync:2", "sync:4"],
        help="gunicorn CLASS:WORKERS (none: skip the HTTP runs)",
    )
    ap.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument(
        "--profile", type=int, default=300, help="cProfiled requests (0: none)"
    )
    ap.add_argument("--pg-db", default=db, help="database to create and drop")
    ap.add_argument(
        "--fixture-cache",
        default="/tmp/ctf-bench-fixtures",
        help="folder for a pg_dump of the generated fixture, reused by "
        "later runs with the same sizes and seed ('': none)",
    )
    return ap.parse_args()


def loadavg() -> str:
    """1-minute load average: other work on the machine skews every figure."""
    return Path("/proc/loadavg").read_text().split()[0]


def cpu_ticks() -> tuple[int, int]:
    """(busy ticks of the machine, ticks of this benchmark's processes): ours are
    this process's descendants and the PostgreSQL/Redis on our ports with theirs."""
    ports = [str(urlsplit(os.environ[v]).port) for v in ("DATABASE_URL", "REDIS_URL")]
    procs = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        root = stat.parent.name == str(os.getpid()) or any(
            f"-p {x} " in cmd or f":{x}" in cmd for x in ports
        )
        ticks = int(fields[11]) + int(fields[12])
        procs[int(stat.parent.name)] = (int(fields[1]), ticks, root)

    def ours(pid: int) -> bool:
        while pid in procs and not procs[pid][2]:
            pid = procs[pid][0]
        return pid in procs

    cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (
        sum(cpu) - cpu[3] - cpu[4],
        sum(t for pid, (_, t, _) in procs.items() if ours(pid)),
    )


def ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


# 1. Fixture -------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """A PostgreSQL client program matching the server (Debian's folder first)."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else name


def analyze() -> None:
    """Planner statistics, as autovacuum would have them on a live server."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def fixture(args) -> None:
    """Generate the fixture, or restore it from the dump a previous run kept.

    Generating takes 70 s or more; the dump (in --fixture-cache) takes a few.
    Migrations newer than the dump are applied after restoring it.
    """
    from django.core.management import call_command
    from django.db import connections

    from scoring.ledger import scores_verify

    url = os.environ["DATABASE_URL"]
    dump = None
    if args.fixture_cache:
        dump = Path(args.fixture_cache) / (
            f"scoreboard-{args.principals}-{args.challenges}-{args.solves}-"
            f"{args.seed}.dump"
        )
    start = time.perf_counter()
    if dump and dump.exists():
        connections.close_all()
        subprocess.run(
            [
                pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "-d",
                url,
                str(dump),
            ],
            check=True,
        )
        call_command("migrate", verbosity=0)
        analyze()
        print(f"fixture restored from {dump}: {ms(start) / 1000:.1f} s")
        return
    call_command(
        "generate_fixture",
        principals=args.principals,
        verbosity=0,
        challenges=args.challenges,
        solves=args.solves,
        seed=args.seed,
    )
    print(
        f"generate_fixture --principals {args.principals} --challenges "
        f"{args.challenges} --solves {args.solves}: {ms(start) / 1000:.1f} s"
    )
    # generate_fixture bulk-inserts solves and sets the totals, not the solve
    # counts: repair them as an operator would.
    start = time.perf_counter()
    print(
        f"verify_scores --fix: {len(scores_verify(fix=True))} principals "
        f"repaired in {ms(start) / 1000:.1f} s"
    )
    analyze()
    if dump:
        dump.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([pg_tool("pg_dump"), "-Fc", "-f", str(dump), url], check=True)
        print(f"fixture kept in {dump} for the next run")


def build_world(args) -> dict:
    from django.test import Client

    from challenges.models import Competition
    from scoring.models import Principal, PrincipalKind, Solve
    from scoring.scoreboard import standings

    fixture(args)
    print(f"{Solve.objects.count()} solves")
    competition = Competition.objects.default()
    rows = standings(competition)
    me = next(r for r in rows[len(rows) // 2 :] if r.kind == PrincipalKind.SOLO)
    client = Client(HTTP_HOST=HOST)
    principal = Principal.objects.select_related("user").get(pk=me.principal_id)
    assert client.login(username=principal.user.username, password="fixture-password")
    print(f"logged-in player: {principal.user.username}, rank {me.rank} of {len(rows)}")
    return {
        "competition": competition,
        "principal": principal,
        "user": client,
        "anon": Client(HTTP_HOST=HOST),
        "rows": len(rows),
    }


# 2. In-process latency ----------------------------------------------------------


def get(client, path: str):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response


def latency(client, path: str, runs: int, cold: bool) -> tuple[list[float], int]:
    from django.core.cache import cache

    times, size = [], 0
    get(client, path)
    for _ in range(runs):
        if cold:
            cache.clear()
        start = time.perf_counter()
        size = len(get(client, path).content)
        times.append(ms(start))
    return times, size


def in_process(args, world) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    print(
        f"\n## In-process latency (test client, {args.runs} runs, ms; "
        f"loadavg {loadavg()})\n"
    )
    print("| request | cold p50 | cold p95 | warm p50 | warm p95 | bytes | SQL warm |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    cases = [
        ("partial, anonymous", "/scoreboard/partial", "anon"),
        ("partial, logged in", "/scoreboard/partial", "user"),
        ("chart data", "/scoreboard/chart-data", "anon"),
        ("full page, anonymous", "/scoreboard/", "anon"),
        ("full page, logged in", "/scoreboard/", "user"),
        ("ctftime.json", "/scoreboard/ctftime.json", "anon"),
    ]
    for label, path, who in cases:
        cold, _ = latency(world[who], path, args.runs, cold=True)
        warm, size = latency(world[who], path, args.runs, cold=False)
        with CaptureQueriesContext(connection) as queries:
            get(world[who], path)
        print(
            f"| {label} | {p(cold, 0.5):.1f} | {p(cold, 0.95):.1f} "
            f"| {p(warm, 0.5):.2f} | {p(warm, 0.95):.2f} | {size} | {len(queries)} |"
        )
    breakdown(args, world)


def breakdown(args, world) -> None:
    """The cold path's parts, and what a warm hit costs."""
    from django.contrib.auth.models import AnonymousUser
    from django.core.cache import cache
    from django.db import connection
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from scoring import scoreboard as sb
    from scoring import scoreboard_views as views

    competition, parts = world["competition"], {}

    def part(name, fn):
        times = []
        for _ in range(max(5, args.runs // 3)):
            start = time.perf_counter()
            result = fn()
            times.append(ms(start))
        parts[name] = p(times, 0.5)
        return result

    tuples = part(
        "SQL: ranked principals, score with the dynamic drift (_live)",
        lambda: sb._live(competition, None),
    )
    rows = part(
        "Python: 10,000 Row tuples + principal index",
        lambda: {r.principal_id: r for r in map(sb.Row._make, tuples)},
    )
    part(
        "cache.set(rows as tuples) (pickle + Redis)",
        lambda: cache.set("bench:rows", tuples),
    )
    part(
        "cache.get(rows as tuples) (Redis + unpickle; once per version and worker)",
        lambda: cache.get("bench:rows"),
    )
    part(
        "cache.get(version key) (one Redis round trip; every request)",
        lambda: cache.get(f"sb:v:{competition.pk}"),
    )
    part("board() warm (version GET + memory)", lambda: sb.board(competition))
    request = RequestFactory().get("/scoreboard/partial", HTTP_HOST=HOST)
    request.user = AnonymousUser()
    page = views._table_context(request)["page"]
    part(
        "render _scoreboard_table.html (50 rows; once per version and page)",
        lambda: render_to_string(
            "scoring/_scoreboard_table.html",
            {"page": page, "filter": "all", "live": False},
        ),
    )
    current = sb.board(competition)
    chart_key = f"sb:chart:{current.key}"

    def chart_cold():
        sb._memo[competition.pk][1].pop(chart_key, None)
        cache.delete(chart_key)
        return sb.chart_json(competition)

    part("chart_json() cold board warm (build + encode; once per version)", chart_cold)
    part("chart_json() warm (memory)", lambda: sb.chart_json(competition))
    sql, params = sb.live_sql(competition, None)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN ANALYZE " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    print(
        f"\n## Where a cold board goes ({len(rows)} rows, pickled "
        f"{len(pickle.dumps(tuples))} bytes as tuples; p50 ms)\n"
    )
    print("| part | ms |\n|---|---:|")
    for name, value in parts.items():
        print(f"| {name} | {value:.2f} |")
    print(
        "\nPostgreSQL plan of the standings query:\n```\n" + "\n".join(plan) + "\n```"
    )


def stampede(world, threads: int = 8) -> None:
    """`threads` requests at once on a cold board: how many compute it."""
    import threading

    from django.core.cache import cache
    from django.db import connections
    from django.test import Client

    from scoring import scoreboard as sb

    built, live = [], sb._live

    def counting(*a, **kw):
        built.append(1)
        return live(*a, **kw)

    sb._live = counting
    sb._memo.clear()
    cache.clear()
    times = []

    def one():
        start = time.perf_counter()
        get(Client(HTTP_HOST=HOST), "/scoreboard/partial")
        times.append(ms(start))
        connections.close_all()

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sb._live = live
    print(
        f"\n## Cold stampede: {threads} concurrent partial requests (threads) "
        f"right after a cache flush: standings computed {len(built)} time(s); "
        f"slowest answer {max(times):.0f} ms"
    )


# 3. Invalidation ---------------------------------------------------------------


def invalidation(world) -> None:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from challenges.models import Competition, Question
    from scoring.models import Principal, PrincipalKind, Solve
    from scoring.pipeline import submission_attempt
    from scoring.scoreboard import board, standings

    comp, principal = world["competition"], world["principal"]
    other = Competition.objects.create(name="Bench other", slug="bench-other")
    users = User.objects.bulk_create(
        User(username=f"bench-other-{i}") for i in range(5)
    )
    Principal.objects.bulk_create(
        Principal(
            competition=other, kind=PrincipalKind.SOLO, user=u, ledger_total=100 * i
        )
        for i, u in enumerate(users)
    )
    solved = set(
        Solve.objects.filter(principal=principal).values_list("question_id", flat=True)
    )
    questions = Question.objects.select_related("challenge").order_by("pk")
    question = next(
        q for q in questions if q.pk not in solved and q.flags[0]["kind"] == "static"
    )
    cache.clear()
    get(world["anon"], "/scoreboard/partial")
    before_other = standings(other)
    before = board(comp).by_principal[principal.pk]
    keys = [f"sb:v:{comp.pk}", f"sb:v:{other.pk}"]
    versions = [cache.get(k) for k in keys]
    start = time.perf_counter()
    try:
        attempt = submission_attempt(
            user=principal.user,
            challenge=question.challenge,
            flag=question.flags[0]["content"],
            question=question,
        )
    except Exception as error:  # the pipeline is another engineer's work in progress
        print(f"\n## Invalidation after one solve\n\n- the solve failed: {error!r}")
        return
    solve_ms = ms(start)
    after_versions = [cache.get(k) for k in keys]
    start = time.perf_counter()
    get(world["anon"], "/scoreboard/partial")
    next_ms = ms(start)
    start = time.perf_counter()
    get(world["anon"], "/scoreboard/partial")
    then_ms = ms(start)
    after = board(comp).by_principal[principal.pk]
    with CaptureQueriesContext(connection) as queries:
        other_rows = standings(other)
    print("\n## Invalidation after one solve\n")
    print(
        f"- solve: {attempt.result} +{attempt.points} ({question.challenge.name}) "
        f"for {principal} in {solve_ms:.1f} ms"
    )
    bumps = [new - old for old, new in zip(versions, after_versions, strict=True)]
    print(
        f"- version key {keys[0]} (this competition): +{bumps[0]}; "
        f"{keys[1]} (other): +{bumps[1]}"
    )
    print(
        f"- next /scoreboard/partial: {next_ms:.1f} ms; the one after: {then_ms:.1f} ms"
    )
    print(
        f"- solver on the board: rank {before.rank}, score {before.score} -> rank "
        f"{after.rank}, score {after.score} "
        f"({'updated' if after.score > before.score else 'STALE'})"
    )
    print(
        f"- other competition's board: {len(queries)} SQL queries, "
        f"{'same rows from cache' if other_rows == before_other else 'CHANGED'}"
    )


# 4. HTTP load ------------------------------------------------------------------


def to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[unit]


def run_wrk(port: int, path: str, cookie: str | None, seconds: int, conns: int) -> dict:
    cmd = [
        "wrk",
        "-t",
        "1",
        "-c",
        str(conns),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        f"http://{HOST}:{port}{path}",
    ]
    if cookie:
        cmd += ["-H", f"Cookie: sessionid={cookie}"]
    before, start = cpu_ticks(), time.monotonic()
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 60
    ).stdout
    after, hz = cpu_ticks(), os.sysconf("SC_CLK_TCK") * (time.monotonic() - start)
    busy, ours = ((y - x) / hz for x, y in zip(before, after, strict=True))
    stats = {
        f"p{q}": to_ms(v)
        for q, v in re.findall(r"^\s+(50|90|99)%\s+([\d.]+[mu]?s)", out, re.M)
    }
    stats["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    stats["bad"] = (int(bad.group(1)) if bad else 0, errors.group(1) if errors else "")
    stats["cpu"] = f"{ours:.2f} / {busy - ours:.2f}"
    stats["per_core"] = stats["rps"] / max(ours, 0.01)
    return stats


def load(args, world) -> None:
    import urllib.request

    cookie = world["user"].cookies["sessionid"].value
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs:
            port = free_port()
            log = Path(tmp) / "gunicorn.log"
            proc = start_gunicorn(
                config,
                args.threads,
                port,
                log,
                probe="/scoreboard/ctftime.json",
            )
            try:  # a failing configuration is reported, the others still run
                request = urllib.request.Request(
                    f"http://{HOST}:{port}/scoreboard/",
                    headers={"Cookie": f"sessionid={cookie}"},
                )
                body = urllib.request.urlopen(request, timeout=30).read().decode()
                assert world["principal"].user.username in body, "cookie not logged in"
                for label, path, logged_in in TARGETS:
                    if args.only not in label:
                        continue
                    sid = cookie if logged_in else None
                    run_wrk(port, path, sid, args.warmup, args.connections)
                    rows.append(
                        (
                            config,
                            label,
                            run_wrk(port, path, sid, args.duration, args.connections),
                        )
                    )
                    print(config, label, rows[-1][2], flush=True)
            except (OSError, AssertionError) as error:
                print(f"{config} failed: {error!r}; see the log below")
                print(log.read_text()[-3000:])
            finally:
                stop(proc)
    print(
        f"\n## HTTP: wrk -t1 -c{args.connections} -d{args.duration}s after "
        f"{args.warmup} s warm-up (ms; loadavg at the end {loadavg()})\n"
    )
    print(
        "| gunicorn | target | req/s | p50 | p90 | p99 | non-2xx / socket errors "
        "| cores used: ours / others | req per core-s (ours) |"
    )
    print("|---|---|---:|---:|---:|---:|---|---|---:|")
    for config, label, s in rows:
        bad = f"{s['bad'][0]} {s['bad'][1]}".strip()
        print(
            f"| {config} | {label} | {s['rps']:.0f} | {s['p50']:.1f} "
            f"| {s['p90']:.1f} | {s['p99']:.1f} | {bad} | {s['cpu']} "
            f"| {s['per_core']:.0f} |"
        )


# 5. Profile --------------------------------------------------------------------


def profile(args, world) -> None:
    get(world["user"], "/scoreboard/")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.profile):
        get(world["user"], "/scoreboard/")
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    print(
        f"\n## cProfile: {args.profile} warm full-page requests (logged in), "
        f"by own time\n\n```\n{out.getvalue().strip()}\n```"
    )


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # run finally:
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        sys.exit("Set DATABASE_URL and REDIS_URL (run through tests/services.sh).")
    print(f"loadavg at start: {Path('/proc/loadavg').read_text().strip()}")
    with throwaway_database(args.pg_db) as label:
        print(f"Database: {label}")
        world = build_world(args)
        if args.runs:
            in_process(args, world)
            invalidation(world)
            stampede(world)
        if args.profile:
            profile(args, world)
        if args.configs:
            load(args, world)


if __name__ == "__main__":
    main()
