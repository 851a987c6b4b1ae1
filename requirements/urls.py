"""Staff-only helpers of the requirement editor, mounted under /admin-tools/."""

from django.urls import path

from requirements import views

app_name = "requirements"

urlpatterns = [
    path("validate", views.validate, name="validate"),
]
