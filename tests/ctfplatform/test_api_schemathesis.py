"""schemathesis against a live server: generated calls to every route, as the
organizer (every route is open to staff) and as a player, with valid and
invalid input. No answer is a 500, and every answer (status, content type,
body) is one the schema describes. Bounded: EXAMPLES calls per route and
caller, about a minute in all."""

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings, strategies
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_world import build_world
from tests.challenges.factories import fast_password_hashing  # noqa: F401

EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


# Generated once, from the code (as /api/v1/schema/ serves it).
schema = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True)
)
# The current test's objects, for the hook below.
REAL: dict[str, int] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    # Random ids meet nothing: about half the calls name the world's objects.
    if not path_parameters:
        return strategies.just(path_parameters)
    real = {name: REAL.get(name, value) for name, value in path_parameters.items()}
    return strategies.sampled_from([path_parameters, real])


@pytest.fixture
def world(transactional_db, tmp_path, settings):
    world = build_world(tmp_path / "catalog", settings)
    REAL.clear()
    REAL.update(world.path_values())
    return world


bounded = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def call(case, token: str, live_server) -> None:
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Token {token}"},
        checks=CHECKS,
    )


@schema.parametrize()
@bounded
def test_the_organizers_answers_match_the_schema(case, world, live_server):
    call(case, world.staff_token, live_server)


@schema.parametrize()
@bounded
def test_a_players_answers_match_the_schema(case, world, live_server):
    call(case, world.player_token, live_server)
