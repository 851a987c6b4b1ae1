"""The API's routes as a whole: exactly the documented paths, who may call
each (anonymous and a wrong token 401, a player 403 on organizer routes, staff
through), the one error shape, and the one page shape of every list."""

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from tests.api_world import build_world
from tests.challenges.factories import fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

P = "/api/v1/"
# Every route with what a staff call sends; the paths are the issue's.
ROUTES = {
    ("GET", P + "me"): None,
    ("GET", P + "challenges"): None,
    ("GET", P + "challenges/{challenge_id}"): None,
    ("GET", P + "challenges/{challenge_id}/files/{file_id}"): None,
    ("POST", P + "challenges/{challenge_id}/attempt"): lambda world: {
        "flag": "CTF{no}",
        "question": world.door.pk,
    },
    ("GET", P + "challenges/{challenge_id}/instance"): None,
    ("POST", P + "challenges/{challenge_id}/instance"): {},
    ("POST", P + "challenges/{challenge_id}/instance/extend"): {},
    ("DELETE", P + "challenges/{challenge_id}/instance"): None,
    ("GET", P + "announcements"): None,
    ("GET", P + "scoreboard"): None,
    ("GET", P + "admin/events"): None,
    ("GET", P + "admin/challenges"): None,
    ("GET", P + "admin/challenges/{challenge_id}"): None,
    ("POST", P + "admin/challenges/{challenge_id}/hide"): {},
    ("POST", P + "admin/challenges/{challenge_id}/show"): {},
    ("POST", P + "admin/challenges/rescan"): {"dry_run": True},
    ("POST", P + "admin/challenges/{challenge_id}/build"): {},
    ("POST", P + "admin/challenges/build-all"): {},
    ("POST", P + "admin/challenges/{challenge_id}/pull"): {},
    ("POST", P + "admin/challenges/pull-all"): {},
    ("GET", P + "admin/challenges/build-state"): None,
    ("GET", P + "admin/challenges/pull-state"): None,
    ("GET", P + "admin/tasks"): None,
    ("GET", P + "admin/tasks/{task_id}"): None,
    ("GET", P + "admin/challenges/latency-histogram"): None,
    ("GET", P + "admin/instances"): None,
    ("POST", P + "admin/instances/{instance_id}/stop"): {},
    ("POST", P + "admin/instances/{instance_id}/extend"): {},
    ("GET", P + "admin/nodes"): None,
    ("POST", P + "admin/nodes/{node_id}/check"): {},
    ("GET", P + "admin/challenges/stats"): None,
    ("GET", P + "admin/challenges/{challenge_id}/timeseries"): None,
    ("GET", P + "admin/challenges/{challenge_id}/feedback"): None,
    (
        "POST",
        P + "admin/teams/{team_id}/questions/{challenge_id}/{question_id}"
        "/reset-attempts",
    ): {"reason": "a typo in the flag"},
    ("GET", P + "admin/competitions"): None,
    ("GET", P + "admin/competitions/{competition_id}"): None,
    ("POST", P + "admin/competitions/{competition_id}/freeze"): {},
    ("POST", P + "admin/competitions/{competition_id}/unfreeze"): {},
    ("GET", P + "admin/principals"): None,
    ("GET", P + "admin/principals/{principal_id}"): None,
    ("POST", P + "admin/principals/{principal_id}/ban"): {"reason": "testing"},
    ("POST", P + "admin/principals/{principal_id}/unban"): {},
    ("POST", P + "admin/principals/{principal_id}/adjust-score"): {
        "delta": 5,
        "note": "writeup",
    },
    ("GET", P + "admin/submissions"): None,
}
LISTS = [
    path
    for (method, path) in ROUTES
    if method == "GET"
    and path.rsplit("/", 1)[-1]
    in {
        "challenges",
        "announcements",
        "scoreboard",
        "events",
        "stats",
        "feedback",
        "competitions",
        "principals",
        "submissions",
        "build-state",
        "pull-state",
        "tasks",
        "nodes",
        "instances",
    }
]
# What a staff call answers when it is not 200: routes that submit a task
# answer 202 with its record; the organizer has no instance, and Vault has no
# instance settings, so the instance routes answer the services' refusals.
STAFF_ANSWERS = {
    ("POST", P + "admin/challenges/{challenge_id}/build"): 202,
    ("POST", P + "admin/challenges/build-all"): 202,
    ("POST", P + "admin/challenges/{challenge_id}/pull"): 202,
    ("POST", P + "admin/challenges/pull-all"): 202,
    ("GET", P + "challenges/{challenge_id}/instance"): 404,
    ("POST", P + "challenges/{challenge_id}/instance"): 409,
    ("POST", P + "challenges/{challenge_id}/instance/extend"): 409,
    ("DELETE", P + "challenges/{challenge_id}/instance"): 409,
}
ADMIN = [route for route in ROUTES if route[1].startswith(P + "admin/")]


@pytest.fixture
def world(db, tmp_path, settings):
    return build_world(tmp_path / "catalog", settings)


def call(world, method, path, token=None, body=None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    url = path.format(**world.path_values())
    body = body(world) if callable(body) else body
    if method == "GET":
        return Client().get(url, params, **headers)
    if method == "DELETE":
        return Client().delete(url, **headers)
    return Client().post(url, body or {}, content_type="application/json", **headers)


def test_the_api_offers_exactly_these_routes():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    offered = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    }

    assert offered == set(ROUTES)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_answers_401_without_credentials(world, method, path):
    response = call(world, method, path)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_answers_401_to_a_wrong_token(world, method, path):
    response = call(world, method, path, token="ctf_not-a-token")

    assert response.status_code == 401
    assert response.json() == {
        "error": "authentication_failed",
        "detail": "Invalid, expired or revoked token.",
    }


@pytest.mark.parametrize(("method", "path"), ADMIN)
def test_organizer_routes_answer_403_to_players(world, method, path):
    response = call(world, method, path, token=world.player_token, body={})

    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_serves_staff(world, method, path):
    response = call(world, method, path, world.staff_token, ROUTES[method, path])

    expected = STAFF_ANSWERS.get((method, path), 200)
    assert response.status_code == expected, response.content[:500]


@pytest.mark.parametrize(
    ("method", "path"), [r for r in ROUTES if "{" in r[1] and "files" not in r[1]]
)
def test_an_unknown_object_is_a_json_404(world, method, path):
    url = path.replace("{challenge_id}", "999999").replace("{principal_id}", "999999")
    for name in ("competition_id", "team_id", "node_id", "task_id", "instance_id"):
        url = url.replace("{" + name + "}", "999999")

    response = call(world, method, url, world.staff_token, ROUTES[method, path])

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert response.json()["detail"]


@pytest.mark.parametrize("path", LISTS)
def test_every_list_answers_a_page(world, path):
    whole = call(world, "GET", path, world.staff_token).json()
    first = call(world, "GET", path, world.staff_token, limit=1).json()
    second = call(world, "GET", path, world.staff_token, offset=1, limit=1).json()

    assert {"items", "total", "offset", "limit"} <= set(whole)
    assert whole["total"] == len(whole["items"]) >= 2, "the world has 2+ of each"
    assert first["items"] == whole["items"][:1]
    assert second["items"] == whole["items"][1:2]
    assert (first["total"], first["limit"], second["offset"]) == (whole["total"], 1, 1)


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "ten"}, "limit"), ({"limit": 0}, "limit"), ({"offset": -1}, "offset")],
)
def test_a_bad_page_parameter_is_a_400_naming_it(world, path, params, field):
    response = call(world, "GET", path, world.staff_token, **params)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert field in response.json()["fields"]


@pytest.mark.parametrize("path", LISTS)
def test_a_page_holds_at_most_500_items(world, path):
    response = call(world, "GET", path, world.staff_token, limit=100_000)

    assert response.status_code == 200
    assert response.json()["limit"] == 500
