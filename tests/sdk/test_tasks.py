"""ctfsdk and background work, end to end: the README's script (rescan, build
everything, wait) run as it is printed against a live server, a real Celery
worker and two Docker engines; tasks, build and pull state and nodes through
the client."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ctfsdk import Client, NotFound, TaskTimeout
from ctfsdk import models as m

from accounts.services import token_create
from challenges.models import Challenge
from nodes.models import BackgroundTask, ImageKind, ImageStatus, NodeChallengeState
from tests.challenges.factories import fast_password_hashing  # noqa: F401
from tests.nodes.conftest import SLOW_RUN

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- readme: rescan-build-wait -->"


def readme_script() -> str:
    after = README.read_text().split(MARKER, 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def orga(organizer, live_server) -> Client:
    return Client(live_server.url, token_create(user=organizer)[1], timeout=30)


def test_the_readme_script_rescans_builds_everything_and_waits(
    alpha, beta, catalog, start_worker, organizer, live_server
):
    worker = start_worker()
    catalog.challenge("pwn/echo")
    catalog.challenge("pwn/slow", steps=SLOW_RUN.format(seconds=2))
    script = readme_script()
    env = {
        **os.environ,
        "CTF_URL": live_server.url,
        "CTF_TOKEN": token_create(user=organizer)[1],
    }

    run = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert len([line for line in script.splitlines() if line]) == 10
    assert run.returncode == 0, run.stdout + run.stderr + worker.tail()
    lines = run.stdout.splitlines()
    assert lines[0] == "rescan succeeded added: pwn/echo pwn/slow"
    assert lines[1] == "build succeeded 4/4"
    assert sorted(lines[2:]) == [
        "Echo built alpha=built beta=built",
        "Slow built alpha=built beta=built",
    ]
    built = NodeChallengeState.objects.filter(
        kind=ImageKind.BUILD, status=ImageStatus.BUILT
    )
    assert built.count() == 4


def test_the_client_builds_pulls_and_reads_tasks_state_and_nodes(
    alpha, catalog, registry_image, orga
):
    catalog.challenge("pwn/echo")
    catalog.pulled("misc/box", registry_image)
    catalog.rescan()
    echo = Challenge.objects.get(identity="pwn/echo").pk
    box = Challenge.objects.get(identity="misc/box").pk

    build = orga.admin.challenges.build(box)
    pulled = orga.admin.tasks.wait(orga.admin.challenges.pull_all(), timeout=60)
    built = orga.admin.tasks.wait(orga.admin.challenges.build(echo), timeout=60)

    assert isinstance(build, m.Task) and build.parameters == {"challenges": [box]}
    assert build.progress.total == 0  # the pulled one has nothing to build
    assert pulled.succeeded and pulled.kind == "pull_all"
    assert built.succeeded and isinstance(built.nodes["alpha"], m.TaskNode)
    assert built.nodes["alpha"].outcomes[0].message == "built 1 image(s)"
    assert orga.admin.tasks.get(built.id) == built
    kinds = [t.kind for t in orga.admin.tasks.list(kind="build").items]
    assert kinds == ["build", "build"]
    states = {r.challenge: r for r in orga.admin.challenges.build_state().items}
    assert states["Echo"].status == "built" and states["Box"].status == "none"
    assert [(n.node, n.status) for n in states["Echo"].nodes] == [("alpha", "built")]
    pulls = {r.challenge: r.status for r in orga.admin.challenges.pull_state().items}
    assert pulls == {"Box": "pulled", "Echo": "none"}
    (node,) = orga.admin.nodes.list().items
    assert isinstance(node, m.Node) and node.status == "online"
    assert orga.admin.nodes.check(node.id).engine_version


def test_waiting_gives_up_after_the_timeout_with_the_last_record(
    transactional_db, orga
):
    stuck = BackgroundTask.objects.create(kind="build_all")  # no worker takes it

    with pytest.raises(TaskTimeout) as gave_up:
        orga.admin.tasks.wait(stuck.pk, timeout=0.5, poll=0.1)

    assert gave_up.value.task.status == "queued"
    assert "still queued after 0.5 s" in str(gave_up.value)
    with pytest.raises(NotFound):
        orga.admin.tasks.get(stuck.pk + 1)
