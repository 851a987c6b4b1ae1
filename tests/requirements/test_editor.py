"""The admin editor's server side: live validation and "Test as"."""

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from challenges.models import Challenge, Competition, Question
from scoring.models import Solve
from scoring.services import principal_resolve

REQUIREMENT = '(AND (COMPLETED "Intro") (>= (USER-SCORE) 100))'


def validate(client: Client, text: str, **extra):
    url = reverse("requirements:validate") + "?field=requirement"
    return client.post(url, {"requirement": text}, **extra)


def page(response) -> str:
    return html.unescape(response.content.decode())


def make_challenge(name: str, requirement: str = "") -> Challenge:
    challenge = Challenge.objects.create(
        identity=name.lower(),
        name=name,
        normalized_name=name.lower(),
        requirement=requirement,
    )
    Question.objects.create(challenge=challenge, key="main", points=100, flags=[])
    return challenge


def solve(user, challenge: Challenge, score: int) -> None:
    principal = principal_resolve(user=user, competition=Competition.objects.default())
    Solve.objects.create(principal=principal, question=challenge.questions.get())
    type(principal).objects.filter(pk=principal.pk).update(ledger_total=score)


@pytest.fixture
def boss(db) -> Challenge:
    make_challenge("Intro")
    return make_challenge("Boss", REQUIREMENT)


def open_test_as(client: Client, challenge: Challenge, **params):
    url = reverse("admin:challenges_challenge_test_as", args=[challenge.pk])
    return client.get(url, params)


# Live validation


def test_it_explains_valid_text_and_shows_the_canonical_form(organizer, login):
    response = validate(
        login(organizer), '(and (completed "Intro")\n(>= (user-score) 100))'
    )

    assert response.status_code == 200
    assert "Solve Intro and score at least 100" in page(response)
    assert f'<pre class="lispish-canonical">{REQUIREMENT}</pre>' in page(response)


def test_it_says_which_name_matches_no_challenge_and_what_it_may_mean(
    boss, organizer, login
):
    response = validate(
        login(organizer), '(AND (COMPLETED "Intro" "Bos") (COMPLETED-ANY 9999))'
    )

    assert response.status_code == 200
    warnings = re.findall(
        r'<p class="lispish-warning" role="alert">(.*?)</p>', page(response)
    )
    assert warnings == [
        "No challenge named Bos; did you mean Boss?",
        "No challenge has id 9999",
    ]


def test_it_finds_a_challenge_added_since_the_last_check(organizer, login):
    client = login(organizer)
    assert "No challenge named Intro" in page(validate(client, '(COMPLETED "Intro")'))

    make_challenge("Intro")

    assert "lispish-warning" not in page(validate(client, '(COMPLETED "intro")'))


def test_it_points_at_the_error_with_line_column_and_caret(organizer, login):
    response = validate(login(organizer), "(AND\n  (COMPLETED Intro))")

    assert response.status_code == 200
    assert "Line 2, column 14:" in page(response)
    assert "text must be quoted" in page(response)
    assert '<pre class="lispish-caret">  (COMPLETED Intro))\n             ^</pre>' in (
        page(response)
    )


def test_it_returns_the_tree_for_the_block_view_while_arguments_are_missing(
    organizer, login
):
    response = validate(login(organizer), "(AND (NOT))")

    assert "NOT takes exactly 1 argument" in page(response)
    assert '"tree": {"type": "call", "name": "AND"' in page(response)


def test_it_says_a_blank_requirement_opens_the_challenge(organizer, login):
    response = validate(login(organizer), "  ")

    assert "every player can open this challenge" in page(response)


@pytest.mark.django_db
def test_it_sends_anonymous_visitors_to_the_admin_login():
    response = validate(Client(), REQUIREMENT)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_it_keeps_players_out_of_validation(captain, login):
    response = validate(login(captain), REQUIREMENT)

    assert response.status_code == 302
    assert "Solve Intro" not in page(response)


def test_it_refuses_validation_without_a_csrf_token(organizer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(organizer)
    client.get(reverse("admin:index"))  # sets the csrftoken cookie

    refused = validate(client, REQUIREMENT)
    token = client.cookies["csrftoken"].value
    accepted = validate(client, REQUIREMENT, headers={"X-CSRFToken": token})

    assert refused.status_code == 403
    assert accepted.status_code == 200


# Test as


def test_it_opens_the_challenge_for_a_team_that_solved_intro(
    boss, organizer, team, login
):
    solve(team.captain, Challenge.objects.get(name="Intro"), score=150)

    response = open_test_as(login(organizer), boss, team=team.pk)

    text = page(response)
    assert "As team Null Pointers" in text
    assert "true: the challenge is open" in text
    assert '<code>(COMPLETED "Intro")</code> <span class="lispish-value">true' in text
    assert '<code>(USER-SCORE)</code> <span class="lispish-value">150' in text


def test_it_locks_the_challenge_for_a_team_that_did_not_solve_intro(
    boss, organizer, team, login
):
    response = open_test_as(login(organizer), boss, team=team.pk)

    text = page(response)
    assert "false: the challenge is locked" in text
    assert '<code>(COMPLETED "Intro")</code> <span class="lispish-value">false' in text
    # AND stops at the first false: the score is never looked at.
    assert '<li class="is-skipped"><code>(>= (USER-SCORE) 100)</code>' in text
    assert "not evaluated" in text


def test_it_tests_a_member_as_their_team(boss, organizer, member, login):
    solve(member, Challenge.objects.get(name="Intro"), score=100)

    response = open_test_as(login(organizer), boss, user=member.pk)

    assert f"As player {member.username}, playing as Null Pointers" in page(response)
    assert "true: the challenge is open" in page(response)


def test_it_tests_the_unsaved_text_of_the_editor(boss, organizer, solo, login):
    response = open_test_as(
        login(organizer),
        boss,
        user=solo.pk,
        draft="1",
        requirement='(= (USER-NAME) "solo")',
    )

    assert "with the unsaved text" in page(response)
    assert "true: the challenge is open" in page(response)
    assert '<code>(USER-NAME)</code> <span class="lispish-value">"solo"' in page(
        response
    )


def test_it_shows_where_unsaved_text_is_broken(boss, organizer, solo, login):
    response = open_test_as(
        login(organizer), boss, user=solo.pk, draft="1", requirement="(AND"
    )

    assert "line 1, col 5: expected ')'" in page(response)


def test_it_finds_teams_and_players_by_name(boss, organizer, team, member, login):
    response = open_test_as(login(organizer), boss, q="nul")

    assert "Team Null Pointers" in page(response)
    assert f"?team={team.pk}" in page(response)
    assert "Player mem" not in page(response)


def test_it_keeps_players_out_of_test_as(boss, captain, team, login):
    response = open_test_as(login(captain), boss, team=team.pk)

    assert response.status_code == 302
    assert "the challenge is" not in page(response)
