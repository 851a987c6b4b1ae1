"""A read-only audit screen for staff, filterable by type, severity and date."""

from django.contrib import admin
from django.http import HttpRequest

from audit.models import EventLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the platform, never edited by hand (every app's
    records screens use this)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(EventLog)
class EventLogAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "severity",
        "event_type",
        "subject",
        "actor",
        "message",
        "ip",
    ]
    list_filter = ["event_type", "severity", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["subject", "message", "actor__username", "user__username", "ip"]
    list_select_related = ["actor", "user"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in EventLog._meta.fields]
    list_per_page = 100

    # Every staff member reads the log, without a model permission.
    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)
