"""`GET /api/v1/admin/events`: the audit log for organizers' scripts (staff only)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import EventLog, EventType, Severity


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor.username", default=None, allow_null=True
    )
    user = serializers.CharField(source="user.username", default=None, allow_null=True)

    class Meta:
        model = EventLog
        fields = [
            "id",
            "created_at",
            "event_type",
            "severity",
            "actor",
            "user",
            "team_id",
            "principal_id",
            "subject",
            "message",
            "details",
            "ip",
        ]


class EventQuery(serializers.Serializer):
    type = serializers.ChoiceField(EventType.choices, required=False)
    severity = serializers.ChoiceField(Severity.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="ISO 8601.")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601.")


LOOKUPS = {
    "type": "event_type",
    "severity": "severity",
    "since": "created_at__gte",
    "until": "created_at__lt",
}


class EventListView(ListAPIView):
    """The audit log, newest first."""

    permission_classes = [IsAdminUser]
    serializer_class = EventSerializer

    @extend_schema(parameters=[EventQuery])
    def get(self, request: Request) -> Response:
        params = EventQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        events = EventLog.objects.select_related("actor", "user").filter(
            **{LOOKUPS[k]: v for k, v in params.validated_data.items()}
        )
        page = self.paginate_queryset(events)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
