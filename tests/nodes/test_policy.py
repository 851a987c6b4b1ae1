"""Deployment policy on real engines: bind-mounted files of the challenge folder
reach the container on any node; privileged challenges build but need an
organizer's (audited) trust."""

from audit.models import EventLog, EventType
from challenges.models import Challenge
from nodes.models import ImageKind, NodeChallengeState, TaskKind, TaskStatus
from nodes.services.tasks import task_submit

COMPOSE = """\
services:
  web:
    build: ./web
    volumes:
      - ./conf/app.conf:/etc/app.conf:ro
      - ./static:/srv/static
      - ./logs:/var/log/app
      - data:/var/lib/app
  cache:
    image: {image}
    volumes:
      - type: bind
        source: ./cache.conf
        target: /etc/cache.conf
"""


def images(node, identity: str) -> dict:
    return NodeChallengeState.objects.get(
        node=node, challenge__identity=identity, kind=ImageKind.BUILD
    ).images


def test_bind_mounted_files_reach_the_container_on_every_node(
    daemons, alpha, beta, catalog, registry_image
):
    catalog.challenge(
        "web/mounted",
        compose=COMPOSE.format(image=registry_image),
        files={
            "conf/app.conf": "listen 8080\n",
            "static/index.html": "<h1>hi</h1>\n",
            "static/css/site.css": "body{}\n",
            "cache.conf": "size 64m\n",
        },
    )
    (catalog.root / "web/mounted/web").mkdir()
    catalog.busybox_context("web/mounted/web")
    catalog.rescan()
    challenge = Challenge.objects.get(identity="web/mounted")

    task = task_submit(kind=TaskKind.BUILD, challenge_ids=[challenge.pk])
    task.refresh_from_db()

    assert task.status == TaskStatus.SUCCEEDED, task.error
    for node in (alpha, beta):
        docker = daemons[node.name].docker
        web, cache = (
            images(node, "web/mounted")["web"],
            images(node, "web/mounted")["cache"],
        )
        seen = docker(
            "run",
            "--rm",
            web["ref"],
            "sh",
            "-c",
            "cat /etc/app.conf; find /srv/static -type f | sort; "
            "echo logs: $(ls -A /var/log/app)",
        )
        assert seen.splitlines() == [
            "listen 8080",
            "/srv/static/css/site.css",
            "/srv/static/index.html",
            "logs:",  # an empty folder, as compose makes a missing source
        ]
        # The registry image got its file too, in a thin image of its own.
        assert cache["ref"].startswith("ctfplatform/web/mounted/cache:")
        assert (
            docker("run", "--rm", cache["ref"], "cat", "/etc/cache.conf") == "size 64m"
        )


def test_a_changed_bind_mounted_file_is_built_again(daemons, alpha, catalog):
    catalog.challenge(
        "web/conf",
        compose="services:\n  web:\n    build: ./web\n"
        "    volumes: ['./app.conf:/etc/app.conf']\n",
        files={"app.conf": "v1\n"},
    )
    (catalog.root / "web/conf/web").mkdir()
    catalog.busybox_context("web/conf/web")
    catalog.rescan()
    challenge = Challenge.objects.get(identity="web/conf")
    task_submit(kind=TaskKind.BUILD, challenge_ids=[challenge.pk])
    first = images(alpha, "web/conf")["web"]["ref"]

    catalog.write("web/conf/app.conf", "v2\n")
    task_submit(kind=TaskKind.BUILD, challenge_ids=[challenge.pk])

    second = images(alpha, "web/conf")["web"]["ref"]
    assert second != first
    run = daemons["alpha"].docker
    assert run("run", "--rm", second, "cat", "/etc/app.conf") == "v2"


PRIVILEGED = """\
services:
  jail:
    build: .
    privileged: true
"""


def test_a_privileged_challenge_builds_and_waits_for_trust(
    alpha, catalog, login, organizer
):
    catalog.challenge("pwn/jail", compose=PRIVILEGED)
    catalog.busybox_context("pwn/jail")
    catalog.rescan()
    challenge = Challenge.objects.get(identity="pwn/jail")
    assert challenge.needs_trust == ["privileged"]

    task = task_submit(kind=TaskKind.BUILD, challenge_ids=[challenge.pk])
    task.refresh_from_db()
    assert task.status == TaskStatus.SUCCEEDED  # building needs no trust

    admin = login(organizer)
    changelist = admin.get("/admin/challenges/challenge/").content.decode()
    assert "needs trust: privileged" in changelist
    assert (
        "pwn/jail"
        not in admin.get("/admin/challenges/challenge/?trust=trusted").content.decode()
    )

    admin.post(
        "/admin/challenges/challenge/",
        {"action": "trust_it", "_selected_action": [challenge.pk]},
    )

    challenge.refresh_from_db()
    assert challenge.needs_trust == []
    assert challenge.trusted_settings == ["privileged"]
    event = EventLog.objects.get(event_type=EventType.CHALLENGE_TRUST_CHANGED)
    assert (event.actor, event.severity, event.message) == (
        organizer,
        "warning",
        "trusted: privileged",
    )
    assert (
        "needs trust" not in admin.get("/admin/challenges/challenge/").content.decode()
    )

    # A spec that asks for more than was trusted needs trusting again.
    catalog.write(
        "pwn/jail/docker-compose.yml", PRIVILEGED + "    cap_add: [SYS_ADMIN]\n"
    )
    catalog.rescan()
    challenge.refresh_from_db()
    assert challenge.needs_trust == ["cap_add SYS_ADMIN"]

    admin.post(
        "/admin/challenges/challenge/",
        {"action": "distrust", "_selected_action": [challenge.pk]},
    )
    challenge.refresh_from_db()
    assert challenge.needs_trust == ["privileged", "cap_add SYS_ADMIN"]
