"""`GET /api/v1/admin/events`: the audit log for organizers' scripts (staff only)."""

from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import EventLog, EventType, Severity

MAX_LIMIT = 500


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None)
    user = serializers.CharField(source="user.username", default=None)

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


class EventListView(APIView):
    """Newest first; filter with ?type=, ?severity=, ?since=ISO-8601, ?limit=."""

    permission_classes = [IsAdminUser]

    def get(self, request: Request) -> Response:
        events = EventLog.objects.select_related("actor", "user")
        params = request.query_params
        if "type" in params:
            if params["type"] not in EventType.values:
                raise ValidationError(
                    {"type": f"unknown event type {params['type']!r}"}
                )
            events = events.filter(event_type=params["type"])
        if "severity" in params:
            if params["severity"] not in Severity.values:
                raise ValidationError({"severity": "use info, warning or critical"})
            events = events.filter(severity=params["severity"])
        if "since" in params:
            since = parse_datetime(params["since"])
            if since is None:
                raise ValidationError({"since": "use an ISO-8601 date and time"})
            events = events.filter(created_at__gte=since)
        try:
            limit = min(int(params.get("limit", 100)), MAX_LIMIT)
        except ValueError:
            raise ValidationError({"limit": "use a whole number"}) from None
        return Response(EventSerializer(events[:limit], many=True).data)
