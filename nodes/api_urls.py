from django.urls import path

from nodes import api_admin as admin

urlpatterns = [
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
    path("admin/nodes", admin.NodeListView.as_view(), name="api-admin-nodes"),
    path(
        "admin/nodes/<int:node_id>/check",
        admin.NodeCheckView.as_view(),
        name="api-admin-node-check",
    ),
]
