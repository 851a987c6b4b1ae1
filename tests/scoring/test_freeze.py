"""The scoreboard freeze: stored in the database, a snapshot of the ledger at the
freeze time for the public, live for staff, scheduled, audited, and the
challenge board's counts and values as they stood at the freeze."""

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import EventLog, EventType
from challenges.models import Competition
from challenges.services import competition_freeze, competition_unfreeze
from scoring.models import FrozenStanding, Solve
from scoring.scoreboard import standings
from scoring.services import principal_set_banned, solve_delete

from .factories import (
    attempt,
    flag_of,
    make_challenge,
    make_dynamic,
    player,
    principal_of,
)
from .test_scoreboard import board

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def competition(db) -> Competition:
    return Competition.objects.default()


@pytest.fixture
def warmup(db):
    return make_challenge("Warmup", value=100)


@pytest.fixture
def pwn(db):
    return make_challenge("Pwn", value=50)


@pytest.fixture
def alpha(db):
    return player("alpha")


@pytest.fixture
def bravo(db):
    return player("bravo")


@pytest.fixture
def frozen_with_late_solves(organizer, competition, alpha, bravo, warmup, pwn):
    """alpha leads at the freeze (100 to 0); bravo overtakes after it (150)."""
    attempt(alpha, warmup, flag_of(warmup))
    attempt(bravo, warmup, "CTF{not yet}")  # bravo is on the board at the freeze
    competition_freeze(competition=competition, actor=organizer)
    attempt(bravo, warmup, flag_of(warmup))
    attempt(bravo, pwn, flag_of(pwn))
    return competition


def scores(response) -> list[tuple[str, int]]:
    return [(row["name"], row["score"]) for row in board(response)]


# Stored in the database.


@pytest.mark.django_db(transaction=True)
def test_the_freeze_is_stored_and_seen_by_a_new_process(
    organizer, alpha, bravo, warmup
):
    if connection.vendor != "postgresql":
        pytest.skip("the SQLite test database is in memory: no other process sees it")
    # An earlier transactional test's flush may have emptied the tables, the
    # migration's default competition included.
    competition, _ = Competition.objects.get_or_create(
        is_default=True, defaults={"name": "Main event", "slug": "main"}
    )
    attempt(alpha, warmup, flag_of(warmup))
    attempt(bravo, warmup, "CTF{not yet}")
    competition_freeze(competition=competition, actor=organizer)
    attempt(bravo, warmup, flag_of(warmup))
    db = connection.settings_dict
    url = (
        f"postgres://{quote(db['USER'] or '', safe='')}:"
        f"{quote(db['PASSWORD'] or '', safe='')}@{db['HOST'] or 'localhost'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    code = (
        "import json; from challenges.models import Competition; "
        "from scoring.scoreboard import standings; "
        "c = Competition.objects.default(); "
        "print(json.dumps({'freeze_at': c.freeze_at.isoformat(), "
        "'frozen': c.is_frozen(), "
        "'board': [[r.name, r.score] for r in standings(c)]}))"
    )

    run = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen == {
        "freeze_at": competition.freeze_at.isoformat(),
        "frozen": True,
        "board": [["Team alpha", 100], ["Team bravo", 0]],
    }


# What the public sees.


def test_frozen_standings_ignore_solves_after_the_freeze(
    frozen_with_late_solves, client
):
    assert scores(client.get("/scoreboard/")) == [
        ("Team alpha", 100),
        ("Team bravo", 0),
    ]
    assert scores(client.get("/scoreboard/partial")) == [
        ("Team alpha", 100),
        ("Team bravo", 0),
    ]
    assert client.get("/scoreboard/ctftime.json").json() == {
        "standings": [
            {"pos": 1, "team": "Team alpha", "score": 100},
            {"pos": 2, "team": "Team bravo", "score": 0},
        ]
    }
    chart = client.get("/scoreboard/chart-data").json()
    assert [(p["label"], p["score"]) for p in chart["datasets"][0]["data"]] == [
        ("Team alpha", 100),
        ("Team bravo", 0),
    ]
    timeline = client.get("/scoreboard/timeline-data").json()
    assert [
        (d["label"], [p["y"] for p in d["data"]]) for d in timeline["datasets"]
    ] == [
        ("Team alpha", [0, 100]),
        ("Team bravo", [0]),
    ]


def test_frozen_points_ignore_decay_after_the_freeze(
    organizer, competition, alpha, bravo, client
):
    heap = make_dynamic("Heap", initial=500, decay=100, minimum=100, function="linear")
    attempt(alpha, heap, flag_of(heap))  # 500
    attempt(bravo, heap, "CTF{not yet}")
    competition_freeze(competition=competition, actor=organizer)
    attempt(bravo, heap, flag_of(heap))
    attempt(player("charlie"), heap, flag_of(heap))  # everyone now holds 300

    frozen = scores(client.get("/scoreboard/"))
    live = scores(client.get("/scoreboard/?live=1"))  # not staff: ignored

    assert frozen == [("Team alpha", 500), ("Team bravo", 0)]
    assert live == frozen
    assert [(r.name, r.score) for r in standings(competition, live=True)] == [
        ("Team alpha", 300),
        ("Team bravo", 300),
        ("Team charlie", 300),
    ]


def test_frozen_points_use_each_value_as_it_stood_at_the_freeze(
    organizer, competition, alpha, bravo, client
):
    """Value changes after the freeze (a solve, a ban, a removed solve) leave the
    frozen board, its chart and a solver's public page where they were."""
    heap = make_dynamic("Heap", initial=500, decay=100, minimum=100, function="linear")
    charlie, delta = player("charlie"), player("delta")
    for user in (alpha, bravo, charlie):
        attempt(user, heap, flag_of(heap))  # everyone holds 300 at the freeze
    competition_freeze(competition=competition, actor=organizer)
    attempt(delta, heap, flag_of(heap))  # 200
    principal_set_banned(principal=principal_of(charlie), banned=True, actor=organizer)
    solve_delete(
        solve=Solve.objects.get(principal=principal_of(bravo)),
        actor=organizer,
        reason="x",
    )  # two public solvers left: 400

    # delta joined after the freeze, charlie is banned now.
    assert scores(client.get("/scoreboard/")) == [
        ("Team alpha", 300),
        ("Team bravo", 300),
    ]
    assert [(r.name, r.score) for r in standings(competition, live=True)] == [
        ("Team alpha", 400),
        ("Team delta", 400),
        ("Team bravo", 0),
    ]
    timeline = client.get("/scoreboard/timeline-data").json()["datasets"]
    assert {d["label"]: d["data"][-1]["y"] for d in timeline if d["data"]} == {
        "Team alpha": 300,
        "Team bravo": 300,
    }
    page = client.get(f"/scoreboard/principal/{principal_of(alpha).pk}/")
    assert "300 points · 1 solve · as of the freeze" in page.content.decode()


def test_a_principal_page_shows_the_public_its_solves_up_to_the_freeze(
    frozen_with_late_solves, bravo, client, login
):
    team = bravo.team.principals.get()
    url = f"/scoreboard/principal/{team.pk}/"

    public = client.get(url).content.decode()
    own = login(bravo).get(url).content.decode()

    assert "0 points · 0 solves · as of the freeze" in public
    assert "Rank 2 · 150 points · 2 solves" in own
    assert "as of the freeze" not in own


def test_players_see_their_live_score_but_frozen_rank(
    frozen_with_late_solves, bravo, login
):
    page = login(bravo).get("/scoreboard/").content.decode()

    assert "Team bravo</a>: live score 150, rank 2 (frozen)." in page


def test_staff_may_switch_to_the_live_board(frozen_with_late_solves, organizer, login):
    staff = login(organizer)

    public = staff.get("/scoreboard/")
    live = staff.get("/scoreboard/?live=1")
    partial = staff.get("/scoreboard/partial?live=1")

    assert scores(public) == [("Team alpha", 100), ("Team bravo", 0)]
    assert "Show the live board (staff)" in public.content.decode()
    assert scores(live) == [("Team bravo", 150), ("Team alpha", 100)]
    assert "Live board (staff): the public sees it frozen." in live.content.decode()
    assert "Frozen at" not in live.content.decode()
    assert 'hx-get="/scoreboard/partial?filter=all&page=1&live=1"' in (
        live.content.decode()
    )
    assert scores(partial) == [("Team bravo", 150), ("Team alpha", 100)]


def test_the_page_says_when_it_froze(organizer, competition, client):
    at = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    competition_freeze(competition=competition, actor=organizer, at=at)

    page = client.get("/scoreboard/").content.decode()

    assert f"Frozen at {at:%H:%M:%S} UTC" in page


def test_the_page_says_when_it_froze_in_utc_whatever_the_time_zone(
    organizer, competition, client, settings
):
    settings.TIME_ZONE = "Europe/Paris"  # never UTC+0, summer or winter
    at = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    competition_freeze(competition=competition, actor=organizer, at=at)

    page = client.get("/scoreboard/").content.decode()

    assert f"Frozen at {at.astimezone(UTC):%H:%M:%S} UTC" in page


def test_unfreezing_returns_to_the_live_board(
    frozen_with_late_solves, organizer, client
):
    assert "Frozen at" in client.get("/scoreboard/").content.decode()

    competition_unfreeze(competition=frozen_with_late_solves, actor=organizer)

    page = client.get("/scoreboard/")
    assert "Frozen at" not in page.content.decode()
    assert scores(page) == [("Team bravo", 150), ("Team alpha", 100)]
    assert Competition.objects.default().freeze_at is None


def test_a_scheduled_freeze_is_not_active_yet(
    organizer, competition, alpha, warmup, client
):
    competition_freeze(
        competition=competition, actor=organizer, at=timezone.now() + timedelta(hours=1)
    )
    attempt(alpha, warmup, flag_of(warmup))

    page = client.get("/scoreboard/")

    assert "Frozen at" not in page.content.decode()
    assert scores(page) == [("Team alpha", 100)]
    assert not FrozenStanding.objects.exists()


def test_a_snapshot_is_not_stored_while_late_commits_may_still_land(
    frozen_with_late_solves, client
):
    client.get("/scoreboard/")  # frozen a moment ago: within the grace period

    assert not FrozenStanding.objects.exists()


def test_a_frozen_board_does_not_rescan_the_ledger_on_each_request(
    frozen_with_late_solves, client, monkeypatch
):
    monkeypatch.setattr("scoring.scoreboard.SNAPSHOT_GRACE", timedelta(0))

    def ledger_sums(queries) -> list[str]:
        return [
            q["sql"]
            for q in queries
            if "scoring_scoreevent" in q["sql"] and "SUM(" in q["sql"].upper()
        ]

    with CaptureQueriesContext(connection) as first:
        client.get("/scoreboard/")
    stored = FrozenStanding.objects.filter(competition=frozen_with_late_solves)
    assert sorted(stored.values_list("principal__team__name", "score")) == [
        ("Team alpha", 100),
        ("Team bravo", 0),
    ]
    cache.clear()

    with CaptureQueriesContext(connection) as second:
        page = client.get("/scoreboard/")

    assert ledger_sums(first.captured_queries)  # the snapshot was taken once
    assert ledger_sums(second.captured_queries) == []
    assert scores(page) == [("Team alpha", 100), ("Team bravo", 0)]


# Freezing and unfreezing.


def test_freezing_and_unfreezing_are_audited(organizer, competition):
    competition_freeze(competition=competition, actor=organizer)
    competition_unfreeze(competition=competition, actor=organizer)
    later = timezone.now() + timedelta(days=1)
    competition_freeze(competition=competition, actor=organizer, at=later)

    events = EventLog.objects.filter(event_type=EventType.SCOREBOARD_FROZEN)

    assert [(e.actor_id, re.sub(r"\d", "9", e.message)) for e in events] == [
        (organizer.pk, "freeze scheduled for 9999-99-99 99:99:99 UTC"),
        (organizer.pk, "unfrozen"),
        (organizer.pk, "frozen at 9999-99-99 99:99:99 UTC"),
    ]
    assert events[0].message.endswith(f"{later:%Y-%m-%d %H:%M:%S} UTC")
    assert events[0].details["freeze_at"] == later.isoformat()
    assert [e.details["frozen"] for e in events] == [True, False, True]


def test_organizers_freeze_and_unfreeze_from_the_admin(organizer, competition, login):
    admin = login(organizer)
    changelist = "/admin/challenges/competition/"

    admin.post(changelist, {"action": "freeze_now", "_selected_action": competition.pk})
    competition.refresh_from_db()
    assert competition.is_frozen()
    assert "Frozen at" in admin.get("/scoreboard/").content.decode()

    admin.post(changelist, {"action": "unfreeze", "_selected_action": competition.pk})
    competition.refresh_from_db()
    assert competition.freeze_at is None
    assert EventLog.objects.filter(event_type=EventType.SCOREBOARD_FROZEN).count() == 2


def test_organizers_schedule_a_freeze_from_the_admin(organizer, competition, login):
    admin = login(organizer)
    url = f"/admin/challenges/competition/{competition.pk}/schedule-freeze/"

    form = admin.get(url)
    response = admin.post(url, {"freeze_at_0": "2031-06-01", "freeze_at_1": "18:00:00"})

    assert form.status_code == 200
    assert response.status_code == 302
    competition.refresh_from_db()
    assert competition.freeze_at == datetime(2031, 6, 1, 18, 0, tzinfo=UTC)
    assert not competition.is_frozen()
    event = EventLog.objects.get(event_type=EventType.SCOREBOARD_FROZEN)
    assert event.message == "freeze scheduled for 2031-06-01 18:00:00 UTC"


def test_the_scheduled_freeze_is_audited_in_utc_whatever_the_time_zone(
    organizer, competition, login, settings
):
    settings.TIME_ZONE = "Europe/Paris"  # UTC+1 in January
    url = f"/admin/challenges/competition/{competition.pk}/schedule-freeze/"

    login(organizer).post(url, {"freeze_at_0": "2031-01-15", "freeze_at_1": "18:00:00"})

    competition.refresh_from_db()
    assert competition.freeze_at == datetime(2031, 1, 15, 17, 0, tzinfo=UTC)
    event = EventLog.objects.get(event_type=EventType.SCOREBOARD_FROZEN)
    assert event.message == "freeze scheduled for 2031-01-15 17:00:00 UTC"


def test_players_may_not_freeze(alpha, competition, login):
    login(alpha).post(
        "/admin/challenges/competition/",
        {"action": "freeze_now", "_selected_action": competition.pk},
    )

    competition.refresh_from_db()
    assert competition.freeze_at is None


# The challenge board.


def card(response, name: str) -> tuple[int, int]:
    """(points, solves) on the challenge board's card called `name`."""
    found = re.search(
        rf'<span class="chal-name">{name}</span>\s*'
        r'<span class="chal-points">(\d+)</span>\s*'
        r'<span class="chal-meta">(\d+) solve',
        response.content.decode(),
    )
    assert found, f"no card {name!r}"
    return int(found[1]), int(found[2])


@pytest.fixture
def heap_frozen_after_one_solve(organizer, competition, alpha, bravo):
    heap = make_dynamic("Heap", initial=500, decay=100, minimum=100, function="linear")
    attempt(alpha, heap, flag_of(heap))
    competition_freeze(competition=competition, actor=organizer)
    attempt(bravo, heap, flag_of(heap))
    attempt(player("charlie"), heap, flag_of(heap))
    return heap


def test_players_see_solve_counts_and_values_as_of_the_freeze(
    heap_frozen_after_one_solve, outsider, login
):
    page = login(outsider).get("/challenges/")

    assert card(page, "Heap") == (500, 1)


def test_staff_see_live_solve_counts_and_values(
    heap_frozen_after_one_solve, organizer, login
):
    page = login(organizer).get("/challenges/")

    assert card(page, "Heap") == (300, 3)


def test_the_competition_page_has_freeze_and_unfreeze_buttons(
    organizer, competition, login
):
    admin = login(organizer)
    page = f"/admin/challenges/competition/{competition.pk}/change/"
    freeze = f"/admin/challenges/competition/{competition.pk}/freeze/"
    unfreeze = f"/admin/challenges/competition/{competition.pk}/unfreeze/"
    assert f'action="{freeze}"' in admin.get(page).content.decode()

    response = admin.post(freeze, follow=True)

    competition.refresh_from_db()
    assert competition.is_frozen()
    html = response.content.decode()
    assert f'action="{unfreeze}"' in html and f'action="{freeze}"' not in html
    assert (
        f"The scoreboard of {competition.name} is frozen as of "
        f"{competition.freeze_at.astimezone(UTC):%H:%M:%S} UTC: players see the "
        "standings of that moment until you unfreeze." in html
    )

    response = admin.post(unfreeze, follow=True)

    competition.refresh_from_db()
    assert competition.freeze_at is None
    assert f"The scoreboard of {competition.name} is live again." in (
        response.content.decode()
    )
    assert admin.get(freeze).status_code == 405  # a button, never a link


def test_the_list_action_reports_in_a_sentence(organizer, competition, login):
    other = Competition.objects.create(name="Finals", slug="finals")
    admin = login(organizer)

    response = admin.post(
        "/admin/challenges/competition/",
        {"action": "unfreeze", "_selected_action": [competition.pk, other.pk]},
        follow=True,
    )

    names = sorted([competition.name, "Finals"], key=lambda n: n != competition.name)
    assert (
        f"The scoreboards of {names[0]} and {names[1]} are live again."
        in response.content.decode()
    )


def test_players_may_not_press_the_freeze_button(alpha, competition, login):
    response = login(alpha).post(
        f"/admin/challenges/competition/{competition.pk}/freeze/"
    )

    assert response.status_code == 302  # to the admin's login
    competition.refresh_from_db()
    assert competition.freeze_at is None
