"""Organizer screens for players, teams, cohorts and API tokens."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from accounts.models import APIToken, Cohort, Team, User
from accounts.services import token_revoke


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = [
        "username",
        "email",
        "team",
        "is_staff",
        "is_active",
        "date_joined",
        "last_login",
    ]
    list_filter = ["is_staff", "is_active", "cohorts"]
    list_select_related = ["team"]
    search_fields = ["username", "email", "team__name"]
    raw_id_fields = ["team"]
    fieldsets = BaseUserAdmin.fieldsets + (
        ("Team", {"fields": ["team", "team_joined_at"]}),
    )


class MemberInline(admin.TabularInline):
    model = User
    fk_name = "team"
    fields = ["username", "email", "team_joined_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "captain", "member_count", "affiliation", "created_at"]
    search_fields = ["name", "captain__username", "members__username", "affiliation"]
    list_select_related = ["captain"]
    raw_id_fields = ["captain"]
    readonly_fields = ["created_at"]
    inlines = [MemberInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_members=Count("members"))

    @admin.display(description="members", ordering="_members")
    def member_count(self, team: Team) -> int:
        return team._members


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count", "description"]
    search_fields = ["name", "members__username"]
    filter_horizontal = ["members"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_members=Count("members"))

    @admin.display(description="members", ordering="_members")
    def member_count(self, cohort: Cohort) -> int:
        return cohort._members


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "user",
        "name",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "expires_at"]
    search_fields = ["prefix", "user__username", "name"]
    list_select_related = ["user"]
    readonly_fields = [
        "user",
        "prefix",
        "key_hash",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are made with `manage.py token create` or the API

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        for token in queryset:
            token_revoke(token=token, actor=request.user)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")
