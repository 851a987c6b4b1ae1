"""Organizer routes of nodes (`/api/v1/admin/...`, staff only): the rescan,
builds and pulls as background tasks (each POST answers the task's record,
202), the tasks themselves, per-challenge build and pull state, and the nodes
with their health check. Every view calls one service of `nodes.services` or
one selector of `nodes.selectors`, as the admin and the commands do."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from challenges.api_admin import (
    AdminView,
    RescanReportSerializer,
    RescanSerializer,
    competition_field,
    query,
)
from challenges.models import Challenge
from challenges.services import catalog_rescan
from nodes.api import REFUSED, InstanceSerializer, refused
from nodes.models import (
    BackgroundTask,
    ImageKind,
    ImageStatus,
    Instance,
    InstanceStatus,
    Node,
    NodeStatus,
    OutcomeStatus,
    TaskKind,
    TaskStatus,
)
from nodes.selectors import (
    NOT_NEEDED,
    TASK_OUTCOMES,
    challenge_image_states,
    instance_record,
    latency_histogram,
    node_record,
    task_record,
)
from nodes.services.instances import InstanceRefused, instance_extend, instance_stop
from nodes.services.nodes import node_check
from nodes.services.tasks import task_submit

# Tasks


class TaskOutcomeSerializer(serializers.Serializer):
    challenge_id = serializers.IntegerField(allow_null=True)
    challenge = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(OutcomeStatus.choices)
    message = serializers.CharField(allow_blank=True)
    log_tail = serializers.CharField(allow_blank=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class TaskNodeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        ["queued", "running", "succeeded", "partial", "failed"]
    )
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    outcomes = TaskOutcomeSerializer(many=True)


class TaskProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class TaskSerializer(serializers.Serializer):
    """`nodes.selectors.task_record`: what `manage.py build --json` prints."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(TaskKind.choices)
    status = serializers.ChoiceField(TaskStatus.choices)
    progress = TaskProgressSerializer()
    parameters = serializers.DictField(
        help_text='`{"challenges": [ids]}` or `{"competition": id}`.'
    )
    nodes = serializers.DictField(
        child=TaskNodeSerializer(), help_text="Each node's share, by node name."
    )
    result = serializers.DictField(
        help_text='A rescan\'s catalog report: `{"catalog": {...}}`.'
    )
    error = serializers.CharField(allow_blank=True)
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


ACCEPTED = {202: OpenApiResponse(TaskSerializer, description="The task, queued.")}


def _accepted(task: BackgroundTask) -> Response:
    task.refresh_from_db()  # in-process workers may have run it already
    return Response(task_record(task), status=status.HTTP_202_ACCEPTED)


class RescanView(AdminView):
    """Reload the catalog and ask every node what it holds, as a task; a dry
    run answers at once what the catalog part would change (and changes
    nothing)."""

    @extend_schema(
        request=RescanSerializer,
        responses={
            200: OpenApiResponse(RescanReportSerializer, description="A dry run."),
            **ACCEPTED,
        },
    )
    def post(self, request: Request) -> Response:
        body = RescanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["dry_run"]:
            report = catalog_rescan(dry_run=True, actor=request.user)
            return Response(
                {**report.to_dict(), "dry_run": True, "summary": report.summary()}
            )
        return _accepted(task_submit(kind=TaskKind.RESCAN, actor=request.user))


class _OneChallengeView(AdminView):
    kind = ""

    @extend_schema(request=None, responses=ACCEPTED)
    def post(self, request: Request, challenge_id: int) -> Response:
        challenge = get_object_or_404(Challenge, pk=challenge_id)
        task = task_submit(
            kind=self.kind, actor=request.user, challenge_ids=[challenge.pk]
        )
        return _accepted(task)


class BuildView(_OneChallengeView):
    """Build the challenge's images on every enabled node."""

    kind = TaskKind.BUILD


class PullView(_OneChallengeView):
    """Pull the challenge's registry images on every enabled node."""

    kind = TaskKind.PULL


class AllQuery(serializers.Serializer):
    competition_id = competition_field(
        "Only this competition's challenge set; the whole catalog if left out."
    )


class _AllView(AdminView):
    kind = ""

    @extend_schema(parameters=[AllQuery], request=None, responses=ACCEPTED)
    def post(self, request: Request) -> Response:
        competition = query(AllQuery, request).get("competition_id")
        task = task_submit(
            kind=self.kind,
            actor=request.user,
            competition_id=competition.pk if competition else None,
        )
        return _accepted(task)


class BuildAllView(_AllView):
    """Build every challenge (of the catalog or a competition) on every node."""

    kind = TaskKind.BUILD_ALL


class PullAllView(_AllView):
    """Pull every challenge's images (of the catalog or a competition)."""

    kind = TaskKind.PULL_ALL


class TaskQuery(serializers.Serializer):
    kind = serializers.ChoiceField(TaskKind.choices, required=False)
    status = serializers.ChoiceField(TaskStatus.choices, required=False)


class TaskListView(AdminView, ListAPIView):
    """Background tasks, newest first."""

    serializer_class = TaskSerializer

    @extend_schema(parameters=[TaskQuery])
    def get(self, request: Request) -> Response:
        params = query(TaskQuery, request)
        tasks = (
            BackgroundTask.objects.filter(**params)
            .select_related("created_by")
            .prefetch_related(TASK_OUTCOMES)
        )
        page = self.paginate_queryset(tasks)
        return self.get_paginated_response([task_record(task) for task in page])


class TaskDetailView(AdminView):
    @extend_schema(responses=TaskSerializer)
    def get(self, request: Request, task_id: int) -> Response:
        task = get_object_or_404(
            BackgroundTask.objects.select_related("created_by"), pk=task_id
        )
        return Response(task_record(task))


# Build and pull state


class NodeImageStateSerializer(serializers.Serializer):
    node = serializers.CharField()
    node_id = serializers.IntegerField()
    status = serializers.ChoiceField(ImageStatus.choices)
    content_hash = serializers.CharField(allow_blank=True)
    images = serializers.DictField(
        help_text='`{service: {"ref": tag or reference, "id": "sha256:…"}}`.'
    )
    message = serializers.CharField(allow_blank=True)
    log_tail = serializers.CharField(allow_blank=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class ImageStateSerializer(serializers.Serializer):
    challenge_id = serializers.IntegerField()
    challenge = serializers.CharField()
    kind = serializers.ChoiceField(ImageKind.choices)
    status = serializers.ChoiceField(
        [*ImageStatus.values, NOT_NEEDED],
        help_text="The worst case over online nodes (failed > building > "
        "pending > built); `none`: nothing to build or pull.",
    )
    nodes = NodeImageStateSerializer(many=True)


class StateQuery(serializers.Serializer):
    competition_id = competition_field(
        "Only this competition's challenge set; every challenge if left out."
    )
    status = serializers.ChoiceField(
        [*ImageStatus.values, NOT_NEEDED],
        required=False,
        help_text="Only challenges whose aggregated status is this.",
    )


class _StateView(AdminView, ListAPIView):
    kind = ""
    serializer_class = ImageStateSerializer

    @extend_schema(parameters=[StateQuery])
    def get(self, request: Request) -> Response:
        params = query(StateQuery, request)
        if "competition_id" in params:
            challenges = params["competition_id"].challenge_set()
        else:
            challenges = Challenge.objects.filter(is_missing=False)
        states = challenge_image_states(
            kind=self.kind, challenges=challenges.order_by(*Challenge._meta.ordering)
        ).values()
        rows = [
            state.to_dict()
            for state in states
            if params.get("status") in (None, state.status)
        ]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(page)


class BuildStateView(_StateView):
    """Each challenge's build state: aggregated, and per online node."""

    kind = ImageKind.BUILD


class PullStateView(_StateView):
    """Each challenge's pull state: aggregated, and per online node."""

    kind = ImageKind.PULL


# Nodes


class NodeSerializer(serializers.Serializer):
    """`nodes.selectors.node_record` (TLS material never leaves the server)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField()
    tls = serializers.BooleanField()
    public_address = serializers.CharField(help_text="Where players connect.")
    labels = serializers.DictField(help_text='e.g. `{"zone": "eu"}`.')
    capacity = serializers.IntegerField(help_text="Most instances at once.")
    enabled = serializers.BooleanField()
    status = serializers.ChoiceField(NodeStatus.choices)
    detail = serializers.CharField(
        allow_blank=True, help_text="The last check's words."
    )
    engine_version = serializers.CharField(allow_blank=True)
    cpus = serializers.IntegerField(allow_null=True)
    memory = serializers.IntegerField(allow_null=True, help_text="Bytes.")
    disk_free = serializers.IntegerField(allow_null=True, help_text="Bytes.")
    last_seen_at = serializers.DateTimeField(allow_null=True)


class NodeQuery(serializers.Serializer):
    status = serializers.ChoiceField(NodeStatus.choices, required=False)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)


class NodeListView(AdminView, ListAPIView):
    """The Docker hosts with their health from the last check, by name."""

    serializer_class = NodeSerializer

    @extend_schema(parameters=[NodeQuery])
    def get(self, request: Request) -> Response:
        params = query(NodeQuery, request)
        nodes = Node.objects.all()
        if "status" in params:
            nodes = nodes.filter(status=params["status"])
        if params["enabled"] is not None:
            nodes = nodes.filter(enabled=params["enabled"])
        page = self.paginate_queryset(nodes)
        return self.get_paginated_response([node_record(node) for node in page])


class NodeCheckView(AdminView):
    """Check the node's health now; answers the node as the check left it."""

    @extend_schema(request=None, responses=NodeSerializer)
    def post(self, request: Request, node_id: int) -> Response:
        node = get_object_or_404(Node, pk=node_id)
        return Response(node_record(node_check(node=node)))


# Instances


class NamedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class InstanceRecordSerializer(InstanceSerializer):
    """`nodes.selectors.instance_record`: the player's view and what went on."""

    principal = NamedSerializer()
    challenge = NamedSerializer()
    competition = serializers.IntegerField()
    node = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    log_tail = serializers.CharField(allow_blank=True)
    containers = serializers.DictField(
        child=serializers.CharField(), help_text="`{service: container id}`."
    )
    network = serializers.CharField(allow_blank=True)
    latency_ms = serializers.IntegerField(
        allow_null=True, help_text="Request to running."
    )
    connect_ms = serializers.IntegerField(
        allow_null=True, help_text="Request to the first connection."
    )
    connected_at = serializers.DateTimeField(allow_null=True)
    extensions = serializers.IntegerField()
    started_by = serializers.CharField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)


class InstanceQuery(serializers.Serializer):
    status = serializers.ChoiceField(InstanceStatus.choices, required=False)
    node_id = serializers.IntegerField(required=False)
    challenge_id = serializers.IntegerField(required=False)
    principal_id = serializers.IntegerField(required=False)
    competition_id = serializers.IntegerField(required=False)


class InstanceListView(AdminView, ListAPIView):
    """Instances, newest request first."""

    serializer_class = InstanceRecordSerializer

    @extend_schema(parameters=[InstanceQuery])
    def get(self, request: Request) -> Response:
        params = query(InstanceQuery, request)
        instances = Instance.objects.filter(**params).select_related(
            "principal__team",
            "principal__user",
            "challenge",
            "competition",
            "node",
            "started_by",
        )
        page = self.paginate_queryset(instances)
        return self.get_paginated_response([instance_record(i) for i in page])


class _InstanceActionView(AdminView):
    # Subclasses: `act(instance, actor)`, one service call.

    @extend_schema(request=None, responses={200: InstanceRecordSerializer, **REFUSED})
    def post(self, request: Request, instance_id: int) -> Response:
        instance = get_object_or_404(Instance, pk=instance_id)
        try:
            instance = self.act(instance, request.user)
        except InstanceRefused as error:
            return refused(error)
        return Response(instance_record(instance))


class InstanceStopView(_InstanceActionView):
    """Stop the instance and remove its containers (audited)."""

    @staticmethod
    def act(instance: Instance, actor) -> Instance:
        return instance_stop(instance=instance, actor=actor)


class InstanceExtendView(_InstanceActionView):
    """Push the expiry back by one step, at any point of the lifetime (never
    past the competition's end)."""

    @staticmethod
    def act(instance: Instance, actor) -> Instance:
        return instance_extend(instance=instance, actor=actor)


class LatencyBucketSerializer(serializers.Serializer):
    le_ms = serializers.IntegerField(
        allow_null=True, help_text="The upper bound; null: above the last one."
    )
    count = serializers.IntegerField()


class LatencySerializer(serializers.Serializer):
    buckets = LatencyBucketSerializer(many=True)


class LatencyQuery(serializers.Serializer):
    challenge_id = serializers.IntegerField(
        required=False, help_text="One challenge's starts; every one if left out."
    )
    competition_id = serializers.IntegerField(required=False)


class LatencyHistogramView(AdminView):
    """How long instances took from the request to running, in fixed buckets."""

    @extend_schema(parameters=[LatencyQuery], responses=LatencySerializer)
    def get(self, request: Request) -> Response:
        params = query(LatencyQuery, request)
        return Response({"buckets": latency_histogram(**params)})
