"""What a first look notices: icons drawn without an emoji font, a favicon."""

import re

from django.test import Client
from django.urls import reverse

from challenges.models import Competition
from challenges.services import competition_freeze

from .factories import make_challenge

# Emoji and pictographs: shown as empty boxes where no emoji font is installed.
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")


def test_player_pages_draw_their_icons_without_an_emoji_font(login, solo, organizer):
    open_one = make_challenge("Warmup")
    make_challenge(
        "Boss", requirement='(COMPLETED "Warmup")', locked_visibility="locked"
    )
    preview = make_challenge(
        "Teaser", requirement='(COMPLETED "Warmup")', locked_visibility="preview"
    )
    competition_freeze(competition=Competition.objects.default(), actor=None)
    client = login(solo)
    pages = {
        "board": client.get(reverse("challenges:board")),
        "detail": client.get(reverse("challenges:detail", args=[open_one.pk])),
        "locked": client.get(reverse("challenges:detail", args=[preview.pk])),
        "scoreboard": client.get(reverse("scoreboard:scoreboard")),
    }

    for name, page in pages.items():
        html = page.content.decode()
        assert not EMOJI.findall(html), name
        assert '<svg class="icon"' in html, name
    assert "Liked it" in pages["detail"].content.decode()
    # The locked card (Boss, anonymous) and the preview card each have a lock.
    assert pages["board"].content.decode().count('<svg class="icon"') == 2


def test_there_is_a_favicon_everywhere(login, organizer, db):
    redirect = Client().get("/favicon.ico")
    icon = Client().get(redirect["Location"])
    admin = login(organizer).get(reverse("admin:index")).content.decode()
    page = Client().get(reverse("accounts:login")).content.decode()

    assert redirect.status_code == 302
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content)
    for html in (admin, page):
        assert f'<link rel="icon" href="{redirect["Location"]}"' in html
