"""`GET /api/v1/me`: the caller's account, team and score."""

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User


class TeamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    captain = serializers.CharField(source="captain.username")


class MeSerializer(serializers.ModelSerializer):
    team = TeamSerializer(allow_null=True)
    is_captain = serializers.BooleanField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "is_staff", "team", "is_captain"]


class MeView(APIView):
    """The caller's account and team."""

    def get(self, request: Request) -> Response:
        user = User.objects.select_related("team__captain").get(pk=request.user.pk)
        return Response(MeSerializer(user).data)
