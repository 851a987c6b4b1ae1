"""Announcements: written in the admin, sanitized, audited, shown as a banner,
on their page and in the API, never leaking a challenge a player may not see."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.services import token_create
from audit.models import EventLog, EventType
from challenges.models import Announcement, Competition
from challenges.services import announcement_save

from .factories import make_challenge, principal_of, solve


@pytest.fixture
def admin(login, organizer):
    return login(organizer)


def post(title: str, body: str = "", challenge=None, actor=None) -> Announcement:
    return announcement_save(
        announcement=Announcement(
            competition=Competition.objects.default(),
            title=title,
            body=body,
            challenge=challenge,
        ),
        actor=actor,
    )


def test_an_organizer_posts_edits_and_deletes_in_the_admin(admin, organizer):
    add = reverse("admin:challenges_announcement_add")
    assert admin.get(add).status_code == 200

    admin.post(
        add,
        {
            "competition": Competition.objects.default().pk,
            "title": "Warmup fixed",
            "body": "The flag is **case-insensitive** now.",
        },
    )
    announcement = Announcement.objects.get()
    assert announcement.author == organizer
    change = reverse("admin:challenges_announcement_change", args=[announcement.pk])
    admin.post(
        change,
        {
            "competition": announcement.competition_id,
            "title": "Warmup fixed (again)",
            "body": "Sorry.",
        },
    )
    admin.post(
        reverse("admin:challenges_announcement_delete", args=[announcement.pk]),
        {"post": "yes"},
    )

    assert not Announcement.objects.exists()
    events = EventLog.objects.filter(event_type__startswith="ANNOUNCEMENT_")
    assert [(e.event_type, e.subject, e.actor) for e in events.order_by("pk")] == [
        (EventType.ANNOUNCEMENT_POSTED, "Warmup fixed", organizer),
        (EventType.ANNOUNCEMENT_EDITED, "Warmup fixed (again)", organizer),
        (EventType.ANNOUNCEMENT_DELETED, "Warmup fixed (again)", organizer),
    ]


def test_the_page_shows_sanitized_markdown_newest_first(login, solo):
    post("Schedule", "The CTF ends at **18:00**.")
    post("Hint for all", "<script>alert(1)</script>[x](javascript:alert(2)) *Look*")

    html = login(solo).get(reverse("announcements:list")).content.decode()

    assert html.index("Hint for all") < html.index("Schedule")
    assert "<strong>18:00</strong>" in html and "<em>Look</em>" in html
    assert "<script>alert" not in html and "javascript:" not in html


def test_every_page_carries_the_newest_as_a_banner_until_dismissed(login, solo):
    post("Old news")
    newest = post("Pwn 2 is back", "Its server restarted.")
    client = login(solo)

    board = client.get(reverse("challenges:board")).content.decode()
    banner = board[board.index('id="announcement-banner"') :]
    assert "Pwn 2 is back" in banner and "Old news" not in banner
    assert 'hx-trigger="every 30s"' in board[board.index('id="announcement-banner"') :]

    client.cookies["announcements_seen"] = str(newest.pk)
    board = client.get(reverse("challenges:board")).content.decode()
    assert "Pwn 2 is back" not in board
    assert "Pwn 2 is back" in client.get(reverse("announcements:list")).content.decode()


def test_the_banner_poll_answers_with_the_partial(login, solo):
    client = login(solo)
    empty = client.get(reverse("announcements:banner"), HTTP_HX_REQUEST="true")
    post("Now live")

    fresh = client.get(reverse("announcements:banner"), HTTP_HX_REQUEST="true")

    assert empty.content.decode().strip() == ""
    assert "Now live" in fresh.content.decode()
    assert "<html" not in fresh.content.decode()


def test_the_api_lists_announcements(solo):
    challenge = make_challenge("Warmup")
    announcement = post("Warmup fixed", "Try **again**.", challenge=challenge)
    _, raw = token_create(user=solo)

    response = Client().get("/api/v1/announcements", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
    assert response.json()["items"] == [
        {
            "id": announcement.pk,
            "title": "Warmup fixed",
            "body": "Try **again**.",
            "body_html": "<p>Try <strong>again</strong>.</p>",
            "challenge": {"id": challenge.pk, "name": "Warmup"},
            "created_at": announcement.created_at.isoformat().replace("+00:00", "Z"),
            "updated_at": announcement.updated_at.isoformat().replace("+00:00", "Z"),
        }
    ]
    assert Client().get("/api/v1/announcements").status_code == 401


@pytest.mark.parametrize("visibility", ["hidden", "locked", "preview"])
def test_an_announcement_never_leaks_a_challenge_a_player_may_not_open(
    login, solo, organizer, visibility
):
    make_challenge("Warmup")
    secret = make_challenge(
        "Kernel Panic",
        requirement='(COMPLETED "Warmup")',
        locked_visibility=visibility,
    )
    post("Kernel Panic fixed", "The kernel was the wrong one.", challenge=secret)
    post("Schedule", "Ends at 18:00.")
    _, raw = token_create(user=solo)
    client = login(solo)

    pages = [
        client.get(reverse("announcements:list")).content.decode(),
        client.get(reverse("announcements:banner")).content.decode(),
        client.get(reverse("challenges:board")).content.decode(),
        Client()
        .get("/api/v1/announcements", HTTP_AUTHORIZATION=f"Token {raw}")
        .content.decode(),
        Client().get(reverse("announcements:list")).content.decode(),  # anonymous
    ]

    for page in pages:
        assert "Panic fixed" not in page and "wrong one" not in page
        if visibility != "preview":  # a preview card names the challenge itself
            assert "Kernel" not in page
    assert "Schedule" in pages[0]
    staff = login(organizer).get(reverse("announcements:list")).content.decode()
    assert "Kernel Panic fixed" in staff


def test_a_player_who_may_open_the_challenge_sees_its_announcement(login, solo):
    warmup = make_challenge("Warmup")
    secret = make_challenge(
        "Kernel Panic", requirement='(COMPLETED "Warmup")', locked_visibility="locked"
    )
    post("Kernel Panic fixed", challenge=secret)
    solve(principal_of(solo), warmup)

    html = login(solo).get(reverse("announcements:list")).content.decode()

    assert "Kernel Panic fixed" in html
    assert reverse("challenges:detail", args=[secret.pk]) in html
