"""One person never ranks twice: a solo player who creates or joins a team
brings their solo solves into it, and their solo row leaves the board."""

import pytest

from accounts.services import team_create, team_join, team_leave
from audit.models import EventLog, EventType
from challenges.models import Competition, PlayMode
from scoring.ledger import scores_verify
from scoring.models import Principal, PrincipalKind, ScoreReason, Solve
from scoring.selectors import principal_score
from scoring.services import hint_unlock
from scoring.tallies import question_value

from .factories import (
    attempt,
    flag_of,
    make_challenge,
    make_dynamic,
    make_hint,
    player,
    principal_of,
    question_of,
)
from .test_scoreboard import board


@pytest.fixture
def warmup(db):
    return make_challenge("Warmup", value=100)


@pytest.fixture
def heap(db):
    return make_dynamic("Heap", initial=500, decay=10, minimum=100)


def solo_principal(user) -> Principal:
    return Principal.objects.get(user=user, kind=PrincipalKind.SOLO)


def test_creating_a_team_brings_the_solo_solves_along(solo, warmup, heap, client):
    attempt(player("rival"), heap, flag_of(heap))
    attempt(solo, warmup, flag_of(warmup))
    attempt(solo, heap, flag_of(heap))
    assert principal_score(principal_of(solo)) == 100 + 496

    team_create(user=solo, name="Late Team")

    team = principal_of(solo)
    assert team.kind == PrincipalKind.TEAM
    assert principal_score(team) == 100 + 496
    assert principal_score(solo_principal(solo)) == 0
    assert set(Solve.objects.filter(principal=team).values_list("user", flat=True)) == {
        solo.pk
    }
    assert [(r["name"], r["score"]) for r in board(client.get("/scoreboard/"))] == [
        ("Late Team", 596),
        ("Team rival", 496),
    ]
    feed = client.get("/scoreboard/ctftime.json").json()["standings"]
    assert [entry["team"] for entry in feed] == ["Late Team", "Team rival"]
    assert question_value(question_of(heap)) == 496  # still two public solvers
    assert scores_verify() == []
    audit = EventLog.objects.get(event_type=EventType.SCORE_ADJUSTED)
    assert "2 moved, 0 already solved by the team" in audit.message


def test_joining_a_team_that_solved_it_drops_the_copy_and_values_follow(
    solo, captain, warmup, heap
):
    attempt(captain, heap, flag_of(heap))
    attempt(solo, heap, flag_of(heap))
    attempt(solo, warmup, flag_of(warmup))
    assert principal_score(principal_of(captain)) == 496

    team_join(user=solo, code=captain.team.invite_code)

    team = principal_of(captain)
    # One solver of Heap left: it is worth 500 again, and the team has Warmup.
    assert principal_score(team) == 500 + 100
    assert Solve.objects.filter(principal=team).count() == 2
    assert not Solve.objects.filter(principal=solo_principal(solo)).exists()
    assert scores_verify() == []


def test_a_first_blood_bonus_moves_with_its_solve(solo, warmup):
    Competition.objects.filter(is_default=True).update(first_blood_bonuses=[10])
    assert attempt(solo, warmup, flag_of(warmup)).first_blood == 10

    team_create(user=solo, name="Bloody")

    team = principal_of(solo)
    assert principal_score(team) == 110
    reasons = team.score_events.values_list("reason", "delta")
    assert sorted(reasons) == [(ScoreReason.FIRST_BLOOD, 10), (ScoreReason.SOLVE, 100)]
    assert scores_verify() == []


def test_hint_costs_stay_with_the_solo_row_which_returns_when_the_player_leaves(
    solo, warmup, client, django_capture_on_commit_callbacks
):
    hint_unlock(
        principal=principal_of(solo), hint=make_hint(warmup, cost=20), user=solo
    )
    attempt(solo, warmup, flag_of(warmup))
    team_create(user=solo, name="Hinted")
    assert [r["name"] for r in board(client.get("/scoreboard/"))] == ["Hinted"]
    assert principal_score(solo_principal(solo)) == -20

    with django_capture_on_commit_callbacks(execute=True):
        team_leave(user=solo)

    rows = {r["name"]: r["score"] for r in board(client.get("/scoreboard/"))}
    assert rows == {"Hinted": 100, "solo": -20}
    assert scores_verify() == []


def test_a_solo_only_competition_folds_nothing(solo, warmup, client):
    Competition.objects.filter(is_default=True).update(play_mode=PlayMode.SOLO)
    attempt(solo, warmup, flag_of(warmup))

    team_create(user=solo, name="Ignored")

    assert principal_score(principal_of(solo)) == 100
    assert principal_of(solo).kind == PrincipalKind.SOLO
    assert [r["name"] for r in board(client.get("/scoreboard/"))] == ["solo"]
