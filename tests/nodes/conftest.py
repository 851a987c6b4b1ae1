"""Real Docker engines for the nodes tests: the two daemons and the registry that
`tests/services.sh` starts (alpha on a Unix socket, beta on TCP with TLS client
certificates), throw-away daemons for tests that kill one, catalogs of
`FROM scratch` + busybox challenges, and the `docker` CLI to act behind the
platform's back. Outside the harness these tests skip, saying why."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from challenges.services import catalog_rescan
from nodes.models import Node
from nodes.services.nodes import node_add

BUSYBOX = Path("/bin/busybox")
# An image that takes a while to build: long enough to act while it runs.
SLOW_RUN = 'RUN ["/bin/sleep", "{seconds}"]'


@dataclass(frozen=True)
class Daemon:
    """A Docker daemon the harness (or a fixture) owns."""

    name: str
    url: str
    socket: str  # unix:// URL the tests' CLI uses
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    folder: str = ""

    def pem(self, which: str) -> str:
        path = getattr(self, which)
        return Path(path).read_text() if path else ""

    def register(self, **extra) -> Node:
        return node_add(
            name=self.name,
            url=self.url,
            tls_ca=self.pem("tls_ca"),
            tls_cert=self.pem("tls_cert"),
            tls_key=self.pem("tls_key"),
            **extra,
        )

    def docker(self, *args: str, check: bool = True) -> str:
        """Run the docker CLI against this daemon (its Unix socket)."""
        result = subprocess.run(
            [docker_cli(), "-H", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {result.stderr}")
        return result.stdout.strip()

    def image_ids(self, reference: str = "ctfplatform/*") -> dict[str, str]:
        listed = self.docker(
            "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"
        )
        found = dict(line.split() for line in listed.splitlines() if line)
        prefix = reference.rstrip("*")
        return {tag: ident for tag, ident in found.items() if tag.startswith(prefix)}


def docker_cli() -> str:
    # Debian's client (docker.io) first: the one `make test` installs.
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


def _harness() -> list[dict]:
    raw = os.environ.get("TEST_DOCKER_NODES")
    if not raw:
        pytest.skip(
            "needs the Docker daemons `make test` starts (tests/services.sh, as root)"
        )
    return json.loads(raw)


@pytest.fixture(scope="session")
def daemons() -> dict[str, Daemon]:
    nodes = {}
    for item in _harness():
        nodes[item["name"]] = Daemon(
            name=item["name"],
            url=item["url"],
            socket=item.get("socket", item["url"]),
            tls_ca=item.get("tls_ca", ""),
            tls_cert=item.get("tls_cert", ""),
            tls_key=item.get("tls_key", ""),
        )
    return nodes


@pytest.fixture(scope="session")
def certs() -> Path:
    _harness()
    return Path(os.environ["TEST_DOCKER_CERTS"])


@pytest.fixture(scope="session")
def registry() -> str:
    _harness()
    return os.environ["TEST_REGISTRY"]


@pytest.fixture
def alpha(daemons, transactional_db) -> Node:
    return daemons["alpha"].register()


@pytest.fixture
def beta(daemons, transactional_db) -> Node:
    return daemons["beta"].register()


_spare = itertools.count(1)


@pytest.fixture
def doomed(daemons, transactional_db):
    """A throw-away daemon of this test's own, to stop or kill at will."""
    work = Path(os.environ["TEST_DOCKER_WORK"])
    folder = work / f"t{os.getpid()}-{next(_spare)}"
    script = os.environ["TEST_DOCKERD_SH"]
    bridge = f"ctf{os.getpid() % 100000}t{next(_spare)}"
    subprocess.run([script, "start", str(folder), bridge], check=True, timeout=90)
    daemon = Daemon(
        name="gamma",
        url=f"unix://{folder}/docker.sock",
        socket=f"unix://{folder}/docker.sock",
        folder=str(folder),
    )
    try:
        yield daemon
    finally:
        subprocess.run([script, "stop", str(folder)], timeout=90)
        shutil.rmtree(folder, ignore_errors=True)


def kill_daemon(daemon: Daemon) -> None:
    """SIGKILL a fixture daemon (and its containerd): the node dies at once."""
    for pidfile in ("docker.pid", "exec/containerd/containerd.pid"):
        path = Path(daemon.folder, pidfile)
        if path.exists():
            try:
                os.kill(int(path.read_text().strip()), signal.SIGKILL)
            except ProcessLookupError:
                pass


# Catalogs of busybox challenges.


class Catalog:
    """A catalog under tmp_path with busybox challenges, set as CATALOG_DIR.

    Every challenge carries a fresh nonce, so its content hash (and tag) is
    new: images from other tests on the shared daemons never stand in for it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
        return path

    def busybox_context(self, folder: str, *, steps: str = "") -> None:
        shutil.copy(BUSYBOX, self.root / folder / "busybox")
        self.write(
            f"{folder}/Dockerfile",
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            f"COPY nonce /nonce\n{steps}\n"
            'CMD ["sh"]\n',
        )
        self.write(f"{folder}/nonce", uuid.uuid4().hex)

    def challenge(
        self,
        identity: str,
        *,
        name: str | None = None,
        category: str = "pwn",
        steps: str = "",
        image: str = ".",
        compose: str | None = None,
        files: dict[str, str] | None = None,
    ) -> str:
        """A challenge built from a busybox Dockerfile (or a compose file)."""
        name = name or identity.rsplit("/", 1)[-1].replace("-", " ").title()
        for rel, content in (files or {}).items():
            self.write(f"{identity}/{rel}", content)
        spec = (
            f"name: {name}\ncategory: {category}\nvalue: 100\ntype: standard\n"
            'flags: ["CTF{x}"]\n'
        )
        if compose is None:
            (self.root / identity).mkdir(parents=True, exist_ok=True)
            self.busybox_context(identity, steps=steps)
            spec += f"image: {image}\n"
        else:
            self.write(f"{identity}/docker-compose.yml", compose)
        self.write(f"{identity}/challenge.yml", spec)
        return identity

    def pulled(self, identity: str, reference: str) -> str:
        self.write(
            f"{identity}/challenge.yml",
            f"name: {identity.rsplit('/', 1)[-1].title()}\ncategory: misc\n"
            f'value: 50\ntype: standard\nflags: ["CTF{{y}}"]\nimage: {reference}\n',
        )
        return identity

    def rescan(self):
        report = catalog_rescan(catalog=self.root)
        assert report.rejected == [], report.rejected
        return report


@pytest.fixture
def catalog(tmp_path, settings) -> Catalog:
    settings.CATALOG_DIR = tmp_path / "catalog"
    return Catalog(tmp_path / "catalog")


@pytest.fixture(scope="session")
def registry_image(daemons, registry, tmp_path_factory) -> str:
    """A busybox image pushed to the local registry (pull tests pull it)."""
    folder = tmp_path_factory.mktemp("registry-image")
    shutil.copy(BUSYBOX, folder / "busybox")
    (folder / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n'
    )
    reference = f"{registry}/ctf-tests/busybox:1"
    builder = daemons["alpha"]
    builder.docker("build", "-q", "-t", reference, str(folder))
    builder.docker("push", reference)
    builder.docker("rmi", reference)
    return reference


def wait_until(predicate, timeout: float = 30, message="condition") -> None:
    """Poll `predicate`; `message` (text, or a function giving it) says what for."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            what = message() if callable(message) else message
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# A real Celery worker on the test Redis.

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def broker_url(settings, transactional_db) -> str:
    """Send this test's tasks to Redis (database 1) instead of running them inline."""
    import kombu.pools
    import redis
    from django.db import connection

    from ctfplatform.celery import app

    if not settings.REDIS_URL or connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL and Redis (make test provides them)")

    def forget_connections() -> None:
        # Even an eager delay() opens the pools (on memory://): drop them so
        # the next send connects to the broker configured now.
        kombu.pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    url = settings.REDIS_URL.rsplit("/", 1)[0] + "/1"
    redis.Redis.from_url(url).flushdb()
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    forget_connections()
    app.conf.broker_url, app.conf.task_always_eager = url, False
    try:
        yield url
    finally:
        forget_connections()
        app.conf.broker_url, app.conf.task_always_eager = saved


class Worker:
    """`celery worker` in a process group of its own, on the test database."""

    serial = itertools.count(1)

    def __init__(self, broker: str, catalog_dir: Path, log: Path) -> None:
        from django.conf import settings

        self.log = log
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": broker,
            "CATALOG_DIR": str(catalog_dir),
            "NODES_STALE_AFTER": "10",
            "DEBUG": "true",
            "SECRET_KEY": settings.SECRET_KEY,
            "FLAG_SECRET": settings.FLAG_SECRET,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "ctfplatform",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"test{next(self.serial)}@%h",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: "ready." in log.read_text(errors="replace"), 60, "worker")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL the worker at once: no warm shutdown, no acknowledgement."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(broker_url, settings, tmp_path):
    """Start workers on demand; all are stopped at the end."""
    workers: list[Worker] = []

    def start() -> Worker:
        log = tmp_path / f"worker{len(workers) + 1}.log"
        worker = Worker(broker_url, settings.CATALOG_DIR, log)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
