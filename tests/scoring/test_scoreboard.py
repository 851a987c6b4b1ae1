"""The public scoreboard: order and tie-breaks, filters, who is left out, the
player's own row, pages, chart data, the CTFtime feed, the cache, principal
pages and the Wall of Shame."""

import json
import re
import threading
import time
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import User
from challenges.models import Competition
from scoring.flags import expected_flag
from scoring.models import Principal, ScoreEvent
from scoring.scoreboard import _shared, standings
from scoring.services import (
    hint_unlock,
    principal_set_banned,
    principal_set_hidden,
    score_adjust,
)

from .factories import (
    attempt,
    derived,
    flag_of,
    make_challenge,
    make_dynamic,
    make_hint,
    player,
    principal_of,
    question_of,
)


@pytest.fixture(autouse=True)
def empty_cache():
    # Boards are cached per competition; no test may see another's.
    cache.clear()
    yield
    cache.clear()


class BoardParser(HTMLParser):
    """The rows of `table.scoreboard`: classes, rank, name (the link), score."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self._in_table = False
        self._cells: list[str] | None = None
        self._link: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "scoreboard" in (attrs.get("class") or ""):
            self._in_table = True
        elif self._in_table and tag == "tr":
            self._cells = []
            self.rows.append({"class": attrs.get("class") or "", "name": ""})
        elif self._cells is not None and tag == "td":
            self._cells.append("")
        elif self._cells is not None and tag == "a":
            self._link = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag == "a" and self._link is not None:
            self.rows[-1]["name"] = self._link.strip()
            self._link = None
        elif tag == "tr" and self._cells is not None:
            row, cells = self.rows[-1], self._cells
            if len(cells) == 5:
                row.update(
                    rank=int(cells[0]), score=int(cells[2]), solves=int(cells[3])
                )
            self._cells = None

    def handle_data(self, data):
        if self._cells:
            self._cells[-1] += data
        if self._link is not None:
            self._link += data


def board(response) -> list[dict]:
    """The body rows of the scoreboard table in a page or fragment."""
    assert response.status_code == 200
    parser = BoardParser()
    parser.feed(response.content.decode())
    return [row for row in parser.rows if "rank" in row]


def names(response) -> list[str]:
    return [row["name"] for row in board(response)]


def shame(response) -> list[list[str]]:
    """The Wall of Shame rows, as cell texts."""
    html = response.content.decode()
    if "Wall of Shame" not in html:
        return []
    section = html.split("Wall of Shame", 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1]
    return [
        [unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in body.split("</tr>")[:-1]
    ]


@pytest.fixture
def warmup(db):
    return make_challenge("Warmup", value=100)


@pytest.fixture
def pwn(db):
    return make_challenge("Pwn", value=50)


# Order and filters.


def test_it_orders_by_score_then_earliest_last_solve_then_id(
    organizer, warmup, pwn, client
):
    alice, bob, carol, dave, erin, frank = (
        player(n) for n in ("alice", "bob", "carol", "dave", "erin", "frank")
    )
    for user in (alice, bob, carol, dave, erin, frank):
        principal_of(user)  # ids in this order
    attempt(bob, warmup, flag_of(warmup))  # 100, earlier than alice
    attempt(alice, warmup, flag_of(warmup))  # 100
    score_adjust(
        principal=principal_of(carol), delta=100, note="bonus", actor=organizer
    )
    attempt(frank, warmup, flag_of(warmup))
    attempt(frank, pwn, flag_of(pwn))  # 150

    rows = board(client.get("/scoreboard/"))

    assert [(r["rank"], r["name"], r["score"]) for r in rows] == [
        (1, "Team frank", 150),
        (2, "Team bob", 100),
        (3, "Team alice", 100),
        (4, "Team carol", 100),  # no solve: after the solvers with as many points
        (5, "Team dave", 0),
        (6, "Team erin", 0),
    ]


def test_it_filters_teams_and_solo_players(captain, solo, warmup, client):
    attempt(captain, warmup, flag_of(warmup))
    attempt(solo, warmup, flag_of(warmup))

    assert names(client.get("/scoreboard/?filter=all")) == ["Null Pointers", "solo"]
    assert names(client.get("/scoreboard/?filter=team")) == ["Null Pointers"]
    assert names(client.get("/scoreboard/partial?filter=solo")) == ["solo"]
    assert names(client.get("/scoreboard/?filter=bogus")) == ["Null Pointers", "solo"]


@pytest.mark.parametrize("leave_out", ["ban", "hide"])
def test_it_leaves_banned_and_hidden_principals_out_everywhere(
    leave_out, organizer, captain, solo, warmup, client
):
    attempt(captain, warmup, flag_of(warmup))
    attempt(solo, warmup, flag_of(warmup))
    cheater = principal_of(captain)
    if leave_out == "ban":
        principal_set_banned(principal=cheater, banned=True, actor=organizer)
    else:
        principal_set_hidden(principal=cheater, hidden=True, actor=organizer)

    page = client.get("/scoreboard/")
    partial = client.get("/scoreboard/partial")
    chart = client.get("/scoreboard/chart-data").json()
    feed = client.get("/scoreboard/ctftime.json").json()

    assert names(page) == ["solo"]
    assert names(partial) == ["solo"]
    assert [p["label"] for d in chart["datasets"] for p in d["data"]] == ["solo"]
    assert chart["max_rank"] == 1
    assert feed == {"standings": [{"pos": 1, "team": "solo", "score": 100}]}
    assert "Null Pointers" not in page.content.decode()


# The player's own row and pages.


@pytest.fixture
def fifty_nine_ahead(organizer, db):
    """59 solo players, each with more points than one solve of `warmup`."""
    for n in range(59):
        ahead = principal_of(player(f"ahead{n:02}", team=False))
        score_adjust(principal=ahead, delta=300 - n, note="seed", actor=organizer)


def test_it_pins_the_players_own_row_on_the_first_page(
    fifty_nine_ahead, solo, warmup, login
):
    attempt(solo, warmup, flag_of(warmup))

    rows = board(login(solo).get("/scoreboard/"))

    assert rows[0] == {
        "class": "me pinned",
        "name": "solo",
        "rank": 60,
        "score": 100,
        "solves": 1,
    }
    assert [r["rank"] for r in rows[1:]] == list(range(1, 51))
    assert [r for r in rows if "me" in r["class"]] == rows[:1]


def test_it_highlights_the_players_own_row_on_its_own_page(
    fifty_nine_ahead, solo, warmup, login
):
    attempt(solo, warmup, flag_of(warmup))

    rows = board(login(solo).get("/scoreboard/?page=2"))

    assert [r["rank"] for r in rows] == list(range(51, 61))
    assert [(r["name"], r["class"]) for r in rows if r["class"]] == [("solo", "me")]


def test_it_pins_nothing_for_a_visitor(fifty_nine_ahead, solo, warmup, client):
    attempt(solo, warmup, flag_of(warmup))

    rows = board(client.get("/scoreboard/"))

    assert [r["rank"] for r in rows] == list(range(1, 51))
    assert not [r for r in rows if r["class"]]


def test_it_pages_fifty_rows_at_a_time(fifty_nine_ahead, solo, warmup, client):
    attempt(solo, warmup, flag_of(warmup))

    first = client.get("/scoreboard/")
    second = client.get("/scoreboard/partial?page=2")
    beyond = client.get("/scoreboard/?page=99")

    assert len(board(first)) == 50
    assert "Page 1 of 2" in first.content.decode()
    assert 'href="?filter=all&page=2"' in first.content.decode()
    assert [r["name"] for r in board(second)][-2:] == ["ahead58", "solo"]
    assert "Page 2 of 2" in second.content.decode()
    assert board(beyond) == board(second)  # past the end: the last page


def test_the_page_polls_its_table_and_answers_htmx_with_the_fragment(
    captain, warmup, client
):
    attempt(captain, warmup, flag_of(warmup))

    page = client.get("/scoreboard/?filter=team").content.decode()
    fragment = client.get("/scoreboard/?filter=team", HTTP_HX_REQUEST="true")

    assert 'hx-get="/scoreboard/partial?filter=team&page=1"' in page
    assert 'hx-trigger="every 30s"' in page
    assert "<html" not in fragment.content.decode()
    assert names(fragment) == ["Null Pointers"]


# Chart data and the CTFtime feed.


def test_the_chart_data_has_one_dataset_per_kind(captain, solo, warmup, client):
    attempt(captain, warmup, flag_of(warmup))
    team = principal_of(captain)
    team.refresh_from_db()
    principal_of(solo)

    data = client.get("/scoreboard/chart-data").json()

    assert set(data) == {"datasets", "max_rank"}
    assert data["max_rank"] == 2
    assert [d["label"] for d in data["datasets"]] == ["Teams", "Solo Players"]
    for dataset in data["datasets"]:
        assert {"label", "data", "borderColor", "backgroundColor"} <= set(dataset)
    assert [d["data"] for d in data["datasets"]] == [
        [
            {
                "x": 100,
                "y": 1,
                "label": "Null Pointers",
                "kind": "team",
                "rank": 1,
                "score": 100,
                "solves": 1,
                "last_solve_at": team.last_solve_at.isoformat(),
            }
        ],
        [
            {
                "x": 0,
                "y": 2,
                "label": "solo",
                "kind": "solo",
                "rank": 2,
                "score": 0,
                "solves": 0,
                "last_solve_at": None,
            }
        ],
    ]


def test_the_chart_data_follows_the_filter(captain, solo, warmup, client):
    attempt(captain, warmup, flag_of(warmup))
    principal_of(solo)

    data = client.get("/scoreboard/chart-data?filter=solo").json()

    assert [d["label"] for d in data["datasets"]] == ["Solo Players"]
    assert [(p["label"], p["rank"]) for p in data["datasets"][0]["data"]] == [
        ("solo", 1)
    ]
    assert data["max_rank"] == 1


def test_the_timeline_follows_the_top_scores_over_time(captain, warmup, pwn, client):
    attempt(captain, warmup, flag_of(warmup))
    attempt(captain, pwn, flag_of(pwn))

    data = client.get("/scoreboard/timeline-data").json()

    assert [d["label"] for d in data["datasets"]] == ["Null Pointers"]
    assert [p["y"] for p in data["datasets"][0]["data"]] == [0, 100, 150]
    assert data["end"] is None  # open: the lines run on to now


def test_the_timeline_starts_at_zero_at_the_competition_start(captain, warmup, client):
    competition = Competition.objects.default()
    competition.starts_at = timezone.now() - timedelta(hours=2)
    competition.save()
    attempt(captain, warmup, flag_of(warmup))
    ScoreEvent.objects.update(created_at=timezone.now() - timedelta(hours=1))
    competition.ends_at = timezone.now() - timedelta(minutes=1)
    competition.save()

    data = client.get("/scoreboard/timeline-data").json()

    first = data["datasets"][0]["data"][0]
    assert first == {"x": competition.starts_at.isoformat(), "y": 0}
    assert data["end"] == competition.ends_at.isoformat()


def test_the_ctftime_feed_lists_positions_names_and_scores(
    captain, solo, outsider, warmup, pwn, client
):
    attempt(captain, warmup, flag_of(warmup))
    attempt(solo, pwn, flag_of(pwn))
    principal_of(outsider)

    feed = client.get("/scoreboard/ctftime.json")

    assert feed["Content-Type"] == "application/json"
    assert feed.json() == {
        "standings": [
            {"pos": 1, "team": "Null Pointers", "score": 100},
            {"pos": 2, "team": "solo", "score": 50},
            {"pos": 3, "team": "outsider", "score": 0},
        ]
    }


# The cache.


@pytest.fixture
def other_competition(db):
    return Competition.objects.create(name="Other", slug="other")


def test_a_solve_shows_on_the_table_at_once(
    captain, solo, warmup, pwn, client, django_capture_on_commit_callbacks
):
    attempt(captain, warmup, flag_of(warmup))
    principal_of(solo)
    assert names(client.get("/scoreboard/partial")) == ["Null Pointers", "solo"]

    with django_capture_on_commit_callbacks(execute=True):
        attempt(solo, warmup, flag_of(warmup))
        attempt(solo, pwn, flag_of(pwn))

    rows = board(client.get("/scoreboard/partial"))
    assert [(r["name"], r["score"], r["solves"]) for r in rows] == [
        ("solo", 150, 2),
        ("Null Pointers", 100, 1),
    ]


def test_a_manual_adjustment_shows_on_the_table_at_once(
    organizer, captain, warmup, client, django_capture_on_commit_callbacks
):
    attempt(captain, warmup, flag_of(warmup))
    assert board(client.get("/scoreboard/partial"))[0]["score"] == 100

    with django_capture_on_commit_callbacks(execute=True):
        score_adjust(
            principal=principal_of(captain), delta=-30, note="hint", actor=organizer
        )

    assert board(client.get("/scoreboard/partial"))[0]["score"] == 70


def test_a_paid_hint_shows_on_the_table_at_once(
    captain, warmup, client, django_capture_on_commit_callbacks
):
    attempt(captain, warmup, flag_of(warmup))
    assert board(client.get("/scoreboard/partial"))[0]["score"] == 100

    with django_capture_on_commit_callbacks(execute=True):
        hint_unlock(
            principal=principal_of(captain), hint=make_hint(warmup, 25), user=captain
        )

    assert board(client.get("/scoreboard/partial"))[0]["score"] == 75


def test_a_ban_shows_on_the_table_at_once(
    organizer, captain, solo, warmup, client, django_capture_on_commit_callbacks
):
    attempt(captain, warmup, flag_of(warmup))
    principal_of(solo)
    assert names(client.get("/scoreboard/partial")) == ["Null Pointers", "solo"]

    with django_capture_on_commit_callbacks(execute=True):
        principal_set_banned(
            principal=principal_of(captain), banned=True, actor=organizer
        )

    assert names(client.get("/scoreboard/partial")) == ["solo"]


def test_a_change_leaves_another_competitions_cached_board_alone(
    organizer,
    captain,
    solo,
    warmup,
    other_competition,
    django_capture_on_commit_callbacks,
):
    elsewhere = principal_of(solo, other_competition)
    cached = standings(other_competition)
    Principal.objects.filter(pk=elsewhere.pk).update(ledger_total=999)  # no signal

    with django_capture_on_commit_callbacks(execute=True):
        principal_set_banned(
            principal=principal_of(captain), banned=True, actor=organizer
        )

    assert standings(Competition.objects.default()) == []
    assert standings(other_competition) == cached
    assert [r.score for r in cached] == [0]


def test_a_flushed_cache_never_brings_back_a_board_kept_in_memory(
    captain, warmup, client
):
    attempt(captain, warmup, flag_of(warmup))
    assert board(client.get("/scoreboard/partial"))[0]["score"] == 100
    Principal.objects.update(ledger_total=999)  # no signal: only a flush shows it

    cache.clear()

    assert board(client.get("/scoreboard/partial"))[0]["score"] == 999


def test_one_rendered_table_serves_every_viewer_with_their_own_row(
    fifty_nine_ahead, solo, warmup, login, client
):
    attempt(solo, warmup, flag_of(warmup))
    leader = User.objects.get(username="ahead00")

    pinned = board(login(solo).get("/scoreboard/"))
    marked = board(login(leader).get("/scoreboard/partial"))
    public = board(client.get("/scoreboard/"))

    assert [(r["name"], r["class"]) for r in pinned if r["class"]] == [
        ("solo", "me pinned")
    ]
    assert [(r["name"], r["class"]) for r in marked if r["class"]] == [
        ("ahead00", "me")
    ]
    assert [r["rank"] for r in public] == list(range(1, 51))
    assert not [r for r in public if r["class"]]


def test_the_staff_switch_stays_off_the_public_page(
    organizer, captain, warmup, login, client
):
    attempt(captain, warmup, flag_of(warmup))

    staff = login(organizer).get("/scoreboard/").content.decode()
    public = client.get("/scoreboard/").content.decode()

    assert "Show the live board (staff)" in staff
    assert "Show the live board" not in public


def test_a_cold_board_is_built_once_while_other_workers_wait(db):
    builds, results = [], []

    def build():
        builds.append(1)
        time.sleep(0.2)
        return ["rows"]

    def request():
        results.append(_shared("sb:test:cold", build))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [["rows"]] * 4
    assert len(builds) == 1


# Principal pages.


def test_a_principal_page_lists_solves_with_their_points_and_history(
    captain, outsider, client
):
    dynamic = make_dynamic(
        "Heap", initial=500, decay=100, minimum=100, function="linear"
    )
    attempt(captain, dynamic, flag_of(dynamic))  # 500, first solver
    attempt(outsider, dynamic, flag_of(dynamic))  # both now hold 400
    team = principal_of(captain)

    page = client.get(f"/scoreboard/principal/{team.pk}/")

    html = page.content.decode()
    assert "Rank 1 · 400 points · 1 solve" in html
    assert '<td>Heap</td><td class="num">400</td>' in html
    script = html.split('id="history-data"', 1)[1].split(">", 1)[1]
    history = json.loads(script.split("</script>")[0])
    assert [p["y"] for p in history["points"]] == [0, 500, 400]
    assert "Your questions" not in html


def test_its_own_members_see_the_status_of_each_question(
    captain, member, outsider, warmup, pwn, login
):
    attempt(captain, warmup, flag_of(warmup))
    attempt(member, pwn, "CTF{wrong}")
    team = principal_of(captain)
    url = f"/scoreboard/principal/{team.pk}/"

    own = login(member).get(url).content.decode()
    other = login(outsider).get(url).content.decode()

    assert "Your questions" in own
    assert "<td>Warmup / main</td>" in own
    assert '<td><span class="badge accent">solved</span></td>' in own
    assert '<td>Pwn / main</td>\n    <td>open</td>\n    <td class="num">1</td>' in own
    assert "Your questions" not in other
    assert "Wrong attempts" not in other


def test_a_principal_page_names_only_challenges_the_viewer_may_see(
    captain, outsider, warmup, login, client
):
    secret = make_challenge(
        "Secret Lair", requirement='(COMPLETED "Warmup")', locked_visibility="locked"
    )
    attempt(captain, warmup, flag_of(warmup))
    attempt(captain, secret, flag_of(secret))
    url = f"/scoreboard/principal/{principal_of(captain).pk}/"

    own = login(captain).get(url).content.decode()
    theirs = login(outsider).get(url).content.decode()
    public = client.get(url).content.decode()

    assert "<td>Secret Lair</td>" in own
    for page in (theirs, public):
        assert "Secret Lair" not in page
        assert "A challenge you cannot see yet" in page
        assert "<td>Warmup</td>" in page


def test_a_members_question_list_shows_a_locked_challenge_as_its_card(
    captain, warmup, login
):
    make_challenge(
        "Secret Lair", requirement='(COMPLETED "Warmup")', locked_visibility="locked"
    )
    make_challenge("Hidden Den", requirement='(COMPLETED "Warmup")')
    url = f"/scoreboard/principal/{principal_of(captain).pk}/"

    own = login(captain).get(url).content.decode()

    assert "Secret Lair" not in own
    assert "Hidden Den" not in own
    assert "Locked challenge</td>\n    <td>locked</td>" in own
    assert "Solve Warmup" in own


def test_a_banned_principals_page_is_gone_for_the_public(
    organizer, captain, member, outsider, warmup, client, login
):
    attempt(captain, warmup, flag_of(warmup))
    team = principal_of(captain)
    principal_set_banned(principal=team, banned=True, actor=organizer)
    url = f"/scoreboard/principal/{team.pk}/"

    assert client.get(url).status_code == 404
    assert login(outsider).get(url).status_code == 404
    assert login(organizer).get(url).status_code == 200
    assert "banned" in login(member).get(url).content.decode()


def test_a_hidden_principals_page_is_gone_for_the_public(organizer, captain, client):
    team = principal_of(captain)
    principal_set_hidden(principal=team, hidden=True, actor=organizer)

    assert client.get(f"/scoreboard/principal/{team.pk}/").status_code == 404


# Wall of Shame.


@pytest.fixture
def ban_submitters(db):
    Competition.objects.filter(is_default=True).update(ban_policy="submitter")


def test_the_wall_of_shame_shows_the_latest_eight_auto_bans(
    ban_submitters, captain, client
):
    challenge = make_challenge("Crypto", flags=[derived("CTF{d_{hash}}")])
    owner = principal_of(captain)
    cheaters = [player(f"thief{n}") for n in range(1, 10)]
    for thief in cheaters:
        principal_of(thief)
    leaked = expected_flag(owner, question_of(challenge))

    for thief in cheaters:
        attempt(thief, challenge, leaked)

    rows = shame(client.get("/scoreboard/"))
    assert len(rows) == 8
    assert [row[:3] for row in rows] == [
        [f"thief{n}", f"Team thief{n}", "Submitted another team's flag"]
        for n in range(9, 1, -1)
    ]
    assert Principal.objects.filter(is_banned=True).count() == 9


def test_the_wall_of_shame_is_absent_without_auto_bans(organizer, captain, client):
    principal_set_banned(principal=principal_of(captain), banned=True, actor=organizer)

    assert "Wall of Shame" not in client.get("/scoreboard/").content.decode()
