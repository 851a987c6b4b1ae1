"""`POST /api/v1/challenges/<id>/attempt`, `GET /api/v1/me`, and the htmx flag form."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.services import token_create
from scoring.models import Result, Submission
from scoring.services import principal_set_banned

from .factories import flag_of, make_challenge, principal_of, question_of


def api_client(user) -> Client:
    _, raw = token_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {raw}")


def url(challenge) -> str:
    return f"/api/v1/challenges/{challenge.pk}/attempt"


@pytest.fixture
def api(solo):
    return api_client(solo)


@pytest.fixture
def challenge(db):
    return make_challenge("Warmup", value=150)


def post(api, challenge, **body):
    return api.post(url(challenge), body, content_type="application/json")


def test_it_answers_a_correct_flag_with_the_points(api, challenge):
    response = post(api, challenge, flag=flag_of(challenge))

    assert response.status_code == 200
    assert response.json() == {
        "result": "correct",
        "message": "Correct! +150 points.",
        "points": 150,
    }


def test_it_answers_with_a_trailing_slash_too(solo, challenge):
    api = Client(enforce_csrf_checks=True, **api_client(solo).defaults)

    response = api.post(
        url(challenge) + "/", {"flag": "CTF{nope}"}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["result"] == "wrong"


def test_it_answers_a_wrong_flag(api, challenge):
    response = post(api, challenge, flag="CTF{nope}")

    assert response.status_code == 200
    assert response.json()["result"] == "wrong"
    assert response.json()["points"] == 0


def test_it_answers_already_solved(api, challenge):
    post(api, challenge, flag=flag_of(challenge))

    response = post(api, challenge, flag=flag_of(challenge))

    assert response.status_code == 200
    assert response.json()["result"] == "already_solved"


def test_it_answers_429_with_retry_after_when_rate_limited(api, challenge):
    for n in range(3):
        post(api, challenge, flag=f"CTF{{no{n}}}")

    response = post(api, challenge, flag=flag_of(challenge))

    assert response.status_code == 429
    body = response.json()
    assert body["result"] == "rate_limited"
    assert 0 < body["retry_after"] <= 30
    assert response["Retry-After"] == str(body["retry_after"])
    assert body["message"] == (
        "You submitted 3 wrong flags in 30 s; "
        f"submissions are paused for {body['retry_after']} s."
    )


def test_the_lockout_message_names_the_team(captain, member, challenge):
    for n in range(3):
        post(api_client(captain), challenge, flag=f"CTF{{no{n}}}")

    body = post(api_client(member), make_challenge(), flag="CTF{x}").json()

    assert body["result"] == "rate_limited"
    assert body["message"].startswith("Your team submitted 3 wrong flags in 30 s;")


def test_it_answers_refused_for_a_banned_team(api, solo, challenge):
    principal_set_banned(principal=principal_of(solo), banned=True)

    response = post(api, challenge, flag=flag_of(challenge))

    assert response.status_code == 200
    assert response.json()["result"] == "refused"
    assert response.json()["message"] == "Your team is banned from this competition."


def test_the_question_may_be_omitted_for_a_single_question(api, challenge):
    question = question_of(challenge)

    with_it = post(api, challenge, flag=flag_of(challenge), question=question.pk)

    assert with_it.json()["result"] == "correct"


def test_the_question_is_required_when_there_are_several(api):
    two = make_challenge("Two parts", questions=("one", "two"))

    without = post(api, two, flag=flag_of(two, "one"))
    assert without.status_code == 400
    assert without.json()["error"] == "invalid"
    ids = f"{question_of(two, 'one').pk}, {question_of(two, 'two').pk}"
    assert without.json()["fields"] == {
        "question": [
            f"This challenge has 2 questions: say which one the flag answers "
            f"(ids {ids})."
        ]
    }
    assert not Submission.objects.exists()

    right = post(
        api, two, flag=flag_of(two, "one"), question=question_of(two, "one").pk
    )
    assert right.json()["result"] == "correct"


def test_it_answers_404_for_a_question_of_another_challenge(api, challenge):
    other = make_challenge("Other")

    response = post(api, challenge, flag="x", question=question_of(other).pk)

    assert response.status_code == 404
    assert not Submission.objects.exists()


def test_it_answers_404_for_a_hidden_challenge(api):
    hidden = make_challenge("Hidden", state="hidden")

    assert post(api, hidden, flag=flag_of(hidden)).status_code == 404


def test_it_answers_400_without_a_flag(api, challenge):
    response = post(api, challenge)

    assert response.status_code == 400
    assert "flag" in response.json()["fields"]


def test_it_needs_authentication(db, challenge):
    response = Client().post(
        url(challenge), {"flag": "x"}, content_type="application/json"
    )

    assert response.status_code == 401


def test_me_shows_the_score_afterwards(api, challenge):
    assert api.get("/api/v1/me").json()["score"] == 0

    post(api, challenge, flag=flag_of(challenge))

    me = api.get("/api/v1/me").json()
    assert me["score"] == 150
    assert me["principal"]["score"] == 150
    assert me["principal"]["kind"] == "solo"


def test_the_flag_form_answers_in_place_with_htmx(login, solo, challenge):
    client = login(solo)
    form = reverse("scoring:attempt", args=[challenge.pk])

    response = client.post(form, {"flag": flag_of(challenge)}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Trigger"] == "solved"
    html = response.content.decode()
    assert html.strip().startswith('<p class="attempt correct"')
    assert "Correct! +150 points." in html
    assert "<html" not in html


def test_the_flag_form_keeps_htmx_swapping_when_rate_limited(login, solo, challenge):
    client = login(solo)
    form = reverse("scoring:attempt", args=[challenge.pk])
    for n in range(3):
        wrong = client.post(form, {"flag": f"CTF{{no{n}}}"}, HTTP_HX_REQUEST="true")
        assert 'class="attempt wrong"' in wrong.content.decode()

    limited = client.post(form, {"flag": flag_of(challenge)}, HTTP_HX_REQUEST="true")
    plain = client.post(form, {"flag": flag_of(challenge)})

    assert limited.status_code == 200
    assert "You submitted 3 wrong flags in 30 s; submissions are paused for" in (
        limited.content.decode()
    )
    assert plain.status_code == 429
    assert list(Submission.objects.values_list("result", flat=True).order_by("pk"))[
        -2:
    ] == [Result.RATE_LIMITED, Result.RATE_LIMITED]


@pytest.fixture
def gated(challenge):
    """Locked until Warmup is solved, shown as an anonymous card."""
    return make_challenge(
        "Gated Vault",
        requirement='(COMPLETED "Warmup")',
        locked_visibility="locked",
        questions=("door", "safe"),
    )


def test_a_locked_challenge_answers_an_attempt_as_its_get_does(api, gated):
    got = api.get(f"/api/v1/challenges/{gated.pk}")

    response = post(api, gated, flag=flag_of(gated, "door"))

    assert response.status_code == got.status_code == 403
    assert response.json() == got.json()
    assert response.json()["error"] == "locked"
    assert response.json()["explanation"] == "Solve Warmup"
    assert response.json()["name"] is None
    assert "Gated Vault" not in response.content.decode()
    assert not Submission.objects.exists()


def test_a_hidden_when_locked_challenge_answers_an_attempt_404(api, challenge):
    hidden = make_challenge("Secret", requirement='(COMPLETED "Warmup")')

    response = post(api, hidden, flag=flag_of(hidden))

    assert response.status_code == 404
    assert "Secret" not in response.content.decode()


def test_a_locked_challenge_opens_for_attempts_once_its_requirement_holds(
    api, challenge, gated
):
    post(api, challenge, flag=flag_of(challenge))

    response = post(
        api, gated, flag=flag_of(gated, "door"), question=question_of(gated, "door").pk
    )

    assert response.status_code == 200
    assert response.json()["result"] == "correct"


def test_the_flag_form_of_a_locked_challenge_says_why(login, solo, gated):
    form = reverse("scoring:attempt", args=[gated.pk])
    client = login(solo)

    htmx = client.post(form, {"flag": "CTF{x}"}, HTTP_HX_REQUEST="true")
    plain = client.post(form, {"flag": "CTF{x}"})

    assert htmx.status_code == 200  # htmx swaps 2xx answers only
    assert plain.status_code == 403
    for response in (htmx, plain):
        assert "This challenge is locked. Solve Warmup" in response.content.decode()
        assert "Gated Vault" not in response.content.decode()
    assert not Submission.objects.exists()
