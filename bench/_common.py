"""What both benchmarks share: a throw-away database, Django set up on it, timing.

SQLite (default): a fresh file in a temporary VAR_DIR, deleted at the end.
PostgreSQL (when DATABASE_URL is set): a new database on that server, named by
--pg-db (default ctf_bench_<pid>), created from the server's `postgres` database
and dropped at the end. An existing database of that name is never touched.
"""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
# The application under test: this checkout, or another one (BENCH_APP_ROOT, e.g.
# a worktree of an older commit, to compare the two in one run).
ROOT = Path(os.environ.get("BENCH_APP_ROOT") or REPO).resolve()
sys.path.insert(0, str(ROOT))
# Celery's Django fix-up puts the working directory first on sys.path: work
# from the code under test, or its modules would come from the wrong checkout.
os.chdir(ROOT)


def add_db_options(parser) -> None:
    parser.add_argument(
        "--pg-db", default=f"ctf_bench_{os.getpid()}",
        help="with DATABASE_URL: name of the throw-away PostgreSQL database to "
             "create and drop (default ctf_bench_<pid>; must not exist)")


def _admin_sql(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def throwaway_database(pg_db: str):
    """Set up Django on an empty, migrated database; yield its description."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:  # fails, and stops here, if the database exists: never drop one we found
        _admin_sql(url, f'CREATE DATABASE "{pg_db}"')
        bench_url = urlunsplit(urlsplit(url)._replace(path=f"/{pg_db}"))
        os.environ["DATABASE_URL"] = bench_url
    tmp = tempfile.mkdtemp(prefix="ctf-bench-")
    os.environ["VAR_DIR"] = tmp
    os.environ.setdefault("DEBUG", "true")  # the system checks refuse default secrets
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctfplatform.settings")
    try:
        import django
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection

        django.setup()
        call_command("migrate", verbosity=0)
        # Time as production runs: no per-query debug logging (CaptureQueriesContext
        # still turns it on where queries are counted).
        settings.DEBUG = False
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            major, minor = divmod(connection.pg_version, 10000)
            label = f"PostgreSQL {major}.{minor} (throw-away db {pg_db})"
        else:
            label = f"SQLite {connection.Database.sqlite_version} (file in {tmp})"
        yield label
    finally:
        if url:
            from django.db import connections

            connections.close_all()
            _admin_sql(url, f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


def timed(fn, runs: int, setup=None) -> tuple[list[float], list[float]]:
    """Run `fn(setup())` `runs` times; return wall and process-CPU times in ms.

    The CPU time leaves out waiting (for PostgreSQL, for other processes on a
    busy machine); wall time includes it.
    """
    wall, cpu = [], []
    for _ in range(runs):
        arg = setup() if setup else None
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(arg)
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


def canary() -> float:
    """Milliseconds of a fixed 1e6-iteration Python loop: how fast this shared
    machine is right now (it drifts by 2x and more)."""
    start = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    return (time.perf_counter() - start) * 1000


def load() -> str:
    """The 1, 5 and 15 minute load averages, to tell a busy machine."""
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def p(times: list[float], q: float) -> float:
    """The q-quantile (0..1) of `times`, nearest-rank."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):8.2f} {p(times, 0.95):8.2f}"


# Each checkout runs in its own virtualenv (its editable install would answer
# imports another checkout lacks).
VENV = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_gunicorn(config: str, threads: int, port: int, log: Path, *,
                   probe: str) -> subprocess.Popen:
    """Start gunicorn as `class:workers[:threads]` and wait until `probe` answers."""
    klass, workers, *per_worker = config.split(":")
    env = dict(os.environ, DEBUG="false", ALLOWED_HOSTS=HOST, LOG_LEVEL="WARNING")
    cmd = [str(VENV / "gunicorn"), "ctfplatform.wsgi", "-w", workers, "-k", klass,
           "-b", f"{HOST}:{port}", "--log-level", "warning"]
    if klass == "gthread":
        cmd += ["--threads", per_worker[0] if per_worker else str(threads)]
    print(" ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("a"),
                            stderr=subprocess.STDOUT)
    request = f"GET {probe} HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(request)
                if s.recv(12).startswith(b"HTTP/1"):
                    return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    sys.exit(f"gunicorn did not start; see {log}")


def start_worker(log: Path, concurrency: int = 8) -> subprocess.Popen:
    """A Celery worker (thread pool) on this environment's broker, in its own
    process group, logging to `log`; returns once it is ready."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ctfplatform", "worker", "--pool",
         "threads", "--concurrency", str(concurrency), "--without-gossip",
         "--without-mingle", "-l", "info"],
        cwd=ROOT, env=os.environ.copy(), stdout=log.open("ab"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text(errors="replace"):
        if time.monotonic() > deadline or worker.poll() is not None:
            sys.exit(f"the Celery worker did not start; see {log}")
        time.sleep(0.2)
    return worker


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
