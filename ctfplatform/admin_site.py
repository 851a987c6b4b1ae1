"""The admin site: Django's, opening on the event dashboard, with the challenge
statistics screen beside the model screens."""

from django.contrib import admin
from django.urls import path

from ctfplatform import dashboard, statistics


class AdminSite(admin.AdminSite):
    site_header = "CTF platform administration"
    site_title = "CTF admin"
    index_template = "admin/dashboard.html"

    def index(self, request, extra_context=None):
        context = dashboard.dashboard_context(request)
        return super().index(request, {**context, **(extra_context or {})})

    def get_urls(self):
        view = self.admin_view
        return [
            path("dashboard/panels/", view(dashboard.panels), name="dashboard-panels"),
            path("statistics/", view(statistics.screen), name="statistics"),
            path(
                "statistics/<int:challenge_id>/",
                view(statistics.drawer),
                name="statistics-drawer",
            ),
        ] + super().get_urls()
