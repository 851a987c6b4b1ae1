"""Organizer screens: nodes (health, check now), tasks (progress updating in
place with htmx, a drill-down per node), and build/pull/trust and instance
start latency on challenges (the Instances screen is `admin_instances`).

The challenge list is challenges' own admin, re-registered here as a subclass
that adds build and pull columns, filters and actions: challenges never
imports nodes, and whatever challenges' admin gains, this one keeps.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from audit.admin import ReadOnlyAdmin
from challenges.admin import ChallengeAdmin
from challenges.models import Challenge
from challenges.services import challenge_trust
from nodes.admin_instances import latency_context
from nodes.models import (
    BackgroundTask,
    ImageKind,
    ImageStatus,
    Node,
    NodeStatus,
    TaskKind,
)
from nodes.selectors import NOT_NEEDED, challenge_image_states, task_nodes
from nodes.services.nodes import node_check, node_save, node_set_enabled
from nodes.services.tasks import TaskError, task_submit
from nodes.views import is_instanced


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
