"""Instance rules that need no engine: who may start, the per-principal limit,
extensions, race-proof placement under capacity, what players see, and the
latency histogram."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.services import team_join
from challenges.models import Challenge, Competition, PlayMode
from nodes.models import Instance, InstanceStatus, Node, NodeStatus
from nodes.selectors import (
    instance_of,
    instance_record,
    instance_view,
    latency_histogram,
)
from nodes.services.instances import (
    InstanceRefused,
    instance_extend,
    instance_start,
    instance_stop,
)
from nodes.services.launch import StartFailed, _place
from scoring.services import principal_resolve
from tests.scoring.factories import make_challenge, player

INSTANCE = {"services": [{"name": "challenge", "image": "x"}], "instance": {}}


def instanced(name: str = "Box", **fields) -> Challenge:
    fields.setdefault("services", INSTANCE)
    fields.setdefault("connection_info", "nc {host} {port}")
    return make_challenge(name, **fields)


def online_node(name: str = "n1", capacity: int = 50) -> Node:
    return Node.objects.create(
        name=name,
        url="tcp://127.0.0.1:1",
        status=NodeStatus.ONLINE,
        capacity=capacity,
        public_address=f"{name}.example.org",
    )


def refused(**kwargs) -> str:
    with pytest.raises(InstanceRefused) as caught:
        instance_start(**kwargs)
    assert caught.value.message
    return caught.value.code


def running_instance(user, challenge, *, left: int, extensions: int = 0) -> Instance:
    competition = Competition.objects.default()
    return Instance.objects.create(
        principal=principal_resolve(user=user, competition=competition),
        challenge=challenge,
        competition=competition,
        node=Node.objects.first() or online_node(),
        status=InstanceStatus.RUNNING,
        running_at=timezone.now(),
        expires_at=timezone.now() + timedelta(seconds=left),
        extensions=extensions,
        ports=[{"service": "challenge", "port": 9000, "host_port": 32777}],
    )


@pytest.fixture
def node(db) -> Node:
    return online_node()


def test_it_creates_a_starting_row_and_shares_it_with_teammates(node, captain, member):
    challenge = instanced()

    first = instance_start(user=captain, challenge=challenge)
    second = instance_start(user=member, challenge=challenge)

    assert first.pk == second.pk
    assert first.status == InstanceStatus.STARTING and first.started_by == captain
    assert instance_of(user=member, challenge=challenge) == first


def test_it_refuses_what_the_player_may_not_start(node, solo):
    assert refused(user=solo, challenge=make_challenge("Plain")) == "not_instanced"
    locked = instanced("Locked", requirement='(COMPLETED "Plain")')
    assert refused(user=solo, challenge=locked) == "locked"
    hidden = instanced("Hidden", state="hidden")
    assert refused(user=solo, challenge=hidden) == "locked"
    privileged = INSTANCE | {
        "services": [{"name": "c", "image": "x", "privileged": True}]
    }
    untrusted = instanced("Privileged", services=privileged)
    assert refused(user=solo, challenge=untrusted) == "untrusted"
    assert not Instance.objects.exists()


def test_it_refuses_when_the_competition_is_over_or_excludes_the_player(node, solo):
    challenge = instanced()
    competition = Competition.objects.default()
    competition.ends_at = timezone.now() - timedelta(minutes=1)
    competition.save()
    assert refused(user=solo, challenge=challenge) == "over"

    competition.ends_at = None
    competition.play_mode = PlayMode.TEAMS
    competition.save()
    assert refused(user=solo, challenge=challenge) == "no_principal"


def test_it_refuses_without_a_node(db, solo):
    assert refused(user=solo, challenge=instanced()) == "no_node"


def test_it_keeps_the_principal_under_its_limit(node, captain, member):
    competition = Competition.objects.default()
    competition.instance_max_per_principal = 2
    competition.save()
    boxes = [instanced(f"Box {n}") for n in range(3)]
    instance_start(user=captain, challenge=boxes[0])
    instance_start(user=member, challenge=boxes[1])

    assert refused(user=member, challenge=boxes[2]) == "limit"

    instance_stop(instance=Instance.objects.first(), actor=captain)
    assert instance_start(user=member, challenge=boxes[2]).status == "starting"


def test_it_extends_only_in_the_last_part_and_up_to_the_maximum(node, solo):
    competition = Competition.objects.default()
    competition.instance_extension = 600
    competition.instance_max_extensions = 1
    competition.save()
    challenge = instanced()
    instance = running_instance(solo, challenge, left=900)

    with pytest.raises(InstanceRefused) as early:
        instance_extend(user=solo, challenge=challenge)
    assert early.value.code == "extend_not_yet"
    assert instance_view(instance)["can_extend"] is False

    Instance.objects.filter(pk=instance.pk).update(
        expires_at=timezone.now() + timedelta(seconds=300)
    )
    instance.refresh_from_db()
    assert instance_view(instance)["can_extend"] is True
    extended = instance_extend(user=solo, challenge=challenge)

    assert extended.extensions == 1
    assert extended.expires_at == instance.expires_at + timedelta(seconds=600)
    with pytest.raises(InstanceRefused) as spent:
        instance_extend(instance=extended, actor=solo)
    assert spent.value.code == "extend_max"
    assert instance_view(extended)["extensions_left"] == 0


def test_an_admin_extends_early_but_never_past_the_end(node, solo, organizer):
    competition = Competition.objects.default()
    competition.ends_at = timezone.now() + timedelta(seconds=2000)
    competition.save()
    instance = running_instance(solo, instanced(), left=1500)

    extended = instance_extend(instance=instance, actor=organizer)

    assert extended.expires_at == competition.ends_at
    with pytest.raises(InstanceRefused) as at_end:
        instance_extend(instance=extended, actor=organizer)
    assert at_end.value.code == "extend_max"


def test_players_see_the_connection_and_admins_the_details(node, solo):
    instance = running_instance(solo, instanced(), left=120)
    Instance.objects.filter(pk=instance.pk).update(
        error="boom", log_tail="last line", latency_ms=420
    )
    instance.refresh_from_db()

    view = instance_view(instance)
    record = instance_record(instance)

    assert view["connection"] == "nc n1.example.org 32777"
    assert view["host"] == "n1.example.org"
    assert 100 < view["seconds_left"] <= 120
    assert "error" not in view and "log_tail" not in view and "containers" not in view
    assert record["error"] == "boom" and record["log_tail"] == "last line"
    assert record["latency_ms"] == 420 and record["node"] == "n1"


def test_the_latency_histogram_counts_instances_per_bucket(node, solo):
    challenge = instanced()
    for n, latency in enumerate((100, 250, 251, 900, 45000, None)):
        user = player(f"p{n}", team=False)
        row = running_instance(user, challenge, left=60)
        Instance.objects.filter(pk=row.pk).update(latency_ms=latency)

    buckets = latency_histogram(challenge_id=challenge.pk)

    assert [b["le_ms"] for b in buckets] == [
        250,
        500,
        1000,
        2000,
        5000,
        10000,
        30000,
        None,
    ]
    assert [b["count"] for b in buckets] == [2, 1, 1, 0, 0, 0, 0, 1]
    assert sum(b["count"] for b in latency_histogram(challenge_id=-1)) == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_placements_never_exceed_capacity():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (make test provides it)")
    small, smaller = online_node("small", capacity=4), online_node("smaller", 3)
    challenge = instanced()
    competition = Competition.objects.default()
    rows = []
    for n in range(32):
        user = player(f"racer{n}", team=False)
        rows.append(
            Instance.objects.create(
                principal=principal_resolve(user=user, competition=competition),
                challenge=challenge,
                competition=competition,
            )
        )
    barrier = threading.Barrier(len(rows))
    placed, full = [], []

    def place(row: Instance) -> None:
        barrier.wait()
        try:
            placed.append(_place(row))
        except StartFailed as failure:
            full.append(failure.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=place, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(placed) == 7 and len(full) == 25
    assert all("full" in message for message in full)
    counts = {n.name: Instance.objects.filter(node=n).count() for n in (small, smaller)}
    assert counts == {"small": 4, "smaller": 3}


def test_a_new_member_joins_the_teams_instance(node, captain, team):
    challenge = instanced()
    instance = instance_start(user=captain, challenge=challenge)
    newcomer = player("newcomer", team=False)
    team_join(user=newcomer, code=team.invite_code)
    newcomer.refresh_from_db()

    assert instance_of(user=newcomer, challenge=challenge) == instance


def test_the_competitions_lifetime_wins_over_the_specs(node, solo):
    from nodes.services.launch import _expiry

    competition = Competition.objects.default()
    spec = {**INSTANCE, "instance": {"lifetime": 600}}
    instance = running_instance(solo, instanced(services=spec), left=0)
    now = timezone.now()
    assert _expiry(instance, now) == now + timedelta(seconds=600)
    competition.instance_lifetime = 120
    competition.save()
    instance.competition.refresh_from_db()
    assert _expiry(instance, now) == now + timedelta(seconds=120)
    instance.challenge.services = INSTANCE
    competition.instance_lifetime = None
    competition.save()
    instance.competition.refresh_from_db()
    assert _expiry(instance, now) == now + timedelta(minutes=30)


def test_a_banned_team_cannot_start_and_loses_what_runs(node, solo, organizer):
    from nodes.services.instances import instances_reap
    from scoring.services import principal_set_banned

    challenge = instanced()
    instance = running_instance(solo, challenge, left=900)
    principal_set_banned(principal=instance.principal, banned=True, actor=organizer)

    assert refused(user=solo, challenge=instanced("Other")) == "banned"
    instances_reap()
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.STOPPED
    assert "banned" in instance_view(instance)["message"]
