"""The organizer's screens: nodes, the Tasks page (progress polled in place),
its per-node drill-down, and build/pull columns on the challenge list."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import EventLog, EventType
from nodes.models import (
    BackgroundTask,
    ImageKind,
    ImageStatus,
    Node,
    NodeChallengeState,
    NodeStatus,
    OutcomeStatus,
    TaskKind,
    TaskOutcome,
    TaskStatus,
)
from tests.challenges.factories import make_challenge

BUILT = {"services": [{"name": "challenge", "build": ".", "image": ""}]}
KEY = "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0\n-----END EC PRIVATE KEY-----"
CERT = "-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----"


@pytest.fixture
def admin_client(login, organizer):
    return login(organizer)


def online(name: str) -> Node:
    return Node.objects.create(
        name=name, url=f"unix:///run/{name}.sock", status=NodeStatus.ONLINE
    )


def test_adding_a_node_in_the_admin_checks_it_and_says_why_it_is_offline(
    admin_client, organizer, tmp_path
):
    response = admin_client.post(
        reverse("admin:nodes_node_add"),
        {
            "name": "edge",
            "url": f"unix://{tmp_path}/docker.sock",
            "public_address": "edge.example.org",
            "labels": "{}",
            "capacity": "20",
            "concurrency": "2",
            "enabled": "on",
            "tls_ca": "",
            "tls_cert": "",
            "tls_key": "",
        },
        follow=True,
    )

    node = Node.objects.get(name="edge")
    assert node.status == NodeStatus.OFFLINE
    assert f"edge is offline: there is no Docker socket at {tmp_path}/docker.sock." in [
        str(m) for m in response.context["messages"]
    ]
    assert EventLog.objects.get(event_type=EventType.NODE_CHANGED).actor == organizer


def test_the_stored_key_is_never_shown_and_kept_when_left_empty(admin_client, db):
    node = Node.objects.create(
        name="tls", url="tcp://127.0.0.1:2376", tls_cert=CERT, tls_key=KEY
    )
    url = reverse("admin:nodes_node_change", args=[node.pk])

    page = admin_client.get(url).content.decode()
    admin_client.post(
        url,
        {
            "name": "tls",
            "url": "tcp://127.0.0.1:2376",
            "public_address": "",
            "labels": "{}",
            "capacity": "30",
            "concurrency": "2",
            "enabled": "on",
            "tls_ca": "",
            "tls_cert": CERT,
            "tls_key": "",
        },
    )

    assert "c2VjcmV0" not in page
    node.refresh_from_db()
    assert (node.capacity, node.tls_key) == (30, KEY)


def test_the_check_action_reports_each_node_in_words(admin_client, db, tmp_path):
    Node.objects.create(name="gone", url=f"unix://{tmp_path}/x.sock")

    response = admin_client.post(
        reverse("admin:nodes_node_changelist"),
        {"action": "check_now", "_selected_action": [Node.objects.get().pk]},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        f"gone is offline: there is no Docker socket at {tmp_path}/x.sock."
    ]


def running_task() -> BackgroundTask:
    node = online("alpha")
    challenge = make_challenge("Echo", services=BUILT)
    task = BackgroundTask.objects.create(
        kind=TaskKind.BUILD,
        params={"challenges": [challenge.pk]},
        status=TaskStatus.RUNNING,
        total=2,
        done=1,
        started_at=timezone.now(),
    )
    TaskOutcome.objects.create(
        task=task,
        node=node,
        challenge=challenge,
        status=OutcomeStatus.FAILED,
        message="The command returned a non-zero code: 3",
        log_tail="Step 4/5 : RUN false\nERROR: boom\n",
    )
    TaskOutcome.objects.create(
        task=task, node=online("beta"), challenge=challenge, status="running"
    )
    return task


def test_the_tasks_page_polls_running_tasks_only(admin_client, db):
    task = running_task()
    done = BackgroundTask.objects.create(
        kind=TaskKind.RESCAN, status=TaskStatus.SUCCEEDED, total=1, done=1
    )
    progress = reverse("admin:nodes_backgroundtask_progress", args=[task.pk])

    page = admin_client.get(reverse("admin:nodes_backgroundtask_changelist"))

    html = page.content.decode()
    assert f'hx-get="{progress}"' in html
    assert "htmx-2.min.js" in html
    assert 'value="50"' in html  # 1 of 2
    assert reverse("admin:nodes_backgroundtask_progress", args=[done.pk]) not in html
    assert "Rescan catalog and nodes" in html and "Build all" in html

    BackgroundTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.PARTIAL, done=2, error="1 of 2 failed"
    )
    cell = admin_client.get(progress).content.decode()
    assert "hx-get" not in cell  # finished: the cell stops polling
    assert "Partly failed" in cell and "1 of 2 failed" in cell


def test_the_drill_down_shows_each_nodes_outcomes(admin_client, db):
    task = running_task()

    page = admin_client.get(
        reverse("admin:nodes_backgroundtask_change", args=[task.pk])
    ).content.decode()
    partial = admin_client.get(
        reverse("admin:nodes_backgroundtask_nodes", args=[task.pk])
    ).content.decode()

    for html in (page, partial):
        assert 'data-node="alpha"' in html and "alpha: failed (1/1)" in html
        assert "beta: running (0/1)" in html
        assert "The command returned a non-zero code: 3" in html
        assert "ERROR: boom" in html
    assert 'hx-trigger="every 1s"' in partial


def test_the_task_buttons_queue_a_task_and_never_on_get(
    admin_client, organizer, db, django_capture_on_commit_callbacks
):
    url = reverse("admin:nodes_backgroundtask_submit", args=["build_all"])

    assert admin_client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = admin_client.post(url, follow=True)

    task = BackgroundTask.objects.get()
    assert (task.kind, task.created_by) == (TaskKind.BUILD_ALL, organizer)
    assert len(queued) == 1  # sent to the workers once the request committed
    # No node: the (eager, in tests) worker fails it in words.
    assert (
        task.error == "No node is enabled: add one (manage.py node add) or enable one."
    )
    assert f"Task #{task.pk} (Build all) queued." in [
        str(m) for m in response.context["messages"]
    ]


def test_players_cannot_reach_the_tasks_screens(login, solo, db):
    task = running_task()
    client = login(solo)

    for url in (
        reverse("admin:nodes_backgroundtask_progress", args=[task.pk]),
        reverse("admin:nodes_backgroundtask_nodes", args=[task.pk]),
    ):
        assert client.get(url).status_code == 302  # to the admin login
    client.post(reverse("admin:nodes_backgroundtask_submit", args=["rescan"]))
    assert BackgroundTask.objects.count() == 1


def test_the_challenge_list_shows_and_filters_build_state(admin_client, db):
    nodes = [online("alpha"), online("beta")]
    built = make_challenge("Built box", services=BUILT)
    broken = make_challenge("Broken box", services=BUILT)
    make_challenge("Static")
    for node in nodes:
        NodeChallengeState.objects.create(
            node=node, challenge=built, kind=ImageKind.BUILD, status=ImageStatus.BUILT
        )
    NodeChallengeState.objects.create(
        node=nodes[0], challenge=broken, kind=ImageKind.BUILD, status=ImageStatus.FAILED
    )
    url = reverse("admin:challenges_challenge_changelist")

    page = admin_client.get(url).content.decode()
    failed = admin_client.get(url + "?build=failed").content.decode()

    assert ">built</span>" in page and ">failed</span>" in page
    assert "Broken box" in failed and "Built box" not in failed
    assert "Static" not in admin_client.get(url + "?build=pending").content.decode()


def test_the_challenge_list_costs_the_same_queries_for_more_rows(admin_client, db):
    online("alpha")
    url = reverse("admin:challenges_challenge_changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    make_challenge("C0", services=BUILT)
    few = queries()
    for n in range(1, 30):
        make_challenge(f"C{n}", services=BUILT)

    assert queries() == few


def test_the_challenge_page_lists_its_images_per_node(admin_client, db):
    node = online("alpha")
    challenge = make_challenge("Echo", services=BUILT)
    NodeChallengeState.objects.create(
        node=node,
        challenge=challenge,
        kind=ImageKind.BUILD,
        status=ImageStatus.FAILED,
        message="boom",
        log_tail="Step 2/3 : RUN false",
    )

    page = admin_client.get(
        reverse("admin:challenges_challenge_change", args=[challenge.pk])
    ).content.decode()

    assert "Images on nodes" in page
    assert "Build: failed" in page
    assert "Step 2/3 : RUN false" in page
    assert "Pull:" not in page  # nothing to pull
