"""Background tasks: submit, run (fan out per node), finish, sweep stale ones.

A task is one BackgroundTask row and one TaskOutcome row per unit (a challenge
on a node, or a node's inventory). `task_run` prepares the units and sends one
Celery sub-task per node; `task_run_node` works through that node's units with
the node's concurrency, and whichever unit finishes last settles the task. No
worker waits on another, so a one-process worker cannot deadlock; the sweep
(`task_sweep_stale`, every minute) re-queues a task nothing has moved for a
while (a killed worker), once, then fails it.
"""

import contextvars
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from challenges.models import Challenge, Competition
from challenges.services import catalog_rescan
from nodes import docker_client
from nodes.models import (
    BackgroundTask,
    ImageKind,
    ImageStatus,
    Node,
    NodeChallengeState,
    OutcomeStatus,
    TaskKind,
    TaskOutcome,
    TaskStatus,
)
from nodes.plans import challenge_plan, needs_images
from nodes.services.images import (
    Busy,
    ImageOutcome,
    challenge_build,
    challenge_pull,
    leases_renew,
    node_inventory,
)
from nodes.services.nodes import node_mark_offline

log = logging.getLogger(__name__)

# A task retried this many times and still stale is failed.
MAX_ATTEMPTS = 2
_UNFINISHED = (OutcomeStatus.QUEUED, OutcomeStatus.RUNNING)
_BUILDS = (TaskKind.BUILD, TaskKind.BUILD_ALL)
# Set while a rescan task reloads the catalog, so the rescan signal it sends
# does not submit a second task.
_rescanning: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "nodes_rescanning", default=None
)


class TaskError(ValueError):
    """Parameters a task cannot run with; the message names what is wrong."""


def task_submit(
    *,
    kind: str,
    actor=None,
    challenge_ids: Iterable[int] = (),
    competition_id: int | None = None,
    catalog_report: dict | None = None,
) -> BackgroundTask:
    """Record a task and queue it for the workers once the transaction commits."""
    if kind not in TaskKind.values:
        raise TaskError(f"unknown task kind {kind!r}")
    params: dict = {}
    if kind in (TaskKind.BUILD, TaskKind.PULL):
        ids = sorted({int(pk) for pk in challenge_ids})
        if not ids:
            raise TaskError(f"{kind} needs at least one challenge")
        found = set(Challenge.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if missing := [pk for pk in ids if pk not in found]:
            raise TaskError(f"no challenge with id {', '.join(map(str, missing))}")
        params["challenges"] = ids
    if kind in (TaskKind.BUILD_ALL, TaskKind.PULL_ALL) and competition_id is not None:
        if not Competition.objects.filter(pk=competition_id).exists():
            raise TaskError(f"no competition with id {competition_id}")
        params["competition"] = int(competition_id)
    task = BackgroundTask.objects.create(
        kind=kind,
        params=params,
        created_by=actor if getattr(actor, "pk", None) else None,
        result={"catalog": catalog_report} if catalog_report is not None else {},
    )
    _send(task)
    return task


def on_catalog_rescanned(sender, report, actor=None, **kwargs) -> None:
    """A rescan from anywhere (command, admin) refreshes what the nodes hold."""
    if _rescanning.get() is None and Node.objects.enabled().exists():
        task_submit(kind=TaskKind.RESCAN, actor=actor, catalog_report=report.to_dict())


def task_run(*, task_id: int) -> None:
    """Prepare a queued task's units and send one sub-task per node."""
    now = timezone.now()
    claimed = BackgroundTask.objects.filter(
        pk=task_id, status=TaskStatus.QUEUED
    ).update(
        status=TaskStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return  # run already (a message delivered twice)
    task = BackgroundTask.objects.get(pk=task_id)
    try:
        if task.kind == TaskKind.RESCAN and "catalog" not in task.result:
            token = _rescanning.set(task.pk)
            try:
                report = catalog_rescan(actor=task.created_by)
            finally:
                _rescanning.reset(token)
            task.result = {"catalog": report.to_dict()}
            BackgroundTask.objects.filter(pk=task.pk).update(result=task.result)
        nodes = list(Node.objects.enabled())
        if not nodes and task.kind != TaskKind.RESCAN:
            raise TaskError(
                "No node is enabled: add one (manage.py node add) or enable one."
            )
        units = _units(task, nodes)
    except Exception as error:
        log.exception("task %s could not start", task_id)
        _settle(task, TaskStatus.FAILED, str(error))
        return
    TaskOutcome.objects.bulk_create(
        TaskOutcome(task=task, node=node, challenge=challenge)
        for node, challenge in units
    )
    BackgroundTask.objects.filter(pk=task.pk).update(total=len(units))
    if not units:
        _settle(task, TaskStatus.SUCCEEDED, "")
        return
    _dispatch(task)


def task_run_node(*, task_id: int, node_id: int) -> None:
    """Work through one node's queued units of a task, then settle the task."""
    task = BackgroundTask.objects.filter(pk=task_id, status=TaskStatus.RUNNING).first()
    node = Node.objects.filter(pk=node_id).first()
    if task is None or node is None:
        return
    outcomes = list(
        TaskOutcome.objects.filter(
            task=task, node=node, status=OutcomeStatus.QUEUED
        ).select_related("challenge")
    )
    if not outcomes:  # a message delivered twice, or units taken by another
        _settle_if_done(task)
        return
    heartbeat = _Heartbeat(task.pk)
    heartbeat.start()
    try:
        try:
            docker_client.ping(node.endpoint())
        except docker_client.NodeError as error:
            node_mark_offline(node=node, reason=str(error))
            for outcome in outcomes:
                if _claim(outcome):
                    _finish(outcome, ImageOutcome(False, f"node unreachable: {error}"))
            return
        if task.kind == TaskKind.RESCAN:
            for outcome in outcomes:
                if _claim(outcome):
                    _finish(outcome, node_inventory(node=node, plans=_all_plans()))
            return
        with ThreadPoolExecutor(max_workers=node.concurrency) as pool:
            list(pool.map(lambda o: _unit(task, node, o), outcomes))
    finally:
        heartbeat.stop()
        _settle_if_done(task)


def task_sweep_stale(*, now=None) -> list[BackgroundTask]:
    """Re-queue tasks nothing moved for NODES_STALE_AFTER seconds; fail them then.

    A worker killed mid-task leaves its task `running` with a heartbeat that
    stops; re-running a task is safe (finished units are kept, images present
    are not rebuilt). Queued tasks whose message was lost are sent again.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.NODES_STALE_AFTER)
    swept = []
    for task in BackgroundTask.objects.filter(
        status=TaskStatus.RUNNING, heartbeat_at__lt=stale
    ):
        if task.attempts >= MAX_ATTEMPTS:
            interrupted = "interrupted: the worker running it stopped"
            TaskOutcome.objects.filter(task=task, status__in=_UNFINISHED).update(
                status=OutcomeStatus.FAILED, message=interrupted, finished_at=now
            )
            NodeChallengeState.objects.filter(
                task=task, status__in=(ImageStatus.BUILDING, ImageStatus.PULLING)
            ).update(status=ImageStatus.FAILED, message=interrupted)
            last = timezone.localtime(task.heartbeat_at).strftime("%H:%M:%S")
            _settle(
                task,
                TaskStatus.FAILED,
                f"The worker running it stopped (no sign of life since {last}), "
                f"{task.attempts} times; run it again.",
            )
        elif BackgroundTask.objects.filter(
            pk=task.pk, status=TaskStatus.RUNNING, heartbeat_at__lt=stale
        ).update(attempts=F("attempts") + 1, heartbeat_at=now):
            TaskOutcome.objects.filter(task=task, status=OutcomeStatus.RUNNING).update(
                status=OutcomeStatus.QUEUED, started_at=None
            )
            if TaskOutcome.objects.filter(task=task).exists():
                _dispatch(task)
            else:  # the worker died before it made the units: start over
                BackgroundTask.objects.filter(pk=task.pk).update(
                    status=TaskStatus.QUEUED, attempts=F("attempts") - 1
                )
                _send(task)
        else:
            continue
        task.refresh_from_db()
        swept.append(task)
    for task in BackgroundTask.objects.filter(status=TaskStatus.QUEUED).filter(
        created_at__lt=stale
    ):
        if (
            BackgroundTask.objects.filter(pk=task.pk, status=TaskStatus.QUEUED)
            .exclude(heartbeat_at__gte=stale)
            .update(heartbeat_at=now)
        ):
            _send(task)
            swept.append(task)
    return swept


# Units.


def _units(
    task: BackgroundTask, nodes: list[Node]
) -> list[tuple[Node, Challenge | None]]:
    if task.kind == TaskKind.RESCAN:
        return [(node, None) for node in nodes]
    if task.kind in (TaskKind.BUILD, TaskKind.PULL):
        challenges = Challenge.objects.filter(pk__in=task.params["challenges"])
    elif "competition" in task.params:
        competition = Competition.objects.get(pk=task.params["competition"])
        challenges = competition.challenge_set()
    else:
        challenges = Challenge.objects.filter(is_missing=False)
    kind = ImageKind.BUILD if task.kind in _BUILDS else ImageKind.PULL
    selected = [c for c in challenges.order_by("name") if needs_images(c, kind)]
    return [(node, challenge) for node in nodes for challenge in selected]


def _all_plans() -> list:
    challenges = Challenge.objects.filter(is_missing=False).exclude(services={})
    return [challenge_plan(c, settings.CATALOG_DIR) for c in challenges]


def _unit(task: BackgroundTask, node: Node, outcome: TaskOutcome) -> None:
    """Build or pull one challenge on one node (in a pool thread)."""
    try:
        if not _claim(outcome):
            return
        operation = challenge_build if task.kind in _BUILDS else challenge_pull
        try:
            plan = challenge_plan(outcome.challenge, settings.CATALOG_DIR)
            result = operation(
                node=node, plan=plan, challenge=outcome.challenge, task=task
            )
        except Busy as error:
            result = ImageOutcome(False, str(error))
        except Exception as error:  # a bug must not leave the unit running
            log.exception("unit %s failed", outcome.pk)
            result = ImageOutcome(False, f"internal error: {error}")
        if result.unreachable:
            node_mark_offline(node=node, reason=result.message)
        _finish(outcome, result)
    finally:
        connection.close()  # this pool thread's own connection


def _claim(outcome: TaskOutcome) -> bool:
    now = timezone.now()
    return bool(
        TaskOutcome.objects.filter(pk=outcome.pk, status=OutcomeStatus.QUEUED).update(
            status=OutcomeStatus.RUNNING, started_at=now
        )
    )


def _finish(outcome: TaskOutcome, result: ImageOutcome) -> None:
    now = timezone.now()
    changed = TaskOutcome.objects.filter(
        pk=outcome.pk, status=OutcomeStatus.RUNNING
    ).update(
        status=OutcomeStatus.SUCCEEDED if result.ok else OutcomeStatus.FAILED,
        message=result.message[:500],
        log_tail=result.log_tail,
        finished_at=now,
    )
    if changed:
        BackgroundTask.objects.filter(pk=outcome.task_id).update(
            done=F("done") + 1, heartbeat_at=now
        )


def _settle_if_done(task: BackgroundTask) -> None:
    outcomes = TaskOutcome.objects.filter(task=task)
    if outcomes.filter(status__in=_UNFINISHED).exists():
        return
    failed = list(
        outcomes.filter(status=OutcomeStatus.FAILED).select_related(
            "node", "challenge"
        )[:1]
    )
    failures = outcomes.filter(status=OutcomeStatus.FAILED).count()
    total = outcomes.count()
    if not failures:
        _settle(task, TaskStatus.SUCCEEDED, "")
        return
    first = failed[0]
    what = f"{first.challenge} on {first.node}" if first.challenge else str(first.node)
    status = TaskStatus.FAILED if failures == total else TaskStatus.PARTIAL
    _settle(
        task, status, f"{failures} of {total} failed; first: {what}: {first.message}"
    )


def _settle(task: BackgroundTask, status: str, error: str) -> None:
    """Finish a running task once (racing finishers: the first one wins)."""
    BackgroundTask.objects.filter(pk=task.pk, status=TaskStatus.RUNNING).update(
        status=status,
        error=error[:4000],
        finished_at=timezone.now(),
        done=F("total"),
    )


def _send(task: BackgroundTask) -> None:
    from nodes import tasks as celery_tasks  # the Celery layer sits above us

    transaction.on_commit(lambda: celery_tasks.run_task.delay(task.pk))


def _dispatch(task: BackgroundTask) -> None:
    from nodes import tasks as celery_tasks

    node_ids = (
        TaskOutcome.objects.filter(task=task, status=OutcomeStatus.QUEUED)
        .values_list("node_id", flat=True)
        .distinct()
        .order_by("node_id")
    )
    for node_id in list(node_ids):
        transaction.on_commit(
            lambda node_id=node_id: celery_tasks.run_task_node.delay(task.pk, node_id)
        )


class _Heartbeat:
    """Tell the sweep this task is alive, and keep this process's leases, while
    a node's units run (a silent build step can last minutes)."""

    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()

    def _beat(self) -> None:
        interval = max(1.0, settings.NODES_STALE_AFTER / 6)
        try:
            while not self.stopped.wait(interval):
                BackgroundTask.objects.filter(pk=self.task_id).update(
                    heartbeat_at=timezone.now()
                )
                leases_renew()
        finally:
            connection.close()
