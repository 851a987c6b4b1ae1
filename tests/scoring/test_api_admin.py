"""Scoring's organizer routes and the player scoreboard over the API: what
each answers, what it changes, and how it names bad input."""

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import token_create
from audit.models import EventLog, EventType
from challenges.models import Competition
from challenges.services import competition_freeze
from scoring.models import AttemptReset, Principal, Submission
from scoring.selectors import principal_score

from .factories import (
    attempt,
    flag_of,
    make_challenge,
    player,
    principal_of,
    question_of,
)

A = "/api/v1/admin/"


def api_as(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token_create(user=user)[1]}")


@pytest.fixture
def staff(organizer):
    return api_as(organizer)


@pytest.fixture
def login_chal(db):
    return make_challenge("Login", category="web", value=100)


def post(api, url, **body):
    return api.post(url, body, content_type="application/json")


def fields(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["fields"]


# Statistics


def test_stats_default_to_the_default_competition_and_name_a_bad_one(staff, login_chal):
    attempt(player("alice"), login_chal, flag_of(login_chal))

    default = staff.get(A + "challenges/stats").json()
    unknown = staff.get(A + "challenges/stats", {"competition_id": 999999})
    bad_order = staff.get(A + "challenges/stats", {"ordering": "score"})

    assert [(r["name"], r["solves"]) for r in default["items"]] == [("Login", 1)]
    assert "competition_id" in fields(unknown)
    assert "ordering" in fields(bad_order)


def test_stats_of_another_competition_are_its_own(staff, login_chal):
    finals = Competition.objects.create(name="Finals", slug="finals")
    attempt(player("alice"), login_chal, flag_of(login_chal))

    page = staff.get(A + "challenges/stats", {"competition_id": finals.pk}).json()

    assert [(r["name"], r["attempts"], r["solves"]) for r in page["items"]] == [
        ("Login", 0, 0)
    ]


def test_a_timeseries_names_the_bound_it_breaks(staff, login_chal):
    url = A + f"challenges/{login_chal.pk}/timeseries"

    assert "window" in fields(staff.get(url, {"window": 0}))
    assert "window" in fields(staff.get(url, {"window": 90 * 86400}))
    assert "bucket" in fields(staff.get(url, {"window": 86400, "bucket": 60}))
    assert "bucket" in fields(staff.get(url, {"bucket": "hourly"}))
    assert staff.get(A + "challenges/999999/timeseries").status_code == 404


def test_a_timeseries_answers_its_buckets(staff, login_chal):
    attempt(player("alice"), login_chal, "CTF{no}")

    series = staff.get(
        A + f"challenges/{login_chal.pk}/timeseries", {"window": 600, "bucket": 60}
    ).json()

    assert series["challenge_id"] == login_chal.pk and series["bucket"] == 60
    assert len(series["buckets"]) == 10
    assert series["buckets"][-1] | {"start": None} == {
        "start": None,
        "attempts": 1,
        "wrong": 1,
        "solves": 0,
    }


# Attempt resets


@pytest.fixture
def capped(db):
    return make_challenge("Capped", attempts=1)


def test_a_reset_lets_the_team_try_again(staff, capped):
    alice = player("alice")
    attempt(alice, capped, "CTF{no}")
    assert attempt(alice, capped, flag_of(capped)).result == "refused"
    url = (
        A + f"teams/{alice.team_id}/questions/{capped.pk}/"
        f"{question_of(capped).pk}/reset-attempts"
    )

    response = post(staff, url, reason="the flag had a typo")

    assert response.status_code == 200
    assert response.json()["principal_id"] == principal_of(alice).pk
    assert AttemptReset.objects.get().reason == "the flag had a typo"
    assert attempt(alice, capped, flag_of(capped)).result == "correct"


def test_a_reset_names_what_is_missing(staff, capped):
    alice, bystander = player("alice"), player("bystander")
    principal_of(alice)
    question = question_of(capped)
    other = make_challenge("Other")

    def url(team, challenge, question_id):
        return A + f"teams/{team}/questions/{challenge}/{question_id}/reset-attempts"

    no_reason = post(staff, url(alice.team_id, capped.pk, question.pk))
    wrong_pair = post(staff, url(alice.team_id, other.pk, question.pk), reason="x")
    unplayed = post(staff, url(bystander.team_id, capped.pk, question.pk), reason="x")

    assert "reason" in fields(no_reason)
    assert wrong_pair.status_code == 404
    assert unplayed.status_code == 404
    assert (
        unplayed.json()["detail"] == "Team bystander has not played in Main event yet."
    )
    assert AttemptReset.objects.count() == 0


# Principals


def test_principals_filter_by_ban_and_search(staff, login_chal):
    for name in ("alice", "bob", "carol"):
        principal_of(player(name))
    post(staff, A + f"principals/{principal_of(player('dave')).pk}/ban", reason="x")

    banned = staff.get(A + "principals", {"banned": "true"}).json()["items"]
    found = staff.get(A + "principals", {"search": "CAR"}).json()["items"]

    assert [p["name"] for p in banned] == ["Team dave"]
    assert [p["name"] for p in found] == ["Team carol"]
    assert "banned" in fields(staff.get(A + "principals", {"banned": "maybe"}))


def test_a_ban_and_an_unban_are_audited_with_the_reason(staff, organizer):
    principal = principal_of(player("alice"))

    first = post(staff, A + f"principals/{principal.pk}/ban", reason="shared flags")
    again = post(staff, A + f"principals/{principal.pk}/ban", reason="shared flags")
    lifted = post(staff, A + f"principals/{principal.pk}/unban")

    assert first.json()["changed"] is True and again.json()["changed"] is False
    assert lifted.json()["principal"]["is_banned"] is False
    messages = list(
        EventLog.objects.filter(event_type=EventType.USER_BAN_TOGGLED)
        .order_by("pk")
        .values_list("message", "actor")
    )
    assert messages == [
        ("banned: shared flags", organizer.pk),
        ("unbanned", organizer.pk),
    ]


def test_an_adjustment_needs_a_note_and_a_real_delta(staff):
    principal = principal_of(player("alice"))
    url = A + f"principals/{principal.pk}/adjust-score"

    assert "note" in fields(post(staff, url, delta=5))
    assert "note" in fields(post(staff, url, delta=5, note="   "))
    assert "delta" in fields(post(staff, url, delta=0, note="x"))
    assert "delta" in fields(post(staff, url, delta=10**9, note="x"))
    done = post(staff, url, delta=-20, note="late writeup")

    assert done.json()["score"] == -20 == principal_score(principal)


# Submissions


def test_submissions_filter_by_time_team_category_and_flag(staff, login_chal):
    pwn = make_challenge("Overflow", category="pwn")
    alice, bob = player("alice"), player("bob")
    attempt(alice, login_chal, "CTF{guess}")
    attempt(bob, pwn, "CTF{guess}")
    attempt(bob, pwn, flag_of(pwn))
    Submission.objects.filter(principal=principal_of(alice)).update(
        created_at=timezone.now() - timedelta(hours=2)
    )

    def names(**params):
        items = staff.get(A + "submissions", params).json()["items"]
        return [(s["principal"], s["challenge"], s["result"]) for s in items]

    since = (timezone.now() - timedelta(hours=1)).isoformat()
    guess = hashlib.sha256(b"CTF{guess}").hexdigest()
    assert names(since=since) == [
        ("Team bob", "Overflow", "correct"),
        ("Team bob", "Overflow", "wrong"),
    ]
    assert names(until=since) == [("Team alice", "Login", "wrong")]
    assert names(team_id=alice.team_id) == [("Team alice", "Login", "wrong")]
    assert names(category="pwn", result="correct") == [
        ("Team bob", "Overflow", "correct")
    ]
    assert {n[0] for n in names(flag_sha256=guess)} == {"Team alice", "Team bob"}
    assert "flag_sha256" in fields(staff.get(A + "submissions", {"flag_sha256": "x"}))
    assert "since" in fields(staff.get(A + "submissions", {"since": "yesterday"}))


def test_a_submission_shows_the_hash_never_the_flag(staff, login_chal):
    attempt(player("alice"), login_chal, "CTF{my secret guess}")

    body = staff.get(A + "submissions").content.decode()

    assert "my secret guess" not in body
    assert hashlib.sha256(b"CTF{my secret guess}").hexdigest() in body


# The player scoreboard


@pytest.fixture
def race(db, login_chal):
    """alice solved Login first, bob too and one more; carol plays solo."""
    pwn = make_challenge("Overflow", value=50)
    alice, bob, carol = player("alice"), player("bob"), player("carol", team=False)
    attempt(alice, login_chal, flag_of(login_chal))
    attempt(bob, login_chal, flag_of(login_chal))
    principal_of(carol)
    return alice, bob, carol, pwn


def rows(api, **params):
    return [
        (r["rank"], r["name"], r["score"])
        for r in api.get("/api/v1/scoreboard", params).json()["items"]
    ]


def test_the_scoreboard_ranks_and_filters(race):
    alice, bob, carol, pwn = race
    attempt(bob, pwn, flag_of(pwn))
    api = api_as(alice)

    page = api.get("/api/v1/scoreboard", {"limit": 2}).json()

    assert rows(api) == [(1, "Team bob", 150), (2, "Team alice", 100), (3, "carol", 0)]
    assert rows(api, filter="solo") == [(1, "carol", 0)]
    assert page["total"] == 3 and len(page["items"]) == 2
    assert page["mine"]["name"] == "Team alice" and page["mine"]["rank"] == 2
    assert page["frozen"] is False and page["freeze_at"] is None
    assert "filter" in fields(api.get("/api/v1/scoreboard", {"filter": "bots"}))


def test_a_frozen_scoreboard_stays_frozen_for_players_not_for_staff(
    race, organizer, staff
):
    alice, bob, carol, pwn = race
    competition_freeze(competition=Competition.objects.default(), actor=organizer)
    attempt(bob, pwn, flag_of(pwn))  # after the freeze
    api = api_as(carol)

    frozen = api.get("/api/v1/scoreboard", {"live": "true"}).json()

    assert frozen["frozen"] is True and frozen["freeze_at"]
    assert [r["score"] for r in frozen["items"]] == [100, 100, 0]
    assert rows(staff, live="true")[0] == (1, "Team bob", 150)
    assert Principal.objects.get(team=bob.team).solve_count == 2
