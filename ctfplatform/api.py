"""The REST API root (`/api/v1/`): each app contributes its routes here, and
every error, from DRF or Django, answers as JSON `{"error": code, "detail": text}`."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, include, path, re_path, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from challenges.announcement_views import AnnouncementListView


def exception_handler(exc, context) -> Response | None:
    """Give DRF errors one shape: a machine code and a human message."""
    if isinstance(exc, DjangoValidationError):  # a service refused the input
        return Response(
            {"error": exc.code or "invalid", "detail": " ".join(exc.messages)},
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(data, dict) and set(data) == {"detail"}:
        detail = data["detail"]
        code = getattr(detail, "code", code)
        response.data = {"error": code, "detail": str(detail)}
    else:
        response.data = {"error": code, "detail": "Invalid input.", "fields": data}
    return response


@csrf_exempt  # the API views enforce CSRF themselves, for session users only
def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """JSON 404 for unknown API paths (HTML pages keep Django's 404).

    A route with a trailing slash answers as the route without it (`/me/` as
    `/me`, a POST included: no redirect that a client would turn into a GET).
    """
    if request.path.endswith("/") and request.path.rstrip("/") != "/api/v1":
        try:
            match = resolve(request.path.rstrip("/"))
        except Resolver404:
            pass
        else:
            if match.func is not not_found:
                return match.func(request, *match.args, **match.kwargs)
    return JsonResponse(
        {"error": "not_found", "detail": f"No API route {request.path}."},
        status=status.HTTP_404_NOT_FOUND,
    )


urlpatterns = [
    # OpenAPI 3 (drf-spectacular) and its Swagger UI, served from here.
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"
    ),
    path("", include("audit.api_urls")),
    path("", include("challenges.api_urls")),
    path("", include("scoring.api_urls")),
    path("", include("nodes.api_urls")),
    path("announcements", AnnouncementListView.as_view(), name="api-announcements"),
    re_path(r"", not_found),
]
