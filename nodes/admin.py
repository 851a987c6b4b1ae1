"""Organizer screens: nodes (health, check now), tasks (progress updating in
place with htmx, a drill-down per node), instances (stop, extend, a failed
start's log), and build/pull/trust and start latency on challenges.

The challenge list is challenges' own admin, re-registered here as a subclass
that adds build and pull columns, filters and actions: challenges never
imports nodes, and whatever challenges' admin gains, this one keeps.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from audit.admin import ReadOnlyAdmin
from challenges.admin import ChallengeAdmin
from challenges.models import Challenge
from challenges.services import challenge_trust
from nodes.models import (
    BackgroundTask,
    ImageKind,
    ImageStatus,
    Instance,
    InstanceStatus,
    Node,
    NodeStatus,
    TaskKind,
)
from nodes.selectors import (
    NOT_NEEDED,
    challenge_image_states,
    latency_histogram,
    task_nodes,
)
from nodes.services.instances import InstanceRefused, instance_extend, instance_stop
from nodes.services.nodes import node_check, node_save, node_set_enabled
from nodes.services.tasks import TaskError, task_submit
from nodes.views import is_instanced
from scoring.models import Principal


def _size(value: int | None) -> str:
    return f"{value / (1 << 30):.1f} GiB" if value else "—"


class NodeForm(forms.ModelForm):
    """The stored key is never shown; leave it empty to keep it."""

    tls_key = forms.CharField(
        label="TLS client key",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "-----BEGIN …"}),
        help_text="PEM. Never shown again; leave empty to keep the stored key.",
    )

    class Meta:
        model = Node
        fields = [
            "name",
            "url",
            "public_address",
            "labels",
            "capacity",
            "concurrency",
            "enabled",
            "tls_ca",
            "tls_cert",
            "tls_key",
            "allow_plain_tcp",
        ]
        widgets = {
            "tls_ca": forms.Textarea(attrs={"rows": 3}),
            "tls_cert": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["tls_key"] = ""

    def clean_tls_key(self) -> str:
        return self.cleaned_data["tls_key"].strip() or (
            self.instance.tls_key if self.instance.pk else ""
        )


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    form = NodeForm
    list_display = [
        "name",
        "health",
        "url",
        "uses_tls",
        "engine_version",
        "cpus",
        "memory_size",
        "disk_size",
        "capacity",
        "enabled",
        "last_seen_at",
    ]
    list_filter = ["status", "enabled"]
    search_fields = ["name", "url", "public_address"]
    readonly_fields = [
        "status",
        "status_detail",
        "checked_at",
        "last_seen_at",
        "engine_version",
        "cpus",
        "memory_size",
        "disk_size",
        "created_at",
    ]
    actions = ["check_now", "enable", "disable"]

    @admin.display(description="health", ordering="status")
    def health(self, node: Node) -> str:
        colour = {"online": "#2e7d32", "offline": "#c62828"}.get(node.status, "#777")
        return format_html(
            '<strong style="color:{}">{}</strong><br><small>{}</small>',
            colour,
            node.get_status_display(),
            node.status_detail,
        )

    @admin.display(description="TLS", boolean=True)
    def uses_tls(self, node: Node) -> bool:
        return node.uses_tls

    @admin.display(description="memory", ordering="memory")
    def memory_size(self, node: Node) -> str:
        return _size(node.memory)

    @admin.display(description="free disk", ordering="disk_free")
    def disk_size(self, node: Node) -> str:
        return _size(node.disk_free)

    def save_model(self, request, obj: Node, form, change) -> None:
        try:
            node = node_save(node=obj, actor=request.user)
        except ValidationError as error:  # a name taken since the form was valid
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        self._report(request, node)

    @admin.action(description="Check health now")
    def check_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        for node in queryset:
            self._report(request, node_check(node=node))

    @admin.action(description="Enable")
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        for node in queryset:
            node_set_enabled(node=node, enabled=True, actor=request.user)
        self.message_user(request, f"{queryset.count()} node(s) enabled.")

    @admin.action(description="Disable (no more work)")
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        for node in queryset:
            node_set_enabled(node=node, enabled=False, actor=request.user)
        self.message_user(request, f"{queryset.count()} node(s) disabled.")

    def _report(self, request: HttpRequest, node: Node) -> None:
        if node.status == NodeStatus.ONLINE:
            self.message_user(request, f"{node}: online, {node.status_detail}.")
        else:
            self.message_user(
                request, f"{node} is offline: {node.status_detail}.", messages.ERROR
            )


@admin.register(BackgroundTask)
class BackgroundTaskAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "parameters",
        "progress",
        "created_by",
        "created_at",
        "duration",
    ]
    list_filter = ["kind", "status"]
    list_select_related = ["created_by"]
    search_fields = ["error"]
    readonly_fields = [
        "kind",
        "status",
        "parameters",
        "error",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "attempts",
    ]
    fields = readonly_fields  # the per-node results and the catalog report follow
    actions = ["run_again"]
    change_list_template = "admin/nodes/backgroundtask/change_list.html"
    change_form_template = "admin/nodes/backgroundtask/change_form.html"

    @admin.display(description="parameters")
    def parameters(self, task: BackgroundTask) -> str:
        params = task.params
        if "challenges" in params:
            names = Challenge.objects.filter(pk__in=params["challenges"])
            return ", ".join(sorted(c.name for c in names))
        if "competition" in params:
            return f"competition #{params['competition']}"
        return "whole catalog" if task.kind != TaskKind.RESCAN else "catalog, nodes"

    @admin.display(description="progress", ordering="status")
    def progress(self, task: BackgroundTask) -> str:
        return render_to_string("nodes/_task_progress.html", {"task": task})

    @admin.display(description="took")
    def duration(self, task: BackgroundTask) -> str:
        if not (task.started_at and task.finished_at):
            return "—"
        return f"{(task.finished_at - task.started_at).total_seconds():.1f} s"

    @admin.action(description="Run again")
    def run_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        for task in queryset:
            task_submit(
                kind=task.kind,
                actor=request.user,
                challenge_ids=task.params.get("challenges", ()),
                competition_id=task.params.get("competition"),
            )
        self.message_user(request, f"{queryset.count()} task(s) submitted again.")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/progress/",
                view(self.progress_view),
                name="nodes_backgroundtask_progress",
            ),
            path(
                "<int:pk>/nodes/",
                view(self.nodes_view),
                name="nodes_backgroundtask_nodes",
            ),
            path(
                "submit/<str:kind>/",
                view(self.submit_view),
                name="nodes_backgroundtask_submit",
            ),
        ] + super().get_urls()

    def progress_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The progress cell of one row, polled by htmx while the task runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        task = get_object_or_404(BackgroundTask, pk=pk)
        return TemplateResponse(request, "nodes/_task_progress.html", {"task": task})

    def nodes_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The per-node drill-down, polled by htmx while the task runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        task = get_object_or_404(BackgroundTask, pk=pk)
        return TemplateResponse(request, "nodes/_task_nodes.html", _drill_down(task))

    def submit_view(self, request: HttpRequest, kind: str) -> HttpResponse:
        """The Rescan / Build all / Pull all buttons: queue, then show the list."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            task = task_submit(kind=kind, actor=request.user)
        except TaskError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(
                request, f"Task #{task.pk} ({task.get_kind_display()}) queued."
            )
        return redirect("admin:nodes_backgroundtask_changelist")

    def changelist_view(self, request, extra_context=None):
        buttons = [
            (TaskKind.RESCAN, "Rescan catalog and nodes"),
            (TaskKind.BUILD_ALL, "Build all"),
            (TaskKind.PULL_ALL, "Pull all"),
        ]
        extra = {**(extra_context or {}), "task_buttons": buttons}
        return super().changelist_view(request, extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        task = get_object_or_404(BackgroundTask, pk=object_id)
        extra = {**(extra_context or {}), **_drill_down(task)}
        return super().change_view(request, object_id, form_url, extra)


def _drill_down(task: BackgroundTask) -> dict:
    return {"task": task, "node_results": task_nodes(task)}


# Instances: the platform writes them; organizers stop or extend them.

_STATUS_COLOUR = {
    InstanceStatus.STARTING: "#1565c0",
    InstanceStatus.RUNNING: "#2e7d32",
    InstanceStatus.STOPPING: "#1565c0",
    InstanceStatus.FAILED: "#c62828",
    InstanceStatus.LOST: "#c62828",
}


class PrincipalFilter(admin.SimpleListFilter):
    """The teams and solo players that have instances, named in one query."""

    title = "principal"
    parameter_name = "principal__id__exact"

    def lookups(self, request, model_admin):
        principals = Principal.objects.filter(
            pk__in=Instance.objects.values("principal_id")
        ).select_related("team", "user")
        return sorted(((p.pk, str(p)) for p in principals), key=lambda c: c[1].lower())

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(principal_id=self.value())
        return queryset


@admin.register(Instance)
class InstanceAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "principal",
        "challenge",
        "node",
        "state",
        "published",
        "requested_at",
        "expires_at",
        "extensions",
        "latency",
    ]
    list_filter = [
        "status",
        "node",
        "challenge",
        PrincipalFilter,
        "competition",
    ]
    list_select_related = [
        "principal__team",
        "principal__user",
        "challenge",
        "node",
    ]
    search_fields = [
        "principal__team__name",
        "principal__user__username",
        "challenge__name",
        "node__name",
        "network",
    ]
    date_hierarchy = "requested_at"
    actions = ["stop_instances", "extend_instances"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "principal",
                    "challenge",
                    "competition",
                    "node",
                    "state",
                    "message",
                    "published",
                    "network",
                    "container_ids",
                    "started_by",
                ]
            },
        ),
        (
            "Times",
            {
                "fields": [
                    "requested_at",
                    "running_at",
                    "connected_at",
                    "expires_at",
                    "stopped_at",
                    "extensions",
                    "latency",
                    "connect_latency",
                ]
            },
        ),
    ]
    failure_fieldset = ("Failure", {"fields": ["error_text", "log"]})

    def get_fieldsets(self, request, obj=None):
        # The container's last lines and the error matter when a start failed.
        if obj is not None and (obj.error or obj.log_tail):
            return [*self.fieldsets, self.failure_fieldset]
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [
            f
            for _, options in self.get_fieldsets(request, obj)
            for f in options["fields"]
        ]

    @admin.display(description="instance", ordering="pk")
    def number(self, instance: Instance) -> str:
        return f"#{instance.pk}"

    @admin.display(description="status", ordering="status")
    def state(self, instance: Instance) -> str:
        return format_html(
            '<strong style="color:{}">{}</strong>',
            _STATUS_COLOUR.get(instance.status, "#777"),
            instance.get_status_display(),
        )

    @admin.display(description="ports")
    def published(self, instance: Instance) -> str:
        if not instance.ports or instance.node is None:
            return "—"
        return format_html_join(
            ", ",
            "{} {} → {}:{}",
            (
                (p["service"], p["port"], instance.node.host, p["host_port"])
                for p in instance.ports
            ),
        )

    @admin.display(description="containers")
    def container_ids(self, instance: Instance) -> str:
        if not instance.containers:
            return "—"
        return format_html_join(
            format_html("<br>"),
            "<code>{}: {}</code>",
            ((name, ident[:12]) for name, ident in instance.containers.items()),
        )

    @admin.display(description="request → running", ordering="latency_ms")
    def latency(self, instance: Instance) -> str:
        return _ms(instance.latency_ms)

    @admin.display(description="request → first connect")
    def connect_latency(self, instance: Instance) -> str:
        return _ms(instance.connect_ms)

    @admin.display(description="error")
    def error_text(self, instance: Instance) -> str:
        return format_html("<pre>{}</pre>", instance.error) if instance.error else "—"

    @admin.display(description="container's last log lines")
    def log(self, instance: Instance) -> str:
        if not instance.log_tail:
            return "—"
        return format_html("<pre>{}</pre>", instance.log_tail)

    @admin.action(description="Stop the selected instances")
    def stop_instances(self, request: HttpRequest, queryset: QuerySet):
        """Two steps: list what stops, then stop each (audited by the service)."""
        active = queryset.filter(status__in=ACTIVE).select_related(
            "principal__team", "principal__user", "challenge", "node"
        )
        if "confirm" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "instances": active,
                "title": "Stop instances",
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/nodes/instance/stop.html", context)
        stopped = refused = 0
        for instance in active:
            try:
                instance_stop(instance=instance, actor=request.user)
            except InstanceRefused as error:
                refused += 1
                self.message_user(
                    request, f"{instance}: {error.message}", messages.WARNING
                )
            else:
                stopped += 1
        self.message_user(request, f"{stopped} instance(s) stopping.")
        return None

    @admin.action(description="Extend the selected instances")
    def extend_instances(self, request: HttpRequest, queryset: QuerySet) -> None:
        extended = 0
        for instance in queryset.select_related("principal", "challenge"):
            try:
                instance_extend(instance=instance, actor=request.user)
            except InstanceRefused as error:
                self.message_user(
                    request, f"{instance}: {error.message}", messages.WARNING
                )
            else:
                extended += 1
        if extended:
            self.message_user(request, f"{extended} instance(s) extended.")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "running/",
                view(self.running_view),
                name="nodes_instance_running",
            ),
            path(
                "latency/<int:challenge_id>/",
                view(self.latency_view),
                name="nodes_instance_latency",
            ),
        ] + super().get_urls()

    def latency_view(self, request: HttpRequest, challenge_id: int) -> HttpResponse:
        """A challenge's latency histogram, for the statistics drawer's slot."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        challenge = get_object_or_404(Challenge, pk=challenge_id)
        if not is_instanced(challenge):
            return HttpResponse("")
        context = latency_context(challenge.pk)
        return TemplateResponse(request, "admin/nodes/instance/_latency.html", context)

    def running_view(self, request: HttpRequest) -> HttpResponse:
        """The dashboard's instances slot: active instances per node."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = (
            Instance.objects.filter(status__in=ACTIVE)
            .values("node__name", "status")
            .annotate(n=Count("pk"))
            .order_by("node__name", "status")
        )
        per_node: dict[str, dict[str, int]] = {}
        for row in rows:
            counts = per_node.setdefault(row["node__name"] or "not placed yet", {})
            counts[row["status"]] = row["n"]
        context = {"per_node": per_node, "total": sum(r["n"] for r in rows)}
        return TemplateResponse(request, "admin/nodes/instance/_running.html", context)


ACTIVE = (InstanceStatus.STARTING, InstanceStatus.RUNNING)


def _ms(value: int | None) -> str:
    if value is None:
        return "—"
    return f"{value} ms" if value < 10_000 else f"{value / 1000:.1f} s"


def _bound(ms: int) -> str:
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:g} s"


def latency_context(challenge_id: int) -> dict:
    """The latency histogram's buckets, labelled, with bar widths in percent."""
    buckets = latency_histogram(challenge_id=challenge_id)
    most = max((b["count"] for b in buckets), default=0)
    rows, lower = [], None
    for bucket in buckets:
        upper = bucket["le_ms"]
        label = f"≤ {_bound(upper)}" if upper is not None else f"> {_bound(lower)}"
        width = 100 * bucket["count"] // most if most else 0
        rows.append({"label": label, "count": bucket["count"], "width": width})
        lower = upper
    return {"latency_rows": rows, "latency_started": most > 0}


# Challenges: build and pull state, trust.

_PILL = {
    ImageStatus.BUILT: "#2e7d32",
    ImageStatus.PULLED: "#2e7d32",
    ImageStatus.PENDING: "#777",
    ImageStatus.BUILDING: "#1565c0",
    ImageStatus.PULLING: "#1565c0",
    ImageStatus.FAILED: "#c62828",
}


def _pill(status: str) -> str:
    if status == NOT_NEEDED:
        return "—"
    return format_html(
        '<span style="color:{};font-weight:bold">{}</span>',
        _PILL.get(status, "#777"),
        status,
    )


class _ImageStateFilter(admin.SimpleListFilter):
    kind = ""

    def lookups(self, request, model_admin):
        done = "built" if self.kind == ImageKind.BUILD else "pulled"
        running = "building" if self.kind == ImageKind.BUILD else "pulling"
        return [(s, s) for s in ("failed", running, "pending", done)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        states = challenge_image_states(kind=self.kind, challenges=queryset)
        wanted = [pk for pk, state in states.items() if state.status == self.value()]
        return queryset.filter(pk__in=wanted)


class BuildStateFilter(_ImageStateFilter):
    title = "build state"
    parameter_name = "build"
    kind = ImageKind.BUILD


class PullStateFilter(_ImageStateFilter):
    title = "pull state"
    parameter_name = "pull"
    kind = ImageKind.PULL


class TrustFilter(admin.SimpleListFilter):
    title = "trust"
    parameter_name = "trust"

    def lookups(self, request, model_admin):
        return [("needed", "Needs trust"), ("trusted", "Trusted")]

    def queryset(self, request, queryset):
        if self.value() == "needed":
            return queryset.filter(pk__in=[c.pk for c in queryset if c.needs_trust])
        if self.value() == "trusted":
            return queryset.exclude(trusted_settings=[])
        return queryset


class NodesChallengeAdmin(ChallengeAdmin):
    """The challenge admin with images on nodes and the trust gate."""

    change_form_template = "admin/nodes/challenge/change_form.html"

    def get_list_display(self, request):
        return [*super().get_list_display(request), "build", "pull", "trust"]

    def get_list_filter(self, request):
        filters = [BuildStateFilter, PullStateFilter, TrustFilter]
        return [*super().get_list_filter(request), *filters]

    def get_actions(self, request):
        actions = super().get_actions(request)
        for name in ("build_on_nodes", "pull_on_nodes", "trust_it", "distrust"):
            actions[name] = self.get_action(name)
        return actions

    def get_changelist_instance(self, request):
        # One query per kind for the page, not one per row and column.
        changelist = super().get_changelist_instance(request)
        page = list(changelist.result_list)
        for kind in ImageKind.values:
            states = challenge_image_states(kind=kind, challenges=page)
            for challenge in page:
                setattr(challenge, f"_{kind}_state", states[challenge.pk].status)
        return changelist

    @admin.display(description="build")
    def build(self, challenge: Challenge) -> str:
        return _pill(getattr(challenge, "_build_state", NOT_NEEDED))

    @admin.display(description="pull")
    def pull(self, challenge: Challenge) -> str:
        return _pill(getattr(challenge, "_pull_state", NOT_NEEDED))

    @admin.display(description="trust")
    def trust(self, challenge: Challenge) -> str:
        needed = challenge.needs_trust
        if needed:
            return format_html(
                '<span style="color:#c62828">needs trust: {}</span>',
                ", ".join(needed),
            )
        return "trusted" if challenge.trusted_settings else "—"

    @admin.action(description="Build on every node")
    def build_on_nodes(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._queue(request, TaskKind.BUILD, queryset)

    @admin.action(description="Pull on every node")
    def pull_on_nodes(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._queue(request, TaskKind.PULL, queryset)

    @admin.action(description="Trust: allow privileged and extra capabilities")
    def trust_it(self, request: HttpRequest, queryset: QuerySet) -> None:
        trusted = []
        for challenge in queryset:
            if challenge.needs_trust:
                challenge_trust(challenge=challenge, actor=request.user, trusted=True)
                trusted.append(challenge.name)
        self.message_user(
            request,
            f"Trusted: {', '.join(trusted)}." if trusted else "Nothing needed trust.",
        )

    @admin.action(description="Withdraw trust")
    def distrust(self, request: HttpRequest, queryset: QuerySet) -> None:
        for challenge in queryset.exclude(trusted_settings=[]):
            challenge_trust(challenge=challenge, actor=request.user, trusted=False)
        self.message_user(request, "Trust withdrawn.")

    def _queue(self, request: HttpRequest, kind: str, queryset: QuerySet) -> None:
        try:
            task = task_submit(
                kind=kind,
                actor=request.user,
                challenge_ids=queryset.values_list("pk", flat=True),
            )
        except TaskError as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        url = reverse("admin:nodes_backgroundtask_change", args=[task.pk])
        self.message_user(
            request,
            format_html('Task <a href="{}">#{}</a> queued.', url, task.pk),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        challenge = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if challenge is not None:
            states = [
                challenge_image_states(kind=kind, challenges=[challenge])[challenge.pk]
                for kind in ImageKind.values
            ]
            extra["node_images"] = [s for s in states if s.status != NOT_NEEDED]
            if is_instanced(challenge):
                extra.update(latency_context(challenge.pk))
        return super().change_view(request, object_id, form_url, extra)


admin.site.unregister(Challenge)
admin.site.register(Challenge, NodesChallengeAdmin)
