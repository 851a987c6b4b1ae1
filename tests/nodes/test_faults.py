"""Faults: a node offline or dying mid-build, a worker killed mid-task, two
builds of one challenge on one node at once."""

import threading
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from challenges.models import Challenge
from nodes.models import (
    BackgroundTask,
    ImageStatus,
    Node,
    NodeChallengeState,
    NodeStatus,
    OutcomeStatus,
    TaskKind,
    TaskOutcome,
    TaskStatus,
)
from nodes.services.nodes import node_add
from nodes.services.tasks import task_submit, task_sweep_stale
from tests.challenges.factories import make_challenge

from .conftest import SLOW_RUN, kill_daemon, wait_until


def submit_build(identity: str) -> BackgroundTask:
    challenge = Challenge.objects.get(identity=identity)
    return task_submit(kind=TaskKind.BUILD, challenge_ids=[challenge.pk])


def in_thread(fn) -> threading.Thread:
    def run() -> None:
        try:
            fn()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def outcome(task, node_name: str) -> TaskOutcome:
    return TaskOutcome.objects.get(task=task, node__name=node_name)


def test_an_offline_node_fails_its_part_and_the_task_is_partial(
    alpha, catalog, tmp_path
):
    gone = node_add(name="gone", url=f"unix://{tmp_path}/nothing.sock")
    assert gone.status == NodeStatus.OFFLINE  # registered, but nothing answers
    catalog.challenge("pwn/echo")
    catalog.rescan()

    task = submit_build("pwn/echo")
    task.refresh_from_db()

    assert task.status == TaskStatus.PARTIAL
    assert outcome(task, "alpha").status == OutcomeStatus.SUCCEEDED
    failed = outcome(task, "gone")
    assert failed.status == OutcomeStatus.FAILED
    assert failed.message == (
        f"node unreachable: there is no Docker socket at {tmp_path}/nothing.sock"
    )


def test_a_node_that_dies_mid_build_fails_alone(alpha, doomed, catalog):
    gamma = doomed.register()
    catalog.challenge("pwn/slow", steps=SLOW_RUN.format(seconds=3))
    catalog.rescan()
    tasks = []
    worker = in_thread(lambda: tasks.append(submit_build("pwn/slow")))

    wait_until(
        lambda: NodeChallengeState.objects.filter(
            node=gamma, status=ImageStatus.BUILDING
        ).exists(),
        90,
        "the build on gamma",
    )
    kill_daemon(doomed)
    worker.join(120)

    task = tasks[0]
    task.refresh_from_db()
    assert task.status == TaskStatus.PARTIAL
    assert outcome(task, "alpha").status == OutcomeStatus.SUCCEEDED
    died = outcome(task, "gamma")
    assert died.status == OutcomeStatus.FAILED
    assert "the node stopped answering during the build" in died.message
    gamma.refresh_from_db()
    assert gamma.status == NodeStatus.OFFLINE
    state = NodeChallengeState.objects.get(node=gamma)
    assert state.status == ImageStatus.FAILED
    assert state.lease == ""  # the lock is given back


def test_two_builds_of_one_challenge_on_one_node_never_overlap(alpha, catalog):
    catalog.challenge("pwn/slow", steps=SLOW_RUN.format(seconds=2))
    catalog.rescan()

    threads = [in_thread(lambda: submit_build("pwn/slow")) for _ in range(2)]
    for thread in threads:
        thread.join(120)

    runs = sorted(
        TaskOutcome.objects.filter(node=alpha, challenge__isnull=False),
        key=lambda o: o.finished_at,
    )
    assert [o.message for o in runs] == [
        "built 1 image(s)",
        "up to date: nothing rebuilt",  # it waited for the first, then found it
    ]
    assert runs[1].finished_at >= runs[0].finished_at
    assert alpha.states.get().lease == ""


def test_a_killed_worker_does_not_leave_the_task_running(
    alpha, catalog, start_worker, settings
):
    settings.NODES_STALE_AFTER = 10
    catalog.challenge("pwn/slow", steps=SLOW_RUN.format(seconds=4))
    first = start_worker()
    catalog.rescan()  # its node refresh runs on the worker: let it end first
    wait_until(
        lambda: all(t.is_finished for t in BackgroundTask.objects.all()),
        60,
        lambda: f"the rescan's node refresh: {first.tail()}",
    )
    task = submit_build("pwn/slow")
    wait_until(
        lambda: task.outcomes.filter(status=OutcomeStatus.RUNNING).exists(),
        60,
        lambda: f"the worker to start building: {first.tail()}",
    )

    first.kill()
    task.refresh_from_db()
    assert task.status == TaskStatus.RUNNING  # nobody will finish it...
    assert task_sweep_stale() == []  # ...but it is not stale yet

    later = timezone.now() + timedelta(seconds=11)
    [swept] = task_sweep_stale(now=later)
    assert (swept.pk, swept.status, swept.attempts) == (task.pk, "running", 2)
    assert outcome(task, "alpha").status == OutcomeStatus.QUEUED
    start_worker()  # the re-queued sub-task waits for the dead worker's lease

    wait_until(
        lambda: BackgroundTask.objects.get(pk=task.pk).is_finished, 90, "the retry"
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.SUCCEEDED
    assert outcome(task, "alpha").message == "built 1 image(s)"


def test_a_task_stale_after_its_retry_is_failed(db, settings):
    node = Node.objects.create(name="n1", url="unix:///run/n1.sock")
    long_ago = timezone.now() - timedelta(seconds=settings.NODES_STALE_AFTER + 1)
    task = BackgroundTask.objects.create(
        kind=TaskKind.BUILD_ALL,
        status=TaskStatus.RUNNING,
        attempts=2,
        total=1,
        heartbeat_at=long_ago,
    )
    challenge = make_challenge("Box")
    TaskOutcome.objects.create(
        task=task, node=node, challenge=challenge, status=OutcomeStatus.RUNNING
    )
    state = NodeChallengeState.objects.create(
        node=node,
        challenge=challenge,
        kind="build",
        status=ImageStatus.BUILDING,
        task=task,
        lease="dead-worker",
        lease_until=long_ago,
    )

    task_sweep_stale()

    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert task.error.startswith("The worker running it stopped (no sign of life")
    assert task.outcomes.get().message == "interrupted: the worker running it stopped"
    state.refresh_from_db()
    assert state.status == ImageStatus.FAILED  # not "building" forever
