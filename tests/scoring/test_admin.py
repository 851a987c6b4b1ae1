"""Organizer screens: submissions without raw flags, adjusting scores, resetting
attempts, banning, and cheat records linking both principals."""

import pytest
from django.urls import reverse

from audit.models import EventLog, EventType
from scoring.models import AttemptReset, ScoreEvent, Submission
from scoring.selectors import principal_score

from .factories import (
    attempt,
    derived,
    flag_of,
    make_challenge,
    own_flag,
    player,
    principal_of,
    question_of,
)


@pytest.fixture
def admin_client(login, organizer):
    return login(organizer)


def test_the_submissions_list_never_shows_a_raw_flag(admin_client, solo):
    challenge = make_challenge("Warmup")
    attempt(solo, challenge, "CTF{typed_by_the_player}")
    attempt(solo, challenge, flag_of(challenge))

    listing = admin_client.get(reverse("admin:scoring_submission_changelist"))
    wrong = Submission.objects.get(result="wrong")
    detail = admin_client.get(
        reverse("admin:scoring_submission_change", args=[wrong.pk])
    )

    assert listing.status_code == detail.status_code == 200
    for page in (listing, detail):
        html = page.content.decode()
        assert "typed_by_the_player" not in html
        assert flag_of(challenge) not in html
    assert wrong.flag_hash[:12] in listing.content.decode()


def test_the_submissions_list_finds_a_submission_by_its_hash(admin_client, solo):
    challenge = make_challenge("Warmup")
    attempt(solo, challenge, "CTF{find_me}")
    digest = Submission.objects.get().flag_hash

    listing = admin_client.get(
        reverse("admin:scoring_submission_changelist"), {"q": digest}
    )

    assert listing.context["cl"].result_count == 1


def test_an_organizer_adjusts_a_score_on_its_screen(admin_client, organizer, solo):
    principal = principal_of(solo)
    screen = reverse("admin:scoring_principal_adjust", args=[principal.pk])
    assert admin_client.get(screen).status_code == 200

    response = admin_client.post(screen, {"delta": "-20", "note": "flag hoarding"})

    assert response.status_code == 302
    assert principal_score(principal) == -20
    event = ScoreEvent.objects.get()
    assert (event.reason, event.note, event.actor) == (
        "admin",
        "flag hoarding",
        organizer,
    )
    assert EventLog.objects.filter(event_type=EventType.SCORE_ADJUSTED).count() == 1


def test_the_adjust_screen_refuses_a_zero_delta(admin_client, solo):
    principal = principal_of(solo)
    screen = reverse("admin:scoring_principal_adjust", args=[principal.pk])

    response = admin_client.post(screen, {"delta": "0", "note": "oops"})

    assert response.status_code == 200
    assert "The adjustment cannot be zero." in response.content.decode()
    assert not ScoreEvent.objects.exists()


def test_the_adjust_screen_refuses_an_absurd_number(admin_client, solo):
    principal = principal_of(solo)
    screen = reverse("admin:scoring_principal_adjust", args=[principal.pk])

    response = admin_client.post(screen, {"delta": "9" * 30, "note": "typo"})

    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 1000000." in (
        response.content.decode()
    )
    assert not ScoreEvent.objects.exists()


def test_the_adjust_screen_shows_the_note_format_literally(admin_client, solo):
    principal = principal_of(solo)
    screen = reverse("admin:scoring_principal_adjust", args=[principal.pk])

    html = admin_client.get(screen).content.decode()

    assert "admin:&lt;note&gt;" in html


def test_an_organizer_resets_attempts_on_its_screen(admin_client, organizer, solo):
    capped = make_challenge("Capped", attempts=1)
    attempt(solo, capped, "CTF{no}")
    assert attempt(solo, capped, flag_of(capped)).result == "refused"
    principal = principal_of(solo)
    screen = reverse("admin:scoring_principal_reset_attempts", args=[principal.pk])
    assert admin_client.get(screen).status_code == 200

    response = admin_client.post(
        screen, {"question": question_of(capped).pk, "reason": "mistyped"}
    )

    assert response.status_code == 302
    reset = AttemptReset.objects.get()
    assert (reset.admin, reset.reason, reset.principal) == (
        organizer,
        "mistyped",
        principal,
    )
    assert attempt(solo, capped, flag_of(capped)).result == "correct"


def test_the_ban_action_bans_the_selected_principals(admin_client, organizer, solo):
    principal = principal_of(solo)

    response = admin_client.post(
        reverse("admin:scoring_principal_changelist"),
        {"action": "ban", "_selected_action": [principal.pk]},
        follow=True,
    )

    assert "1 principal(s) changed." in response.content.decode()
    principal.refresh_from_db()
    assert principal.is_banned
    toggle = EventLog.objects.get(event_type=EventType.USER_BAN_TOGGLED)
    assert toggle.actor == organizer
    challenge = make_challenge()
    assert attempt(solo, challenge, flag_of(challenge)).result == "refused"


def test_the_cheat_records_list_links_both_principals(admin_client, db):
    per_team = make_challenge("Per team", flags=[derived("CTF{pt_{hash}}")])
    alpha, bravo = player("alpha"), player("bravo")
    owner = principal_of(alpha)
    attempt(bravo, per_team, own_flag(owner, question_of(per_team)))
    submitter = principal_of(bravo)

    response = admin_client.get(reverse("admin:scoring_cheatrecord_changelist"))

    html = response.content.decode()
    for principal in (submitter, owner):
        link = reverse("admin:scoring_principal_change", args=[principal.pk])
        assert f'<a href="{link}">{principal}</a>' in html
    assert "Submitted another team&#x27;s flag" in html
