"""`/api/v1/challenges`: the board and a challenge, with the pages' access rules."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import token_create
from challenges.models import Challenge, Competition, Hint
from scoring.derivation import derive_flag

from .factories import (
    fast_password_hashing,  # noqa: F401  (fixture)
    make_challenge,
    principal_of,
    solve,
    team_with_players,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

LIST = "/api/v1/challenges"


def detail(challenge) -> str:
    return f"/api/v1/challenges/{challenge.pk}"


def api_client(user) -> Client:
    _, raw = token_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {raw}")


@pytest.fixture
def api(solo):
    return api_client(solo)


@pytest.fixture
def board(db):
    """Open, locked, preview and hidden-when-locked challenges."""
    warmup = make_challenge(
        "Warmup", category="misc", value=50, description="Say **hi**.", author="alice"
    )
    Hint.objects.create(challenge=warmup, title="Free", content="Just say hi.")
    Hint.objects.create(
        challenge=warmup, title="Paid", content="CTF{...}", cost=10, position=1
    )
    gate = '(COMPLETED "Warmup")'
    return {
        "warmup": warmup,
        "locked": make_challenge(
            "Locked",
            category="web",
            requirement=gate,
            locked_visibility="locked",
            description="Top secret SWORDFISH.",
        ),
        "preview": make_challenge(
            "Preview",
            category="web",
            value=300,
            requirement=gate,
            locked_visibility="preview",
            description="Preview secret MARLIN.",
        ),
        "hidden": make_challenge("Hidden", category="pwn", requirement=gate),
        "admin-hidden": make_challenge("Admin hid it", state="hidden"),
        "missing": make_challenge("Folder gone", is_missing=True),
    }


@pytest.mark.parametrize("url", [LIST, "/api/v1/challenges/1"])
def test_it_answers_401_without_a_token(client, db, url):
    response = client.get(url)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_it_answers_401_with_a_bad_token(db):
    response = Client(HTTP_AUTHORIZATION="Token nope").get(LIST)

    assert response.status_code == 401


def test_it_lists_what_the_board_shows(api, board):
    response = api.get(LIST)

    assert response.status_code == 200
    assert response.json()["total"] == 3
    assert response.json()["items"] == [
        {
            "id": board["warmup"].pk,
            "name": "Warmup",
            "category": "misc",
            "points": 50,
            "solve_count": 0,
            "solved": False,
            "locked": False,
            "explanation": "",
        },
        # A preview promises name, category and points; no solve count.
        {
            "id": board["preview"].pk,
            "name": "Preview",
            "category": "web",
            "points": 300,
            "solve_count": None,
            "solved": False,
            "locked": True,
            "explanation": "Solve Warmup",
        },
        # A locked card is anonymous, as on the board, and comes last.
        {
            "id": board["locked"].pk,
            "name": None,
            "category": None,
            "points": None,
            "solve_count": None,
            "solved": False,
            "locked": True,
            "explanation": "Solve Warmup",
        },
    ]


def test_it_lists_the_board_a_page_at_a_time(api, board):
    first = api.get(LIST, {"limit": 2}).json()
    rest = api.get(LIST, {"offset": 2, "limit": 2}).json()

    assert [c["name"] for c in first["items"]] == ["Warmup", "Preview"]
    assert [c["name"] for c in rest["items"]] == [None]  # the anonymous card
    assert (first["total"], rest["total"], rest["offset"]) == (3, 3, 2)


def test_it_lists_everything_open_once_the_requirement_is_met(solo, api, board):
    solve(principal_of(solo), board["warmup"])

    data = api.get(LIST).json()["items"]

    assert [(c["name"], c["locked"], c["solved"]) for c in data] == [
        ("Warmup", False, True),
        ("Hidden", False, False),
        ("Locked", False, False),
        ("Preview", False, False),
    ]


def test_it_shows_an_open_challenge(api, board):
    response = api.get(detail(board["warmup"]))

    data = response.json()
    assert response.status_code == 200
    assert data["description_html"] == "<p>Say <strong>hi</strong>.</p>"
    assert data["author"] == "alice"
    assert [(h["title"], h["content"]) for h in data["hints"]] == [
        ("Free", "Just say hi."),
        ("Paid", None),
    ]
    assert [(q["key"], q["solved"]) for q in data["questions"]] == [("main", False)]


@pytest.mark.parametrize("which", ["locked", "preview"])
def test_a_locked_challenge_answers_403_with_the_explanation(api, board, which):
    response = api.get(detail(board[which]))

    data = response.json()
    assert response.status_code == 403
    assert data["locked"] is True
    assert data["explanation"] == "Solve Warmup"
    assert "description_html" not in data
    assert "questions" not in data
    assert "SWORDFISH" not in response.content.decode()
    assert "MARLIN" not in response.content.decode()


@pytest.mark.parametrize("which", ["hidden", "admin-hidden", "missing"])
def test_a_hidden_challenge_is_not_found(api, board, which):
    response = api.get(detail(board[which]))

    assert response.status_code == 404


def test_staff_get_every_visible_challenge_open(organizer, board):
    data = api_client(organizer).get(LIST).json()["items"]

    assert [(c["name"], c["locked"]) for c in data] == [
        ("Warmup", False),
        ("Hidden", False),
        ("Locked", False),
        ("Preview", False),
    ]


def test_it_fills_each_teams_flag_into_the_description(captain, db):
    challenge = make_challenge(
        "Leak",
        description="Key: `{flag:main}`",
        flags=[{"kind": "derived", "content": "", "template": "CTF{leak_{hash}}"}],
    )
    rival = team_with_players("Rivals").captain

    mine = api_client(captain).get(detail(challenge)).json()["description_html"]
    theirs = api_client(rival).get(detail(challenge)).json()["description_html"]

    def expected(user):
        principal = principal_of(user)
        return derive_flag(
            "CTF{leak_{hash}}",
            competition_id=principal.competition_id,
            principal_id=principal.pk,
            question_id=challenge.questions.get().pk,
        )

    assert mine == f"<p>Key: <code>{expected(captain)}</code></p>"
    assert theirs == f"<p>Key: <code>{expected(rival)}</code></p>"
    assert mine != theirs


def test_it_shows_decayed_points(api, db):
    challenge = make_challenge(
        "Decay",
        type="dynamic",
        decay_initial=500,
        decay_decay=10,
        decay_minimum=100,
        decay_function="linear",
    )
    for name in ("Alpha", "Beta", "Gamma"):
        solve(principal_of(team_with_players(name).captain), challenge)

    data = api.get(detail(challenge)).json()

    assert (data["points"], data["solve_count"]) == (480, 3)


def test_it_shows_no_challenges_before_the_competition_starts(api, board):
    Competition.objects.filter(is_default=True).update(
        starts_at=timezone.now() + timedelta(hours=1)
    )

    listed = api.get(LIST)
    opened = api.get(detail(board["warmup"]))

    assert listed.json()["items"] == []
    assert opened.status_code == 404


def test_staff_see_challenges_before_the_competition_starts(organizer, board):
    Competition.objects.filter(is_default=True).update(
        starts_at=timezone.now() + timedelta(hours=1)
    )

    response = api_client(organizer).get(detail(board["warmup"]))

    assert response.status_code == 200


def test_an_unknown_challenge_is_not_found(api, db):
    response = api.get("/api/v1/challenges/999999")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert not Challenge.objects.filter(pk=999999).exists()
