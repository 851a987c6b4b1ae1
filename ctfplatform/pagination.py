"""The one page shape of every API list: `?offset=&limit=` in, `{"items",
"total", "offset", "limit"}` out (DRF's DEFAULT_PAGINATION_CLASS)."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _whole(request, name: str, default: int, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"Use a whole number, not {raw!r}."]}) from None
    if value < minimum:
        raise ValidationError({name: [f"Use {minimum} or more."]})
    return value


class OffsetPagination(LimitOffsetPagination):
    """Offset and limit as the SDK sends them; a limit above MAX_LIMIT is cut
    to it (the answer says which limit applied), a malformed one is a 400."""

    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request) -> int:
        return min(_whole(request, "limit", self.default_limit, 1), self.max_limit)

    def get_offset(self, request) -> int:
        return _whole(request, "offset", 0, 0)

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "items": data,
                "total": self.count,
                "offset": self.offset,
                "limit": self.limit,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["items", "total", "offset", "limit"],
            "properties": {
                "items": schema,
                "total": {"type": "integer", "description": "Items in all pages."},
                "offset": {"type": "integer"},
                "limit": {"type": "integer", "description": "The limit applied."},
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "offset",
                "in": "query",
                "required": False,
                "description": "Items to skip.",
                "schema": {"type": "integer", "minimum": 0, "default": 0},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Items per page, at most {self.max_limit}.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "default": self.default_limit,
                },
            },
        ]
