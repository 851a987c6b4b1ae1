"""Organizer screen for announcements: written in markdown, previewed as
players will see it, saved and deleted through the audited services."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from challenges.markdown import render_markdown
from challenges.models import Announcement, Competition
from challenges.services import announcement_delete, announcement_save


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ["title", "competition", "challenge", "author", "created_at"]
    list_filter = ["competition"]
    search_fields = ["title", "body", "challenge__name"]
    list_select_related = ["competition", "challenge", "author"]
    raw_id_fields = ["challenge"]
    fields = ["competition", "title", "body", "challenge", "preview"]
    readonly_fields = ["preview", "author", "created_at", "updated_at"]

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return self.fields + (["author", "created_at", "updated_at"] if obj else [])

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {"competition": Competition.objects.default().pk}

    @admin.display(description="as players see it")
    def preview(self, announcement: Announcement) -> str:
        return render_markdown(announcement.body) if announcement.body else "—"

    def save_model(self, request, obj, form, change) -> None:
        announcement_save(announcement=obj, actor=request.user)

    def delete_model(self, request, obj) -> None:
        announcement_delete(
            announcements=Announcement.objects.filter(pk=obj.pk), actor=request.user
        )

    def delete_queryset(self, request, queryset: QuerySet) -> None:
        announcement_delete(announcements=queryset, actor=request.user)
