"""Celery tasks of nodes: ids in, one service call; acknowledged late, so a
message whose worker died is delivered again (and the sweep catches the rest)."""

from celery import shared_task

from nodes.services.instances import (
    instance_finish_stop,
    instances_reap,
    instances_reconcile,
)
from nodes.services.launch import instance_run
from nodes.services.nodes import nodes_check_all
from nodes.services.tasks import task_run, task_run_node, task_sweep_stale


@shared_task(acks_late=True, ignore_result=True)
def run_task(task_id: int) -> None:
    """Prepare a background task and fan it out, one sub-task per node."""
    task_run(task_id=task_id)


@shared_task(acks_late=True, ignore_result=True)
def run_task_node(task_id: int, node_id: int) -> None:
    """Work through one node's units of a background task."""
    task_run_node(task_id=task_id, node_id=node_id)


@shared_task(ignore_result=True)
def check_nodes() -> None:
    """The periodic health check of every enabled node."""
    nodes_check_all()


@shared_task(ignore_result=True)
def sweep_tasks() -> None:
    """Re-queue or fail tasks whose worker stopped."""
    task_sweep_stale()


@shared_task(acks_late=True, ignore_result=True)
def start_instance(instance_id: int) -> None:
    """Place and start one instance (a redelivered message is harmless)."""
    instance_run(instance_id=instance_id)


@shared_task(acks_late=True, ignore_result=True)
def stop_instance(instance_id: int) -> None:
    """Remove a stopping instance's containers and mark it stopped."""
    instance_finish_stop(instance_id=instance_id)


@shared_task(ignore_result=True)
def reap_instances() -> None:
    """Expired instances, the competition's end, stuck starts, lost nodes."""
    instances_reap()


@shared_task(ignore_result=True)
def reconcile_instances() -> None:
    """Match containers on the nodes with instance rows, both ways."""
    instances_reconcile()
