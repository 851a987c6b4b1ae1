from django.contrib import admin

from challenges.models import Competition


@admin.register(Competition)
class CompetitionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_default", "play_mode", "starts_at", "ends_at"]
    list_filter = ["play_mode", "is_default"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
