"""Challenges' organizer routes: the challenge list and detail, hide and show,
players' feedback, competitions and their freeze (the rescan, a task: nodes)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import token_create
from audit.models import EventLog, EventType
from challenges.models import Competition
from challenges.services import feedback_set

from .factories import (
    fast_password_hashing,  # noqa: F401  (fixture)
    make_challenge,
    team_with_players,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
A = "/api/v1/admin/"


@pytest.fixture
def staff(organizer) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token_create(user=organizer)[1]}")


def post(api, url, **body):
    return api.post(url, body, content_type="application/json")


def names(response) -> list[str]:
    return [item["name"] for item in response.json()["items"]]


def test_the_list_shows_hidden_and_troubled_challenges_with_filters(staff):
    make_challenge("Login", category="web")
    make_challenge("Secret", category="web", state="hidden")
    make_challenge("Broken", category="pwn", spec_error="challenge.yml:3: bad value")
    make_challenge("Gone", category="pwn", is_missing=True)

    assert names(staff.get(A + "challenges")) == ["Broken", "Gone", "Login", "Secret"]
    assert names(staff.get(A + "challenges", {"state": "hidden"})) == ["Secret"]
    assert names(staff.get(A + "challenges", {"problem": "true"})) == ["Broken", "Gone"]
    assert names(staff.get(A + "challenges", {"problem": "false"})) == [
        "Login",
        "Secret",
    ]
    assert names(staff.get(A + "challenges", {"search": "log"})) == ["Login"]
    assert names(staff.get(A + "challenges", {"category": "pwn"})) == [
        "Broken",
        "Gone",
    ]
    assert staff.get(A + "challenges", {"state": "gone"}).status_code == 400


def test_the_detail_names_flag_kinds_never_flags(staff):
    vault = make_challenge(
        "Vault",
        questions=("door", "safe"),
        flags=[{"kind": "regex", "content": "CTF\\{d[0o]+r\\}", "template": ""}],
    )

    response = staff.get(A + f"challenges/{vault.pk}")

    data = response.json()
    assert [(q["key"], q["flag_kinds"]) for q in data["questions"]] == [
        ("door", ["regex"]),
        ("safe", ["regex"]),
    ]
    assert data["question_count"] == 2
    assert "d[0o]" not in response.content.decode()


def test_hiding_and_showing_are_audited(staff, organizer):
    login = make_challenge("Login")

    hidden = post(staff, A + f"challenges/{login.pk}/hide")
    shown = post(staff, A + f"challenges/{login.pk}/show")

    assert hidden.json()["challenge"]["state"] == "hidden"
    assert shown.json()["challenge"]["state"] == "visible"
    changes = EventLog.objects.filter(event_type=EventType.CHALLENGE_CHANGED)
    assert [e.message for e in changes.order_by("pk")] == [
        "state visible → hidden",
        "state hidden → visible",
    ]
    assert {e.actor_id for e in changes} == {organizer.pk}


def test_feedback_lists_every_reaction_and_filters_by_competition(staff):
    login = make_challenge("Login")
    finals = Competition.objects.create(name="Finals", slug="finals")
    team = team_with_players("Rooters", size=2)
    captain, member = team.members.order_by("pk")
    feedback_set(
        user=captain,
        challenge=login,
        competition=Competition.objects.default(),
        vote=1,
        comment="fun",
    )
    feedback_set(user=member, challenge=login, competition=finals, vote=-1)

    every = staff.get(A + f"challenges/{login.pk}/feedback").json()["items"]
    in_finals = staff.get(
        A + f"challenges/{login.pk}/feedback", {"competition_id": finals.pk}
    ).json()["items"]

    assert {(f["user"], f["team"], f["reaction"], f["comment"]) for f in every} == {
        (captain.username, "Rooters", "up", "fun"),
        (member.username, "Rooters", "down", ""),
    }
    downs = staff.get(A + f"challenges/{login.pk}/feedback", {"reaction": "down"})
    assert [f["user_id"] for f in in_finals] == [member.pk]
    assert [f["user_id"] for f in downs.json()["items"]] == [member.pk]
    assert staff.get(A + "challenges/999999/feedback").status_code == 404


def test_competitions_say_their_phase_and_time_left(staff):
    now = timezone.now()
    Competition.objects.create(
        name="Finals", slug="finals", starts_at=now + timedelta(days=1)
    )
    Competition.objects.create(
        name="Quals",
        slug="quals",
        starts_at=now - timedelta(days=2),
        ends_at=now - timedelta(days=1),
    )

    items = staff.get(A + "competitions").json()["items"]

    phases = {c["name"]: (c["phase"], c["next_change"]) for c in items}
    assert phases["Main event"] == ("running", None)
    assert phases["Finals"][0] == "not_started" and phases["Finals"][1]
    assert phases["Quals"] == ("ended", None)


def test_a_freeze_can_be_scheduled_and_cancelled(staff):
    main = Competition.objects.default()
    later = timezone.now() + timedelta(hours=3)
    url = A + f"competitions/{main.pk}/"

    scheduled = post(staff, url + "freeze", at=later.isoformat()).json()
    cancelled = post(staff, url + "unfreeze").json()
    now = post(staff, url + "freeze").json()

    assert (scheduled["phase"], scheduled["frozen"]) == ("running", False)
    assert cancelled["freeze_at"] is None
    assert (now["phase"], now["frozen"]) == ("frozen", True)
    assert "at" in post(staff, url + "freeze", at="tomorrow").json()["fields"]
