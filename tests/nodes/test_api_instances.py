"""Instance routes: a player's view of the team's instance (no container ids,
no errors), the guards (hidden or locked: 404 like an unknown challenge), the
services' refusals as 409 with their code, and the organizer's list, stop,
extend and latency histogram. Rows only here; tests/sdk/test_instances.py
starts real containers."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.services import token_create
from audit.models import EventLog, EventType
from challenges.models import Challenge, ChallengeState
from nodes.models import Instance, InstanceStatus
from scoring.services import principal_resolve
from tests.api_world import build_world
from tests.challenges.factories import fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
P = "/api/v1/"


@pytest.fixture
def world(transactional_db, tmp_path, settings):
    return build_world(tmp_path / "catalog", settings)


def api(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


def post(client: Client, url: str):
    return client.post(url, {}, content_type="application/json")


def change(challenge: Challenge, **fields) -> None:
    # Saved, not updated: a save moves the catalog version the caches follow.
    for name, value in fields.items():
        setattr(challenge, name, value)
    with transaction.atomic():  # as the admin saves it
        challenge.save()


INSTANCED = {"services": [], "instance": {"ports": [1337]}}


def test_a_player_sees_the_teams_running_instance(world):
    member = world.captain.team.members.exclude(pk=world.captain.pk).get()
    teammate = api(token_create(user=member)[1])

    mine = api(world.captain_token).get(P + f"challenges/{world.warmup.pk}/instance")
    theirs = teammate.get(P + f"challenges/{world.warmup.pk}/instance")

    assert mine.status_code == 200 and theirs.json() == mine.json()
    view = mine.json()
    assert (view["id"], view["status"]) == (world.running.pk, "running")
    assert view["host"] == "127.0.0.1" and view["connection"] == "127.0.0.1:31337"
    assert view["ports"] == [{"service": "challenge", "port": 1337, "host_port": 31337}]
    assert 24 * 60 <= view["seconds_left"] <= 25 * 60
    # 25 minutes left, more than the 10-minute extension step: not yet.
    assert view["can_extend"] is False and view["extensions_left"] == 2
    assert not {"containers", "error", "log_tail", "node"} & set(view)


def test_a_stopped_instance_shows_its_message_and_no_connection(world):
    view = api(world.player_token).get(P + f"challenges/{world.vault.pk}/instance")

    assert view.json()["status"] == "stopped" and view.json()["message"] == "Stopped."
    assert (view.json()["host"], view.json()["connection"]) == ("", "")
    nothing = api(world.player_token).get(P + f"challenges/{world.warmup.pk}/instance")
    assert nothing.status_code == 404 and nothing.json()["error"] == "no_instance"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("post", ""), ("post", "/extend"), ("delete", "")],
)
def test_a_hidden_or_locked_challenge_is_a_404_as_an_unknown_one(world, method, suffix):
    change(world.warmup, state=ChallengeState.HIDDEN, services=INSTANCED)
    change(
        world.vault,
        requirement='(COMPLETED "Warmup")',
        locked_visibility="locked",
        services=INSTANCED,
    )
    player = api(world.player_token)

    def call(challenge_id: int):
        url = P + f"challenges/{challenge_id}/instance{suffix}"
        if method == "post":
            return post(player, url)
        return getattr(player, method)(url)

    hidden, locked, unknown = call(world.warmup.pk), call(world.vault.pk), call(999999)

    for answer in (hidden, locked, unknown):
        assert answer.status_code == 404
        assert answer.json() == unknown.json()
    assert Instance.objects.count() == 2  # nothing started, nothing stopped


def test_refusals_are_409_with_the_services_code_and_sentence(world):
    player = api(world.player_token)
    url = P + f"challenges/{world.vault.pk}/instance"

    start = post(player, url)
    extend = post(player, url + "/extend")
    stop = player.delete(url)

    assert start.status_code == 409
    assert start.json() == {
        "error": "not_instanced",
        "detail": "This challenge has no instance to start.",
    }
    assert (extend.status_code, extend.json()["error"]) == (409, "not_instanced")
    # Stopping needs no instance settings, only an active instance.
    assert (stop.status_code, stop.json()["error"]) == (409, "not_active")


def test_a_player_stops_the_teams_instance(world):
    captain = api(world.captain_token)
    url = P + f"challenges/{world.warmup.pk}/instance"

    stopped = captain.delete(url)
    again = captain.delete(url)

    assert stopped.status_code == 200 and stopped.json()["status"] in (
        "stopping",
        "stopped",
    )
    world.running.refresh_from_db()
    assert world.running.status in (InstanceStatus.STOPPING, InstanceStatus.STOPPED)
    assert (again.status_code, again.json()["error"]) == (409, "not_active")
    event = EventLog.objects.get(event_type=EventType.INSTANCE_CHANGED)
    assert event.actor == world.captain and event.message == "instance stopped"


def test_the_organizer_lists_instances_with_filters(world):
    staff = api(world.staff_token)

    def ids(**params):
        page = staff.get(P + "admin/instances", params).json()
        return [i["id"] for i in page["items"]]

    every = staff.get(P + "admin/instances").json()

    assert [i["id"] for i in every["items"]] == [world.running.pk, world.stopped.pk]
    record = every["items"][0]
    assert record["principal"] == {
        "id": world.team_principal.pk,
        "name": "Null Pointers",
    }
    assert record["challenge"] == {"id": world.warmup.pk, "name": "Warmup"}
    assert (record["node"], record["latency_ms"]) == ("north", 800)
    assert {"containers", "error", "log_tail", "started_by"} <= set(record)
    assert ids(status="stopped") == [world.stopped.pk]
    assert ids(challenge_id=world.warmup.pk) == [world.running.pk]
    assert ids(principal_id=world.solo_principal.pk) == [world.stopped.pk]
    assert ids(node_id=world.node.pk) == [world.running.pk, world.stopped.pk]
    assert ids(node_id=999999) == []
    bad = staff.get(P + "admin/instances", {"status": "asleep"})
    assert bad.status_code == 400 and "status" in bad.json()["fields"]


def test_the_list_costs_the_same_queries_for_2_and_12_instances(world):
    staff = api(world.staff_token)

    def queries() -> tuple[int, int]:
        staff.get(P + "admin/instances")  # the token, looked up once
        with CaptureQueriesContext(connection) as captured:
            page = staff.get(P + "admin/instances").json()
        return page["total"], len(captured)

    few = queries()
    for n in range(10):
        user = User.objects.create_user(f"p{n}", email=f"p{n}@example.org")
        Instance.objects.create(
            principal=principal_resolve(user=user, competition=world.competition),
            challenge=world.warmup,
            competition=world.competition,
            node=world.node,
            status=InstanceStatus.STOPPED,
        )
    many = queries()

    assert (few[0], many[0]) == (2, 12)
    assert few[1] == many[1]


def test_the_organizer_extends_at_any_time_and_stops(world):
    change(world.warmup, services=INSTANCED)
    Instance.objects.filter(pk=world.running.pk).update(
        expires_at=timezone.now() + timedelta(hours=2)
    )
    staff = api(world.staff_token)
    # A player may not yet: more than the extension step is left.
    early = post(
        api(world.captain_token), P + f"challenges/{world.warmup.pk}/instance/extend"
    )

    extended = post(staff, P + f"admin/instances/{world.running.pk}/extend")
    stopped = post(staff, P + f"admin/instances/{world.running.pk}/stop")
    again = post(staff, P + f"admin/instances/{world.running.pk}/stop")

    assert (early.status_code, early.json()["error"]) == (409, "extend_not_yet")
    assert extended.status_code == 200 and extended.json()["extensions"] == 1
    world.running.refresh_from_db()
    assert world.running.extensions == 1
    assert stopped.status_code == 200
    assert stopped.json()["status"] in ("stopping", "stopped")
    assert (again.status_code, again.json()["error"]) == (409, "not_active")
    refused = post(staff, P + f"admin/instances/{world.stopped.pk}/extend")
    assert (refused.status_code, refused.json()["error"]) == (409, "not_active")


def test_the_latency_histogram_counts_starts_per_bucket(world):
    staff = api(world.staff_token)

    every = staff.get(P + "admin/challenges/latency-histogram").json()
    vault = staff.get(
        P + "admin/challenges/latency-histogram", {"challenge_id": world.vault.pk}
    ).json()

    counts = {b["le_ms"]: b["count"] for b in every["buckets"]}
    assert list(counts) == [250, 500, 1000, 2000, 5000, 10000, 30000, None]
    assert (counts[1000], counts[5000], sum(counts.values())) == (1, 1, 2)
    assert sum(b["count"] for b in vault["buckets"]) == 1
    bad = staff.get(P + "admin/challenges/latency-histogram", {"challenge_id": "x"})
    assert bad.status_code == 400 and "challenge_id" in bad.json()["fields"]
