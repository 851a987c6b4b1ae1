"""The challenge board as a player sees it: cards, points, solves, filters, htmx."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from challenges.board import current_points
from challenges.models import Challenge, Competition
from scoring.models import Principal

from .factories import (
    fast_password_hashing,  # noqa: F401  (fixture)
    make_challenge,
    principal_of,
    solve,
    team_with_players,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


class CardParser(HTMLParser):
    """Collect the text of every card (`class="chal ..."`) and category heading."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[str] = []
        self.categories: list[str] = []
        self._depth = 0
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if self._depth:
            self._depth += 1
        elif "chal" in classes:
            self._depth = 1
            self.cards.append(" ".join(classes[1:]) + ":")
        if tag == "h2":
            self._in_h2 = True
            self.categories.append("")

    def handle_endtag(self, tag):
        if self._depth:
            self._depth -= 1
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._depth:
            self.cards[-1] += " " + data
        if self._in_h2:
            self.categories[-1] += data.strip()


def board_page(client, **params):
    response = client.get(reverse("challenges:board"), params)
    assert response.status_code == 200
    parser = CardParser()
    parser.feed(response.content.decode())
    cards = [" ".join(c.split()) for c in parser.cards]
    return cards, parser.categories


@pytest.fixture
def player(solo, login):
    return login(solo)


def test_it_lists_visible_challenges_by_category(player):
    make_challenge("Warmup", category="misc", value=50)
    make_challenge("SQLi", category="web", value=150)
    make_challenge("XSS", category="web", value=200)

    cards, categories = board_page(player)

    assert categories == ["misc", "web"]
    assert cards == [
        ": Warmup 50 0 solves",
        ": SQLi 150 0 solves",
        ": XSS 200 0 solves",
    ]


def test_it_shows_solve_counts_and_marks_what_i_solved(solo, player):
    warmup = make_challenge("Warmup")
    make_challenge("Other")
    solve(principal_of(solo), warmup)
    for team in (team_with_players("Alpha"), team_with_players("Beta")):
        solve(principal_of(team.captain), warmup)

    cards, _ = board_page(player)

    assert cards == [": Other 100 0 solves", "solved: Warmup 100 3 solves · solved"]


def test_it_counts_a_multi_question_challenge_once_every_question_is_solved(
    solo, player
):
    rsa = make_challenge("RSA", questions=("modulus", "plaintext"))
    solve(principal_of(solo), rsa, "modulus")

    cards, _ = board_page(player)

    assert cards == [": RSA 100 0 solves"]


@pytest.fixture
def dynamic(db):
    return make_challenge(
        "Decay",
        type="dynamic",
        value=500,
        decay_initial=500,
        decay_decay=10,
        decay_minimum=100,
        decay_function="logarithmic",
    )


def test_a_dynamic_challenge_shows_its_decayed_value(dynamic, player):
    for name in ("Alpha", "Beta", "Gamma"):
        solve(principal_of(team_with_players(name).captain), dynamic)

    cards, _ = board_page(player)

    # CTFd: ((100 - 500) / 10**2) * (3 - 1)**2 + 500 = 484
    assert cards == [": Decay 484 3 solves"]


def test_hidden_and_banned_principals_do_not_lower_a_dynamic_value(dynamic, player):
    public = principal_of(team_with_players("Alpha").captain)
    hidden = principal_of(team_with_players("Hidden").captain)
    banned = principal_of(team_with_players("Banned").captain)
    for principal in (public, hidden, banned):
        solve(principal, dynamic)
    Principal.objects.filter(pk=hidden.pk).update(is_hidden=True)
    Principal.objects.filter(pk=banned.pk).update(is_banned=True)

    cards, _ = board_page(player)

    assert cards == [": Decay 500 1 solve"]


def test_solves_in_another_competition_do_not_count(dynamic, player):
    other = Competition.objects.create(name="Other", slug="other")
    for name in ("Alpha", "Beta"):
        solve(principal_of(team_with_players(name).captain, other), dynamic)

    cards, _ = board_page(player)

    assert cards == [": Decay 500 0 solves"]


@pytest.mark.parametrize(
    ("function", "solves", "points"),
    [
        ("logarithmic", 0, 500),
        ("logarithmic", 1, 500),
        ("logarithmic", 2, 496),
        ("logarithmic", 11, 100),
        ("logarithmic", 50, 100),
        ("linear", 1, 500),
        ("linear", 2, 490),
        ("linear", 100, 100),
    ],
)
def test_dynamic_values_follow_ctfd(function, solves, points):
    challenge = Challenge(
        type="dynamic",
        value=500,
        decay_initial=500,
        decay_decay=10,
        decay_minimum=100,
        decay_function=function,
    )

    assert current_points(challenge, solves) == points


def test_a_standard_challenge_keeps_its_value(player):
    warmup = make_challenge("Warmup", value=75)
    for name in ("Alpha", "Beta"):
        solve(principal_of(team_with_players(name).captain), warmup)

    cards, _ = board_page(player)

    assert cards == [": Warmup 75 2 solves"]


@pytest.fixture
def catalog_rows(solo):
    warmup = make_challenge("Warmup", category="misc", tags=["beginner"])
    make_challenge("SQL Injection", category="web", tags=["sql"])
    make_challenge("Blind SQL", category="web", tags=["sql", "hard"])
    make_challenge("Heap", category="pwn", tags=["hard"])
    solve(principal_of(solo), warmup)


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"category": "web"}, ["Blind SQL", "SQL Injection"]),
        ({"status": "solved"}, ["Warmup"]),
        ({"status": "unsolved"}, ["Heap", "Blind SQL", "SQL Injection"]),
        ({"q": "sql"}, ["Blind SQL", "SQL Injection"]),
        ({"q": "HARD"}, ["Heap", "Blind SQL"]),
        ({"q": "begin"}, ["Warmup"]),
        ({"category": "web", "q": "blind"}, ["Blind SQL"]),
        ({"category": "crypto"}, []),
    ],
)
def test_it_filters_the_board(catalog_rows, player, params, names):
    cards, _ = board_page(player, **params)

    assert [re.sub(r"^\w*: (.*?) \d+ \d+ solves?.*$", r"\1", c) for c in cards] == names


def test_the_filtered_board_says_when_nothing_matches(catalog_rows, player):
    response = player.get(reverse("challenges:board"), {"q": "nothing like this"})

    assert "No challenges match." in response.content.decode()


def test_it_answers_htmx_with_the_partial(catalog_rows, player):
    response = player.get(
        reverse("challenges:board"), {"category": "pwn"}, HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert "Heap" in page
    assert "Warmup" not in page


def test_the_full_page_has_the_filters(catalog_rows, player):
    page = player.get(reverse("challenges:board")).content.decode()

    assert "<html" in page
    assert 'name="q"' in page
    assert re.search(r'<option value="web"\s*>', page)


def test_it_leaves_out_hidden_and_missing_challenges(player):
    make_challenge("Shown")
    make_challenge("Hidden by admin", state="hidden")
    make_challenge("Folder gone", is_missing=True)

    cards, _ = board_page(player)

    assert cards == [": Shown 100 0 solves"]


def test_it_shows_a_locked_card_with_its_explanation_only(player):
    make_challenge("Warmup")
    make_challenge(
        "Secret Boss",
        value=500,
        requirement='(COMPLETED "Warmup")',
        locked_visibility="locked",
    )

    cards, _ = board_page(player)

    # Anonymous cards stand apart, last: their place tells nothing either.
    assert cards == [": Warmup 100 0 solves", "locked: Locked Solve Warmup"]


def test_it_shows_a_preview_card_with_name_and_points(player):
    make_challenge("Warmup")
    make_challenge(
        "Boss",
        value=500,
        requirement='(COMPLETED "Warmup")',
        locked_visibility="preview",
    )

    cards, _ = board_page(player)

    assert cards == ["locked: Boss 500 Solve Warmup", ": Warmup 100 0 solves"]


def test_it_escapes_names_and_explanations(player):
    make_challenge('<img src=x onerror="alert(1)">')
    make_challenge(
        "Gated",
        requirement='(COMPLETED "<script>alert(1)</script>")',
        locked_visibility="locked",
    )

    page = player.get(reverse("challenges:board")).content.decode()

    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;img src=x" in page


def test_it_shows_no_challenges_before_the_competition_starts(player):
    make_challenge("Warmup")
    Competition.objects.filter(is_default=True).update(
        starts_at=timezone.now() + timedelta(hours=2)
    )

    page = player.get(reverse("challenges:board")).content.decode()

    assert "Warmup" not in page
    assert "Challenges appear then." in page


def test_staff_see_the_board_before_the_start(organizer, login):
    make_challenge("Warmup")
    Competition.objects.filter(is_default=True).update(
        starts_at=timezone.now() + timedelta(hours=2)
    )

    cards, _ = board_page(login(organizer))

    assert cards == [": Warmup 100 0 solves"]


def test_it_shows_the_board_once_the_competition_started(player):
    make_challenge("Warmup")
    Competition.objects.filter(is_default=True).update(
        starts_at=timezone.now() - timedelta(minutes=1)
    )

    cards, _ = board_page(player)

    assert cards == [": Warmup 100 0 solves"]


def test_it_shows_only_the_competitions_challenge_set(player):
    make_challenge("Warmup", category="misc")
    make_challenge("SQLi", category="web")
    make_challenge("Tagged", category="pwn", tags=["finals"])
    Competition.objects.filter(is_default=True).update(
        include_all=False, include_categories=["web"], include_tags=["finals"]
    )

    cards, _ = board_page(player)

    assert [c.split()[1] for c in cards] == ["Tagged", "SQLi"]


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get(reverse("challenges:board"))

    assert response.status_code == 302
    assert "login" in response.url


def test_it_filters_uncategorised_challenges_under_misc(player):
    make_challenge("Loose end", category="")
    make_challenge("Warmup", category="misc")
    make_challenge("SQLi", category="web")

    cards, categories = board_page(player)
    filtered, _ = board_page(player, category="misc")

    assert categories == ["misc", "web"]
    assert [c.split()[1] for c in cards][:2] == ["Loose", "Warmup"]
    assert [c.split()[1] for c in filtered] == ["Loose", "Warmup"]


@pytest.fixture
def vault(player):
    """An anonymous locked card in its own category, with a telling name and tag."""
    make_challenge("Warmup")
    return make_challenge(
        "Dragon Vault",
        category="dragons",
        tags=["fire"],
        requirement='(COMPLETED "Warmup")',
        locked_visibility="locked",
    )


@pytest.mark.parametrize(
    "params",
    [{"q": "dragon"}, {"q": "fire"}, {"category": "dragons"}],
    ids=["name", "tag", "category"],
)
def test_searching_never_finds_an_anonymous_card(vault, player, params):
    cards, _ = board_page(player, **params)
    page = player.get(reverse("challenges:board"), params).content.decode()

    assert cards == []
    assert "Dragon Vault" not in page
    assert '<option value="dragons"' not in page


def test_an_anonymous_card_gives_away_no_category(vault, player):
    cards, categories = board_page(player)

    assert categories == ["misc", "Locked"]
    assert cards == [": Warmup 100 0 solves", "locked: Locked Solve Warmup"]
    page = player.get(reverse("challenges:board")).content.decode()
    assert "dragons" not in page
    assert "Dragon Vault" not in page


def test_an_explanation_names_only_challenges_the_player_sees(player):
    make_challenge("Warmup")
    make_challenge("Hidden Gem", requirement='(COMPLETED "Warmup")')
    make_challenge(
        "Vault",
        requirement='(AND (COMPLETED "Warmup") (COMPLETED "Hidden Gem"))',
        locked_visibility="locked",
    )

    cards, _ = board_page(player)
    vault = Challenge.objects.get(name="Vault")
    detail = player.get(vault.get_absolute_url()).content.decode()

    assert cards[-1] == "locked: Locked Solve Warmup and solve another challenge"
    assert "Solve Warmup and solve another challenge" in detail
    assert "Hidden Gem" not in detail


def test_a_solved_challenge_stays_on_the_board_when_its_requirement_breaks(
    solo, player
):
    warmup = make_challenge("Warmup")
    blank = make_challenge("Blank Page", requirement='(COMPLETED "Warmup")')
    principal = principal_of(solo)
    solve(principal, warmup)
    solve(principal, blank)
    # The organizer renames Warmup: the requirement names no challenge now.
    warmup.name, warmup.normalized_name = "Warm-up", "warm-up"
    warmup.save()

    cards, _ = board_page(player)
    page = player.get(reverse("challenges:board")).content.decode()

    assert "solved: Blank Page 100 1 solve · solved" in cards
    assert "2 of 2 solved" in page
    assert player.get(blank.get_absolute_url()).status_code == 200
