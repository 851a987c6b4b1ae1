"""The organizer's Instances screen: every instance with its node, ports and
times, filters by status, node, challenge, principal and competition, stop
(confirmed) and extend actions through the instance services, and a failed
start's error and container log. Rows are the platform's: nothing is edited
by hand. Also the latency histogram of the challenge page and the dashboard's
running-instances panel."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from audit.admin import ReadOnlyAdmin
from nodes.models import Instance, InstanceStatus
from nodes.selectors import latency_histogram
from nodes.services.instances import InstanceRefused, instance_extend, instance_stop
from scoring.models import Principal

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
        ] + super().get_urls()

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
