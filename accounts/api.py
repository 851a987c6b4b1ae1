"""Serializers of accounts for the API (`GET /api/v1/me` lives in scoring/api.py,
which adds the score)."""

from rest_framework import serializers

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
