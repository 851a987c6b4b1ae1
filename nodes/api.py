"""Player routes of instances: `challenges/{id}/instance` (GET, POST to start,
DELETE to stop) and `challenges/{id}/instance/extend`, acting as the token's
user with the pages' guards: a challenge the caller may not open (hidden or
locked) is a 404, a refusal of the service a 409 with its code and sentence
(no instance route has a rate limit: the concurrent limit is a 409 `limit`)."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from challenges.board import Locked, open_card
from nodes.models import InstanceStatus
from nodes.selectors import instance_of, instance_view
from nodes.services.instances import (
    InstanceRefused,
    instance_extend,
    instance_start,
    instance_stop,
)


class InstancePortSerializer(serializers.Serializer):
    service = serializers.CharField()
    port = serializers.IntegerField(help_text="The container's port.")
    host_port = serializers.IntegerField(help_text="Where it is published.")


class InstanceSerializer(serializers.Serializer):
    """`nodes.selectors.instance_view`: what the player sees."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(InstanceStatus.choices)
    message = serializers.CharField(allow_blank=True, help_text="For the player.")
    host = serializers.CharField(allow_blank=True)
    ports = InstancePortSerializer(many=True)
    connection = serializers.CharField(
        allow_blank=True, help_text="How to connect; empty until running."
    )
    expires_at = serializers.DateTimeField(allow_null=True)
    seconds_left = serializers.IntegerField(allow_null=True)
    can_extend = serializers.BooleanField()
    extensions_left = serializers.IntegerField()
    requested_at = serializers.DateTimeField()
    running_at = serializers.DateTimeField(allow_null=True)


class RefusedSerializer(serializers.Serializer):
    error = serializers.CharField(
        help_text="not_instanced, untrusted, over, limit, no_node, not_active, "
        "extend_not_yet, extend_max or no_principal."
    )
    detail = serializers.CharField(help_text="Why, for the player.")


REFUSED = {
    409: OpenApiResponse(RefusedSerializer, description="The service refused."),
}


def refused(error: InstanceRefused) -> Response:
    """The answer to a refusal: 404 for a locked challenge (as a hidden one),
    409 with the code and the sentence otherwise."""
    if error.code == "locked":
        raise Http404("No such challenge.")
    return Response(
        {"error": error.code, "detail": error.message},
        status=status.HTTP_409_CONFLICT,
    )


def _open(user, challenge_id: int):
    """The challenge and competition, if the caller may open the challenge."""
    try:
        board, card = open_card(user, challenge_id)
    except Locked:
        raise Http404("No such challenge.") from None
    return card.challenge, board.competition


class InstanceView(APIView):
    @extend_schema(responses=InstanceSerializer)
    def get(self, request: Request, challenge_id: int) -> Response:
        """The caller's instance: the active one, else the latest (so a failed
        start's message shows); 404 `no_instance` if there was none."""
        challenge, competition = _open(request.user, challenge_id)
        instance = instance_of(
            user=request.user, challenge=challenge, competition=competition
        )
        if instance is None:
            return Response(
                {"error": "no_instance", "detail": "You have no instance of this."},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(instance_view(instance))

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(
                InstanceSerializer,
                description="Starting (or the active one: a second start is a "
                "no-op, for the caller and their teammates).",
            ),
            **REFUSED,
        },
    )
    def post(self, request: Request, challenge_id: int) -> Response:
        """Start the caller's (team's) instance of the challenge."""
        challenge, competition = _open(request.user, challenge_id)
        try:
            instance = instance_start(
                user=request.user, challenge=challenge, competition=competition
            )
        except InstanceRefused as error:
            return refused(error)
        return Response(instance_view(instance), status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: InstanceSerializer, **REFUSED})
    def delete(self, request: Request, challenge_id: int) -> Response:
        """Stop the caller's active instance."""
        challenge, competition = _open(request.user, challenge_id)
        instance = instance_of(
            user=request.user, challenge=challenge, competition=competition
        )
        try:
            if instance is None or not instance.is_active:
                raise InstanceRefused(
                    "not_active", "There is no running instance to stop."
                )
            instance = instance_stop(instance=instance, actor=request.user)
        except InstanceRefused as error:
            return refused(error)
        return Response(instance_view(instance))


class InstanceExtendView(APIView):
    @extend_schema(request=None, responses={200: InstanceSerializer, **REFUSED})
    def post(self, request: Request, challenge_id: int) -> Response:
        """Push the instance's expiry back (in the last part of its lifetime)."""
        challenge, competition = _open(request.user, challenge_id)
        try:
            instance = instance_extend(
                user=request.user, challenge=challenge, competition=competition
            )
        except InstanceRefused as error:
            return refused(error)
        return Response(instance_view(instance))
