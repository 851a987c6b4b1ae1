"""The OpenAPI schema at /api/v1/schema/ and its docs page: generated with no
warning, every route described with the shape of its answers and errors, the
docs served from this server (no CDN)."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def resolve(schema, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_it_generates_with_no_warning_and_a_valid_schema(tmp_path):
    # --fail-on-warn turns any warning (an undescribed view, a guessed type)
    # into an error; --validate checks the result against the OpenAPI spec.
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))

    assert yaml.safe_load(out.read_text())["openapi"].startswith("3.")


def test_every_operation_describes_its_answer(schema):
    undescribed = []
    for name, operation in operations(schema):
        ok = [code for code in operation["responses"] if code.startswith("2")]
        content = operation["responses"][ok[0]].get("content", {}) if ok else {}
        for media, body in content.items():
            shape = resolve(schema, body["schema"])
            described = shape.get("properties") or shape.get("format") == "binary"
            if not described:
                undescribed.append(f"{name} ({media})")
        if not content:
            undescribed.append(f"{name} (no body)")
    assert undescribed == []


def test_every_property_of_every_answer_has_a_type(schema):
    untyped = []
    for name, component in schema["components"]["schemas"].items():
        for prop, spec in component.get("properties", {}).items():
            if not ({"type", "$ref", "allOf", "oneOf", "enum"} & set(spec)):
                untyped.append(f"{name}.{prop}")
    # JSON fields hold whatever the spec or the audit record says.
    assert set(untyped) <= {
        "AdminChallengeDetail.tags",
        "AdminChallengeDetail.topics",
        "AdminChallengeDetail.services",
        "Event.details",
    }


def test_every_operation_documents_its_errors_in_the_one_shape(schema):
    for name, operation in operations(schema):
        responses = operation["responses"]
        assert {"401", "403"} <= set(responses), name
        if "{" in name:
            assert "404" in responses, name
        query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        if query or "requestBody" in operation:
            assert "400" in responses, name
        for code in ("400", "401"):
            if code in responses:
                body = responses[code]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/Error"}, name


def test_the_attempt_documents_its_rate_limit(schema):
    attempt = schema["paths"]["/api/v1/challenges/{challenge_id}/attempt"]["post"]

    limited = attempt["responses"]["429"]["content"]["application/json"]["schema"]

    assert "retry_after" in resolve(schema, limited)["properties"]


def test_the_schema_is_served_to_anyone(db):
    response = Client().get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    assert "/api/v1/admin/challenges/stats" in response.json()["paths"]


def test_the_docs_page_loads_its_files_from_this_server(db):
    page = Client().get("/api/v1/docs/")

    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert page.status_code == 200
    assert any("swagger-ui-bundle.js" in a for a in assets)
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    for asset in assets:
        assert Client().get(asset).status_code == 200, asset
