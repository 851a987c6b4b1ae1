"""The admin index is the event dashboard: the competition's state and time
left, activity per minute, the latest solves and first bloods, open cheat
records with a way to act, the nodes' health and the tasks in progress, a
slot for instances; its panels refresh in place, at a fixed number of
queries."""

import json
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from challenges.models import Competition
from nodes.models import BackgroundTask, Node, NodeStatus, TaskKind, TaskStatus
from scoring.models import CheatKind, CheatRecord, Principal, Submission
from tests.scoring.factories import (
    attempt,
    flag_of,
    make_challenge,
    player,
    principal_of,
)

INDEX = "/admin/"
PANELS = "/admin/dashboard/panels/"


@pytest.fixture
def event(db):
    """alice solved Login first, bob second; carol sent bob's flag... a cheat."""
    login = make_challenge("Login", category="web")
    pwn = make_challenge("Overflow", category="pwn")
    alice, bob, carol = player("alice"), player("bob"), player("carol")
    attempt(alice, login, flag_of(login))
    attempt(bob, login, flag_of(login))
    attempt(bob, pwn, "CTF{no}")
    attempt(carol, pwn, "CTF{bobs}")
    CheatRecord.objects.create(
        kind=CheatKind.SHARE,
        submitter=principal_of(carol),
        owner=principal_of(bob),
        submission=Submission.objects.filter(principal=principal_of(carol)).get(),
    )
    return login


def activity(html: str) -> dict:
    data = re.search(r'<script id="activity-data"[^>]*>(.*?)</script>', html, re.S)
    return json.loads(data[1])


def test_the_index_is_the_event_dashboard(event, organizer, login):
    Competition.objects.filter(is_default=True).update(
        ends_at=timezone.now() + timedelta(hours=5, minutes=30)
    )

    html = login(organizer).get(INDEX).content.decode()

    assert 'data-phase="running"' in html
    assert re.search(r"Ends in <strong>5\xa0hours, (29|30)\xa0minutes</strong>", html)
    assert "Team alice" in html and "Login" in html  # solves and the first blood
    assert "Open cheat records: 1" in html
    carol = Principal.objects.get(team__name="Team carol")
    assert reverse("admin:scoring_principal_ban", args=[carol.pk]) in html
    for slot in ("nodes", "instances", "tasks"):
        assert f'data-slot="{slot}"' in html
    assert reverse("admin:challenges_challenge_changelist") in html  # the app list
    assert sum(activity(html)["attempts"]) == 4
    assert sum(activity(html)["solves"]) == 2


def test_it_shows_the_nodes_health_and_the_tasks_in_progress(organizer, login, db):
    Node.objects.create(name="alpha", url="unix:///a.sock", status=NodeStatus.ONLINE)
    Node.objects.create(
        name="beta",
        url="unix:///b.sock",
        status=NodeStatus.OFFLINE,
        status_detail="connection refused",
    )
    Node.objects.create(name="gamma", url="unix:///c.sock", enabled=False)
    running = BackgroundTask.objects.create(
        kind=TaskKind.BUILD_ALL, status=TaskStatus.RUNNING, total=4, done=1
    )
    BackgroundTask.objects.create(kind=TaskKind.PULL, status=TaskStatus.SUCCEEDED)
    client = login(organizer)

    html = client.get(PANELS).content.decode()

    rows = re.findall(r'data-node="(\w+)" data-status="(\w+)"', html)
    assert rows == [("alpha", "online"), ("beta", "offline"), ("gamma", "disabled")]
    assert "Offline: connection refused" in html
    tasks = re.findall(r'data-task="(\d+)"', html)
    assert tasks == [str(running.pk)]  # the finished pull is not in progress
    assert 'value="25"' in html and "1/4" in html
    BackgroundTask.objects.filter(pk=running.pk).update(status=TaskStatus.SUCCEEDED)
    assert "None: every rescan" in client.get(PANELS).content.decode()


def test_it_says_when_the_event_starts_or_ended(organizer, login, db):
    competition = Competition.objects.default()
    competition.starts_at = timezone.now() + timedelta(days=2, hours=1)
    competition.save()
    before = login(organizer).get(INDEX).content.decode()
    competition.starts_at = timezone.now() - timedelta(days=2)
    competition.ends_at = timezone.now() - timedelta(days=1)
    competition.save()
    after = login(organizer).get(INDEX).content.decode()

    assert 'data-phase="not_started"' in before and "Starts in <strong>2" in before
    assert 'data-phase="ended"' in after and "Ended" in after


def test_the_panels_refresh_alone(event, organizer, login):
    client = login(organizer)

    page = client.get(INDEX).content.decode()
    panels = client.get(PANELS, HTTP_HX_REQUEST="true").content.decode()

    assert 'hx-get="/admin/dashboard/panels/?competition=' in page
    assert 'hx-trigger="every 15s"' in page
    assert "<html" not in panels and "Open cheat records: 1" in panels
    assert activity(panels) == activity(page)


def test_a_ban_from_the_dashboard_closes_the_cheat(event, organizer, login):
    client = login(organizer)
    carol = Principal.objects.get(team__name="Team carol")
    url = reverse("admin:scoring_principal_ban", args=[carol.pk])

    form = client.get(url)
    done = client.post(url, {"reason": "shared Login's flag"})

    assert form.status_code == 200 and "reason" in form.content.decode()
    assert done.status_code == 302
    carol.refresh_from_db()
    assert carol.is_banned
    assert "Open cheat records: 0" in client.get(PANELS).content.decode()


def test_another_competition_and_span_can_be_watched(event, organizer, login):
    finals = Competition.objects.create(name="Finals", slug="finals")

    html = login(organizer).get(INDEX, {"competition": finals.pk, "hours": 12})
    html = html.content.decode()

    assert "<h2>Finals</h2>" in html
    assert len(activity(html)["attempts"]) == 12 * 60
    assert sum(activity(html)["attempts"]) == 0


def test_players_do_not_see_it(event, login):
    response = login(player("mallory")).get(INDEX)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_panels_cost_the_same_queries_however_many_principals(organizer, login, db):
    challenge = make_challenge("Login")
    client = login(organizer)

    def queries_with(principals: int) -> list[str]:
        for n in range(Principal.objects.count(), principals):
            attempt(player(f"p{n}"), challenge, flag_of(challenge))
        client.get(PANELS)  # the session, loaded once
        cache.delete(f"sb:v:{Competition.objects.default().pk}")  # first bloods too
        with CaptureQueriesContext(connection) as queries:
            client.get(PANELS)
        return [q["sql"] for q in queries]

    few, many = queries_with(5), queries_with(60)

    # The user, the competitions, the activity, the latest solves, the first
    # bloods (who is off the board, questions per challenge, the standing ones,
    # the new ones, names), the open cheats and their count, the nodes and the
    # tasks in progress.
    assert len(few) == len(many) <= 14, [q[:70] for q in many]
