"""An instanced busybox challenge for the page, admin and browser tests: `nc`
answers every connection with the instance's $FLAG, the principal's derived flag.

The Dockerfile carries no nonce, so its content hash (and tag) stays the same
from test to test and the daemons build it once per run."""

import os
import shutil
import socket
import time

import pytest

from challenges.models import Challenge
from nodes.models import TaskKind
from nodes.services.tasks import task_submit

from .conftest import BUSYBOX, Catalog

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["sh", "-c", "while true; do echo \\"$FLAG\\" | nc -l -p 1337; done"]
"""

SPEC = """\
name: {name}
category: pwn
value: 100
type: standard
flags:
  - {{type: derived, template: "CTF{{box_{{hash}}}}"}}
image: .
connection_info: "nc {{host}} {{port}}"
instance:
  ports: [1337]
{extra}"""


def instanced(
    catalog: Catalog, identity: str = "pwn/box", *, name: str = "Box", extra: str = ""
) -> str:
    """Write an instanced challenge into `catalog` (rescan it afterwards)."""
    folder = catalog.root / identity
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(BUSYBOX, folder / "busybox")
    catalog.write(f"{identity}/Dockerfile", DOCKERFILE)
    catalog.write(f"{identity}/challenge.yml", SPEC.format(name=name, extra=extra))
    return identity


def built(*identities: str) -> list[Challenge]:
    """The challenges, built on every online node (in-process task)."""
    challenges = [Challenge.objects.get(identity=i) for i in identities]
    task_submit(kind=TaskKind.BUILD, challenge_ids=[c.pk for c in challenges])
    return challenges


def read_banner(host: str, port: int, timeout: float = 15) -> str:
    """The first line a published port sends, retrying while the box comes up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=3) as conn:
                line = conn.makefile().readline().strip()
            if line:
                return line
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answered on {host}:{port}")
        time.sleep(0.2)


@pytest.fixture
def no_leftovers(request):
    """Remove the instance containers and networks a test left on the daemons:
    the database is emptied after each test, the engines are not."""
    harness = os.environ.get("TEST_DOCKER_NODES")
    daemons = request.getfixturevalue("daemons") if harness else {}
    yield
    for daemon in daemons.values():
        for kind, listing in (("container", "-aq"), ("network", "-q")):
            found = daemon.docker(
                kind, "ls", listing, "--filter", "label=ctf.instance", check=False
            )
            for ident in found.split():
                force = ["-f"] if kind == "container" else []
                daemon.docker(kind, "rm", *force, ident, check=False)
