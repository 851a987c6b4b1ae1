from django.urls import path

from nodes import api_admin as admin
from nodes.api import InstanceExtendView, InstanceView

urlpatterns = [
    path(
        "challenges/<int:challenge_id>/instance",
        InstanceView.as_view(),
        name="api-instance",
    ),
    path(
        "challenges/<int:challenge_id>/instance/extend",
        InstanceExtendView.as_view(),
        name="api-instance-extend",
    ),
    # Organizers
    path(
        "admin/challenges/rescan",
        admin.RescanView.as_view(),
        name="api-admin-challenges-rescan",
    ),
    path(
        "admin/challenges/build-all",
        admin.BuildAllView.as_view(),
        name="api-admin-challenges-build-all",
    ),
    path(
        "admin/challenges/pull-all",
        admin.PullAllView.as_view(),
        name="api-admin-challenges-pull-all",
    ),
    path(
        "admin/challenges/build-state",
        admin.BuildStateView.as_view(),
        name="api-admin-challenges-build-state",
    ),
    path(
        "admin/challenges/pull-state",
        admin.PullStateView.as_view(),
        name="api-admin-challenges-pull-state",
    ),
    path(
        "admin/challenges/<int:challenge_id>/build",
        admin.BuildView.as_view(),
        name="api-admin-challenge-build",
    ),
    path(
        "admin/challenges/<int:challenge_id>/pull",
        admin.PullView.as_view(),
        name="api-admin-challenge-pull",
    ),
    path("admin/tasks", admin.TaskListView.as_view(), name="api-admin-tasks"),
    path(
        "admin/tasks/<int:task_id>",
        admin.TaskDetailView.as_view(),
        name="api-admin-task",
    ),
    path(
        "admin/challenges/latency-histogram",
        admin.LatencyHistogramView.as_view(),
        name="api-admin-challenges-latency",
    ),
    path(
        "admin/instances", admin.InstanceListView.as_view(), name="api-admin-instances"
    ),
    path(
        "admin/instances/<int:instance_id>/stop",
        admin.InstanceStopView.as_view(),
        name="api-admin-instance-stop",
    ),
    path(
        "admin/instances/<int:instance_id>/extend",
        admin.InstanceExtendView.as_view(),
        name="api-admin-instance-extend",
    ),
    path("admin/nodes", admin.NodeListView.as_view(), name="api-admin-nodes"),
    path(
        "admin/nodes/<int:node_id>/check",
        admin.NodeCheckView.as_view(),
        name="api-admin-node-check",
    ),
]
