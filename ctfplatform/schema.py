"""OpenAPI generation (drf-spectacular): every operation also documents the
errors it can answer, in the one error shape, and is tagged by its area."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.serializers import ModelSerializer


class ErrorSerializer(serializers.Serializer):
    """What every error answers (`ctfplatform.api.exception_handler`)."""

    error = serializers.CharField(help_text="A machine code, e.g. `not_found`.")
    detail = serializers.CharField(help_text="A sentence for people.")
    fields = serializers.DictField(
        required=False,
        child=serializers.JSONField(),
        help_text="On a 400: each bad parameter and what is wrong with it.",
    )


ERRORS = {
    "400": "A bad parameter or body: `fields` names each one.",
    "401": "No credentials, or a bad, expired or revoked token.",
    "403": "The caller may not do this (staff only, or locked).",
    "404": "No such object, or one the caller may not know exists.",
}


class AutoSchema(SpectacularAutoSchema):
    def get_tags(self) -> list[str]:
        # "admin challenges" rather than one "admin" tag for half the routes.
        parts = [p for p in self.path.split("/") if p and p not in ("api", "v1")]
        if parts[:1] == ["admin"] and len(parts) > 1:
            return [f"admin {parts[1]}"]
        return parts[:1]

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        parameters = operation.get("parameters", [])
        codes = set()
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            codes.add("400")
        if not any(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes |= {"401", "403"}
        if any(p["in"] == "path" for p in parameters):
            codes.add("404")
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation["responses"]
        for code in sorted(codes):
            responses.setdefault(
                code,
                {
                    "description": ERRORS[code],
                    "content": {"application/json": {"schema": error}},
                },
            )
        return operation

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and isinstance(serializer, ModelSerializer):
            # A model serializer answers with every field; its model's
            # defaults only make fields optional for writes.
            schema["required"] = sorted(schema["properties"])
        return schema


class TokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Token <token>` (or `Bearer`), as scripts send it."""

    target_class = "accounts.authentication.TokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>` or `Bearer <token>`; create one with "
            "`manage.py token create USERNAME`.",
        }
