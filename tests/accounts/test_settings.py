"""A player's settings page and the password reset by email."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.services import RESET_PER_ADDRESS, RESET_PER_IP
from audit.models import EventLog, EventType
from tests.conftest import PASSWORD, make_user

NEW_PASSWORD = "a whole new sentence of words"  # noqa: S105
SETTINGS = "/accounts/settings/"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def change(client, form: str, **data):
    return client.post(SETTINGS, {"form": form, **data})


def test_a_player_renames_themselves_with_registrations_rules(login, solo):
    make_user("taken")
    client = login(solo)
    assert client.get(SETTINGS).status_code == 200

    bad = change(client, "name", username="no spaces!")
    clash = change(client, "name", username="TAKEN")
    good = change(client, "name", username="Lone_Wolf")

    assert "Use 2 to 32 letters, digits and @ . + - _ only." in bad.content.decode()
    assert "That username is taken." in clash.content.decode()
    assert (bad.status_code, clash.status_code, good.status_code) == (400, 400, 302)
    solo.refresh_from_db()
    assert solo.username == "Lone_Wolf"
    assert (
        "Your display name is now Lone_Wolf." in client.get(SETTINGS).content.decode()
    )
    assert Client().login(username="lone_wolf", password=PASSWORD)
    event = EventLog.objects.get(event_type=EventType.USER_SETTINGS_CHANGED)
    assert (event.actor, event.message) == (solo, "username")


def test_a_new_name_shows_on_the_scoreboard_at_once(
    login, solo, django_capture_on_commit_callbacks
):
    client = login(solo)
    client.get(reverse("challenges:board"))  # plays: the principal exists
    before = Client().get("/scoreboard/ctftime.json").json()["standings"]

    with django_capture_on_commit_callbacks(execute=True):
        change(client, "name", username="renamed")

    after = Client().get("/scoreboard/ctftime.json").json()["standings"]
    assert [row["team"] for row in before] == ["solo"]
    assert [row["team"] for row in after] == ["renamed"]


def test_an_email_change_asks_for_the_current_password(login, solo):
    client = login(solo)

    wrong = change(client, "email", email="new@example.org", current_password="x")
    right = change(client, "email", email="new@example.org", current_password=PASSWORD)

    assert "That is not your current password." in wrong.content.decode()
    assert right.status_code == 302
    solo.refresh_from_db()
    assert solo.email == "new@example.org"


def test_a_password_change_keeps_this_session_and_ends_the_others(login, solo):
    client, other = login(solo), login(solo)

    weak = change(
        client,
        "password",
        current_password=PASSWORD,
        password="12345678",
        password_again="12345678",
    )
    strong = change(
        client,
        "password",
        current_password=PASSWORD,
        password=NEW_PASSWORD,
        password_again=NEW_PASSWORD,
    )

    assert "This password is too common." in weak.content.decode()
    assert strong.status_code == 302
    solo.refresh_from_db()
    assert solo.check_password(NEW_PASSWORD)
    assert client.get(SETTINGS).status_code == 200
    assert other.get(SETTINGS).status_code == 302  # to the login page


def test_the_settings_page_needs_a_login(db):
    response = Client().get(SETTINGS)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _reset_link(message) -> str:
    return re.search(r"http://testserver(/accounts/password-reset/\S+/)", message.body)[
        1
    ]


def test_a_forgotten_password_is_reset_through_a_mailed_link(solo):
    client = Client()
    login_page = client.get(reverse("accounts:login")).content.decode()
    assert reverse("accounts:password-reset") in login_page

    sent = client.post(reverse("accounts:password-reset"), {"email": solo.email})

    assert sent.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [solo.email]
    assert mail.outbox[0].subject == "CTF: reset your password"
    form = client.get(_reset_link(mail.outbox[0]), follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    solo.refresh_from_db()
    assert solo.check_password(NEW_PASSWORD)
    reused = client.get(_reset_link(mail.outbox[0]), follow=True)
    assert "This link is used up or expired." in reused.content.decode()
    assert EventLog.objects.filter(
        event_type=EventType.PASSWORD_RESET_REQUESTED
    ).exists()


def test_an_unknown_address_looks_the_same_and_sends_nothing(db):
    response = Client().post(
        reverse("accounts:password-reset"), {"email": "nobody@example.org"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password-reset-done")
    assert mail.outbox == []


def test_resets_are_limited_per_address_silently(solo):
    for _ in range(RESET_PER_ADDRESS + 2):
        response = Client(REMOTE_ADDR="10.0.0.1").post(
            reverse("accounts:password-reset"), {"email": solo.email.upper()}
        )
        assert response.status_code == 302

    assert len(mail.outbox) == RESET_PER_ADDRESS


def test_resets_are_limited_per_ip(db):
    client = Client(REMOTE_ADDR="10.0.0.2")
    for n in range(RESET_PER_IP):
        response = client.post(
            reverse("accounts:password-reset"), {"email": f"a{n}@example.org"}
        )
        assert response.status_code == 302

    limited = client.post(reverse("accounts:password-reset"), {"email": "z@x.org"})
    elsewhere = Client(REMOTE_ADDR="10.0.0.3").post(
        reverse("accounts:password-reset"), {"email": "z@x.org"}
    )

    assert limited.status_code == 429
    assert "Too many reset requests from your address" in limited.content.decode()
    assert elsewhere.status_code == 302
