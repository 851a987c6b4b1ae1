"""Benchmark: flag submissions over HTTP against the production set-up.

The scoring issue's figure: at concurrency 16 on a 2-core machine, at least 500
submissions/s with a p99 under 50 ms (CTFd 3.8: ~50/s, p50 ~330 ms, p99 ~850 ms).

1. On a throw-away PostgreSQL database (named by DATABASE_URL, created from the
   `postgres` database, dropped at the end) and the Redis of REDIS_URL: migrate,
   `generate_fixture`, ban policy "record", one API token per principal, and
   request pools: ~85% wrong flags, ~10% correct flags of unsolved questions
   (each pair sent once), ~5% another principal's derived flag (shared).
2. In process (Django test client): SQL queries and Redis round trips of single
   requests, and the serial time of one wrong submission.
3. For each gunicorn configuration (`-c` CLASS:WORKERS): starts
   `gunicorn ctfplatform.wsgi` on 127.0.0.1 (DEBUG=false), clears lockouts,
   runs wrk with bench/submissions/attempt.lua at `--connections` for
   `--warmup` seconds (long enough that every principal was seen: the state of
   an event under way), then `--duration` seconds, with the competition's rate
   limit at `--rate-limit` (lockouts off by default, so the mix is what was
   sent), and records req/s, latency percentiles, the answers, new Submission
   rows by result and the CPU used per process group.
4. Re-runs the best configuration under `py-spy record --idle` (every worker)
   and prints where the workers spend their time.
5. Stops gunicorn, wrk and py-spy, drops the database.

Scenarios: `wrong-heavy` (the scoring issue: 10,000 principals, 85% wrong,
10% correct, 5% shared) and `correct-heavy` (the deadlock issue: 1,000
principals, 50 challenges of which 10 dynamic, 5,000 solves, 50% correct).
Any 5xx answer or socket error makes the run exit 1, whatever its throughput.

`--compare PATH` runs each configuration twice in one go, against the code at
PATH (e.g. `git worktree add /tmp/old <commit> && make -C /tmp/old install`: each
checkout runs in its own .venv) and against this checkout, each on its own
throw-away database and a new server, and prints the ratios. The code under
test can also be chosen with BENCH_APP_ROOT=PATH.

Needs `wrk` (apt-get install wrk) and, for step 4, py-spy in the venv.
Run:  tests/services.sh .venv/bin/python bench/submissions.py [options]
"""

import argparse
import collections
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

SCRIPT = Path(__file__).resolve()  # before _common changes the directory
from _common import (  # noqa: E402
    REPO,
    ROOT,
    VENV,
    canary,
    free_port,
    start_gunicorn,
    stop,
    throwaway_database,
)

HERE = SCRIPT.parent / "submissions"
sys.path.insert(0, str(HERE))
from measure import in_process, spy_report  # noqa: E402

RESERVED = 100  # principals kept out of the load, for measure.in_process


def parse_args():
    db = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/") or "ctf"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), default="wrong-heavy",
                    help="defaults for the world and the mix (options below win)")
    ap.add_argument("--principals", type=int)
    ap.add_argument("--challenges", type=int, default=50)
    ap.add_argument("--solves", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mix", help="percent wrong,correct,shared")
    ap.add_argument("-c", "--configs", nargs="+", default=[
        "sync:2", "sync:3", "gthread:2"],
        help="gunicorn CLASS:WORKERS (gthread workers get --threads)")
    ap.add_argument("--compare", metavar="PATH",
                    help="also run every configuration against the code at PATH")
    ap.add_argument("--json-out", help=argparse.SUPPRESS)  # a --compare child
    ap.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    ap.add_argument("--rate-limit", type=int, default=1000,
                    help="wrong flags in the window before a lockout, during the "
                    "load (the default 3 makes the share of cheap 429 answers grow "
                    "with the throughput in a closed-loop test: 8-24%% was seen)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--warmup", type=int,
                    help="seconds of load first, so every principal was seen")
    ap.add_argument("--rate-guess", type=int, default=1000,
                    help="requests pooled per second of load (the pool wraps after)")
    ap.add_argument("--profile", type=int, default=15, help="py-spy seconds (0: none)")
    ap.add_argument("--pg-db", default=db, help="database to create and drop")
    args = ap.parse_args()
    for key, value in SCENARIOS[args.scenario].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


SCENARIOS = {
    "wrong-heavy": {"principals": 10000, "solves": 20000, "mix": "85,10,5",
                    "warmup": 60},
    # Few principals, so pairs to solve run out: a shorter warm-up (every
    # principal is still seen many times by every worker).
    "correct-heavy": {"principals": 1000, "solves": 5000, "mix": "50,50,0",
                      "warmup": 15},
}


# 1. Fixture, tokens and request pools ------------------------------------------

def build_world(args) -> dict:
    from django.core.management import call_command

    from accounts.models import APIToken
    from accounts.services import TOKEN_PREFIX, _hash_token
    from challenges.models import Competition, Question
    from scoring.models import Principal, Solve, TeamFlag

    if os.environ.get("REDIS_URL"):  # an earlier run's copies (solved sets) are stale
        import redis
        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    t0 = time.perf_counter()
    call_command("generate_fixture", principals=args.principals, verbosity=0,
                 challenges=args.challenges, solves=args.solves, seed=args.seed)
    Competition.objects.filter(is_default=True).update(ban_policy="record")
    tokens, rows = {}, []
    for pk, user, captain in Principal.objects.values_list("pk", "user_id",
                                                           "team__captain_id"):
        tokens[pk] = raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        rows.append(APIToken(user_id=user or captain, name="bench", prefix=raw[:10],
                             key_hash=_hash_token(raw)))
    APIToken.objects.bulk_create(rows, batch_size=5000)
    questions = {pk: (challenge, flags[0]["kind"], flags[0]["content"]) for
                 pk, challenge, flags in Question.objects.values_list(
                     "pk", "challenge_id", "flags")}
    own = collections.defaultdict(dict)
    for p, q, v in TeamFlag.objects.values_list("principal_id", "question_id", "value"):
        own[q][p] = v
    print(f"fixture and {len(tokens)} tokens in {time.perf_counter() - t0:.1f} s")
    principals = sorted(tokens)
    return {"tokens": tokens, "questions": questions, "own": own, "qs": list(questions),
            "players": principals[:-RESERVED], "reserved": principals[-RESERVED:],
            "derived": [q for q, v in questions.items() if v[1] == "derived"],
            "dynamic": set(Question.objects.filter(
                challenge__type="dynamic").values_list("pk", flat=True)),
            "used": set(Solve.objects.values_list("principal_id", "question_id"))}


def pick(world, rng, kind: str, players=None) -> tuple[int, int, str]:
    """(principal, question, flag) of `kind` on a question the principal has not
    solved; a correct pair is marked used, so it is sent once."""
    players = players or world["players"]
    while True:
        p = rng.choice(players)
        q = rng.choice(world["derived" if kind == "shared" else "qs"])
        other = rng.choice(world["players"])
        if (p, q) in world["used"] or (kind == "shared" and other == p):
            continue
        if kind == "wrong":
            return p, q, f"CTF{{nope_{rng.getrandbits(48):012x}}}"
        if kind == "shared":
            return p, q, world["own"][q][other]
        world["used"].add((p, q))
        _, how, flag = world["questions"][q]
        return p, q, world["own"][q][p] if how == "derived" else flag


def write_pool(world, rng, mix, n: int, path: Path) -> None:
    with path.open("w") as f:
        for kind in rng.choices(("wrong", "correct", "shared"), weights=mix, k=n):
            p, q, flag = pick(world, rng, kind)
            f.write(f"/api/v1/challenges/{world['questions'][q][0]}/attempt\t"
                    f"{world['tokens'][p]}\t{json.dumps({'flag': flag})}\n")


# 3. Load ---------------------------------------------------------------------

def run_wrk(port: int, pool: Path, seconds: int, connections: int) -> dict:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
           "-s", str(HERE / "attempt.lua"), f"http://127.0.0.1:{port}", "--",
           str(pool), "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_JSON ")), "")
    if not line:
        sys.exit(f"wrk failed: {out.stdout}\n{out.stderr}")
    return json.loads(line[9:])


def cpu_ticks(pg_db: str) -> dict[int, tuple[str, int]]:
    """pid -> (group, utime + stime) of every process; "postgres" is only this
    benchmark's database's backends (other test servers on the box are "other")."""
    ticks, mine = {}, ("postgres", "gunicorn", "wrk", "redis-server")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeError):
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        if name == "postgres" and f" {pg_db} " not in cmd:
            name = "other"
        ticks[int(stat.parent.name)] = (name if name in mine else "other",
                                        int(fields[11]) + int(fields[12]))
    return ticks


def cpu_by_group(before, after, seconds: float) -> dict[str, float]:
    """Cores used per group over `seconds`."""
    hz, used = os.sysconf("SC_CLK_TCK"), collections.Counter()
    for pid, (group, t) in after.items():
        used[group] += t - before.get(pid, (group, 0))[1]
    return {k: round(v / hz / seconds, 2) for k, v in used.most_common()}


def reset_limits() -> None:
    from django_redis import get_redis_connection

    r = get_redis_connection("default")
    for pattern in ("lock:*", "wrong:*"):
        keys = list(r.scan_iter(pattern, count=5000))
        for i in range(0, len(keys), 1000):
            r.delete(*keys[i:i + 1000])


def submission_counts() -> collections.Counter:
    from django.db.models import Count

    from scoring.models import Submission

    rows = Submission.objects.values("result").annotate(n=Count("pk"))
    return collections.Counter({row["result"]: row["n"] for row in rows})


def drain(limit: float = 60) -> None:
    """Wait until the server stops writing Submission rows (requests that wrk
    left queued when it stopped), at most `limit` seconds."""
    from scoring.models import Submission

    last, deadline = -1, time.monotonic() + limit
    while time.monotonic() < deadline and last != (n := Submission.objects.count()):
        last = n
        time.sleep(1)


def load_run(args, world, rng, mix, config, tmp: Path, profile: int = 0) -> dict:
    port, log, seconds = free_port(), tmp / "gunicorn.log", profile or args.duration
    write_pool(world, rng, mix, args.rate_guess * args.warmup, tmp / "warm")
    write_pool(world, rng, mix, args.rate_guess * seconds, tmp / "pool")
    reset_limits()
    proc = start_gunicorn(config, args.threads, port, log, probe="/api/v1/me")
    spy = None
    try:
        run_wrk(port, tmp / "warm", args.warmup, args.connections)
        drain()
        before, ticks, t0 = submission_counts(), cpu_ticks(args.pg_db), time.monotonic()
        load = os.getloadavg()[0]
        if profile:
            spy = subprocess.Popen(
                [str(VENV / "py-spy"), "record", "--idle", "--nonblocking", "-s",
                 "-r", "100", "-d", str(profile), "-f", "raw", "-o", str(tmp / "spy"),
                 "-p", str(proc.pid)], stdout=subprocess.DEVNULL,
                stderr=(tmp / "spy.log").open("w"))
        stats = run_wrk(port, tmp / "pool", seconds, args.connections)
        stats["cpu"] = cpu_by_group(ticks, cpu_ticks(args.pg_db),
                                    time.monotonic() - t0)
        drain()
        stats["rows"] = dict(submission_counts() - before)
        if spy:
            spy.wait(timeout=60)
    finally:
        if spy and spy.poll() is None:
            spy.kill()
        stop(proc)
    stats.update(config=config, load=f"{load:.1f}",
                 rps=stats["requests"] / stats["duration_us"] * 1e6)
    return stats


# 4. Report ---------------------------------------------------------------------

def git_state() -> str:
    def git(*cmd):
        return subprocess.run(["git", "-C", str(ROOT), *cmd], capture_output=True,
                              text=True).stdout
    dirty = git("status", "--short", "--", "accounts", "challenges", "scoring",
                "ctfplatform").split()[1::2]
    return (f"commit {git('rev-parse', '--short', 'HEAD').strip()} + uncommitted: "
            + (" ".join(dirty) or "none"))


def failures(s: dict) -> int:
    """Socket errors and 5xx answers of a run: any of them fails the benchmark."""
    errors = sum(v for k, v in s["errors"].items() if k != "status")
    return errors + sum(v for k, v in s["results"].items() if k.startswith("http_5"))


def print_load(args, results) -> None:
    print(f"\n## Load: wrk -t1 -c{args.connections} -d{args.duration}s (after "
          f"{args.warmup} s warm-up), mix {args.mix} wrong/correct/shared\n")
    print("| gunicorn | req/s | p50 ms | p90 ms | p99 ms | max ms | errors (socket, "
          "5xx) | 429 % | answers | new Submission rows | cores used | load avg |")
    print("|---" * 12 + "|")
    for s in results:
        errors = failures(s)
        limited = 100 * s["results"].get("rate_limited", 0) / max(s["requests"], 1)
        ms = [f"{s[k] / 1000:.1f}" for k in ("p50", "p90", "p99", "max")]
        print(f"| {s['config']} | {s['rps']:.1f} | {' | '.join(ms)} | {errors} "
              f"| {limited:.1f} | {s['results']} | {s['rows']} | {s['cpu']} "
              f"| {s['load']} |", flush=True)


def print_compare(args, pairs) -> None:
    print(f"\n## Side by side: {args.compare} (old) against {REPO} (new), "
          f"mix {args.mix}, {args.principals} principals, c{args.connections}\n")
    print("| gunicorn | old req/s | new req/s | new/old | old p50 / p99 ms | "
          "new p50 / p99 ms | old CPU ms/req | new CPU ms/req | old errors | "
          "new errors |")
    print("|---" * 10 + "|")
    for config, old, new in pairs:
        def cpu(s):  # every core the run used (server, database, Redis)
            cores = sum(v for k, v in s["cpu"].items() if k != "other")
            return 1000 * cores / max(s["rps"], 1e-9)

        def lat(s):
            return f"{s['p50'] / 1000:.1f} / {s['p99'] / 1000:.1f}"
        print(f"| {config} | {old['rps']:.0f} | {new['rps']:.0f} | "
              f"{new['rps'] / max(old['rps'], 1e-9):.2f} | {lat(old)} | {lat(new)} | "
              f"{cpu(old):.2f} | {cpu(new):.2f} | {failures(old)} | {failures(new)} |")


def compare(args) -> None:
    """Parent of --compare: one child per (configuration, code), alternating."""
    pairs = []
    for config in args.configs:
        runs = {}
        for label, root in (("old", args.compare), ("new", str(REPO))):
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                argv = [a for a in sys.argv[1:]]
                i = argv.index("--compare")
                del argv[i:i + 2]
                if "-c" in argv or "--configs" in argv:
                    flag = "-c" if "-c" in argv else "--configs"
                    j = argv.index(flag) + 1
                    while j < len(argv) and not argv[j].startswith("-"):
                        del argv[j]
                    argv.insert(j, config)
                else:
                    argv += ["-c", config]
                env = dict(os.environ, BENCH_APP_ROOT=root)
                print(f"\n# {label} code ({root}), {config}", flush=True)
                python = Path(root) / ".venv" / "bin" / "python"
                if not python.exists():
                    sys.exit(f"{root} has no .venv: run `make install` there first")
                subprocess.run([str(python), str(SCRIPT), *argv, "--profile", "0",
                                "--pg-db", f"{args.pg_db}_{label}",
                                "--json-out", out.name], env=env, check=True)
                runs[label] = json.loads(Path(out.name).read_text())[0]
        pairs.append((config, runs["old"], runs["new"]))
    print_compare(args, pairs)
    print(f"\nCPU canary (1e6-iteration loop) after the runs: {canary():.0f} ms")
    if any(failures(new) for _, _, new in pairs):
        sys.exit("FAILED: the new code answered a 5xx or dropped a connection")


def main() -> None:
    args = parse_args()
    print(f"CPU canary (1e6-iteration loop): {canary():.0f} ms; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    if args.compare:
        return compare(args)
    mix = [int(x) for x in args.mix.split(",")]
    rng = random.Random(args.seed)
    with throwaway_database(args.pg_db) as label, \
            tempfile.TemporaryDirectory(prefix="bench-sub-") as tmp:
        print(f"Database: {label}; Redis: {os.environ.get('REDIS_URL')}")
        print("App code:", git_state())
        world = build_world(args)
        rows, serial = in_process(world, pick)
        print("\n## SQL queries and Redis round trips per request (test client)\n")
        print("| request -> answer | SQL queries | Redis round trips |\n|---|---|---|")
        for case, q, r, _ in rows:
            print(f"| {case} | {q} | {r} |")
        for title, n in (("a steady-state wrong submission", 1),
                         ("a correct submission (dynamic)", 4)):
            print(f"\nSQL of {title}:")
            for i, sql in enumerate(rows[n][3], 1):
                print(f"  {i:2d}. {sql}")
        print("\nSerial, in process (median ms):", {k: round(v, 1)
                                                    for k, v in serial.items()})
        from challenges.models import Competition

        Competition.objects.filter(is_default=True).update(
            rate_limit_attempts=args.rate_limit
        )
        results = []
        for config in args.configs:
            results.append(load_run(args, world, rng, mix, config, Path(tmp)))
            print(json.dumps(results[-1]), flush=True)
        print_load(args, results)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(results))
        if args.profile and (VENV / "py-spy").exists():
            best = max(results, key=lambda s: s["rps"])["config"]
            s = load_run(args, world, rng, mix, best, Path(tmp), args.profile)
            print(f"\n## py-spy record --idle, {best}, {args.profile} s under load "
                  f"({s['rps']:.1f} req/s, p99 {s['p99'] / 1000:.1f} ms)\n")
            print("| function (file) | inclusive % | self % |\n|---|---|---|")
            for f, inc, own in spy_report(Path(tmp) / "spy", ROOT):
                print(f"| `{f}` | {inc:.1f} | {own:.1f} |")
    print(f"\nCPU canary (1e6-iteration loop) after the runs: {canary():.0f} ms")
    if any(failures(s) for s in results):
        sys.exit("FAILED: a 5xx answer or a socket error (see the errors column)")


if __name__ == "__main__":
    main()
