"""ctfsdk's typed answers against the OpenAPI schema: each dataclass has the
fields of its schema component, with matching types and nullability, and
every answer the routes give has a dataclass."""

import dataclasses
import inspect
import typing
from datetime import datetime

import pytest
from ctfsdk import models
from drf_spectacular.generators import SchemaGenerator

MODELS = [
    cls
    for _, cls in inspect.getmembers(models, dataclasses.is_dataclass)
    if cls is not models.Page
]


@pytest.fixture(scope="module")
def components():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return schema["components"]["schemas"], schema["paths"]


def ref_name(spec: dict) -> str | None:
    ref = spec.get("$ref") or (spec.get("allOf") or [{}])[0].get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def matches(hint, spec: dict, schemas: dict) -> bool:
    """Whether a dataclass field's type (None stripped) fits a property."""
    if "oneOf" in spec:
        return any(matches(hint, choice, schemas) for choice in spec["oneOf"])
    name = ref_name(spec)
    if name and "enum" in schemas[name]:
        kinds = {type(value) for value in schemas[name]["enum"]}
        return kinds == {hint}
    if name:
        return getattr(hint, "SCHEMA", None) == name
    kind = spec.get("type")
    if kind == "array":
        (item,) = typing.get_args(hint)
        return typing.get_origin(hint) is list and matches(item, spec["items"], schemas)
    if "enum" in spec or kind == "string":
        return hint is (datetime if spec.get("format") == "date-time" else str)
    if kind is None:  # a JSON field: anything
        return typing.get_origin(hint) in (dict, list) or hint is typing.Any
    if kind == "object" and typing.get_origin(hint) is dict:
        key, value = typing.get_args(hint)
        values = spec.get("additionalProperties") or {}
        return key is str and (value is typing.Any or matches(value, values, schemas))
    return hint is {"integer": int, "boolean": bool, "object": dict}[kind]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_model_has_its_components_fields(model, components):
    schemas, _ = components
    component = schemas[model.SCHEMA]
    required = set(component.get("required", []))
    hints = typing.get_type_hints(model)

    assert {f.name for f in dataclasses.fields(model)} == set(component["properties"])
    for name, spec in component["properties"].items():
        hint = hints[name]
        optional = type(None) in typing.get_args(hint)
        assert optional == (spec.get("nullable", False) or name not in required), name
        if optional:
            (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
        assert matches(hint, spec, schemas), f"{model.__name__}.{name}: {hint} {spec}"


def test_pages_have_the_page_shape(components):
    schemas, _ = components
    pages = {name: c for name, c in schemas.items() if name.startswith("Paginated")}

    assert pages
    for component in pages.values():
        assert set(component["properties"]) == {
            f.name for f in dataclasses.fields(models.Page)
        }


def test_every_answer_of_every_route_has_a_model(components):
    schemas, paths = components
    answers = set()
    for operations in paths.values():
        for operation in operations.values():
            for code, response in operation["responses"].items():
                for body in response.get("content", {}).values():
                    name = ref_name(body["schema"])
                    if code.startswith("2") and name:
                        answers.add(name)
    # A page's model is Page[...] of its items' model.
    for page in [a for a in answers if a.startswith("Paginated")]:
        answers.remove(page)
        answers.add(ref_name(schemas[page]["properties"]["items"]["items"]))

    assert answers - {model.SCHEMA for model in MODELS} == set()
