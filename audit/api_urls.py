from django.urls import path

from audit.api import EventListView

urlpatterns = [
    path("admin/events", EventListView.as_view(), name="api-admin-events"),
]
