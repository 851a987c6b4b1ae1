"""The admin's challenge statistics screen: the API's numbers, sortable, with
totals per category and a drawer per challenge, at a fixed number of queries
however many challenges."""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import token_create
from challenges.models import Competition
from nodes.models import Instance, InstanceStatus
from scoring.models import Principal
from tests.scoring.factories import attempt, flag_of, make_challenge, player

SCREEN = "/admin/statistics/"


@pytest.fixture
def event(db):
    login = make_challenge("Login", category="web")
    make_challenge("Cookies", category="web")
    pwn = make_challenge("Overflow", category="pwn")
    alice, bob = player("alice"), player("bob")
    for user in (alice, bob):
        attempt(user, pwn, "CTF{no}")
        attempt(user, pwn, flag_of(pwn))
    attempt(alice, login, flag_of(login))
    return {"login": login, "pwn": pwn}


def table(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body[1], re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [[re.sub(r"<[^>]+>", "", c).split("(")[0].strip() for c in r] for r in cells]


def test_it_shows_the_numbers_the_api_gives(event, organizer, login, client):
    html = login(organizer).get(SCREEN).content.decode()
    _, raw = token_create(user=organizer)
    api = client.get(
        "/api/v1/admin/challenges/stats", HTTP_AUTHORIZATION=f"Token {raw}"
    ).json()["items"]

    shown = {row[0]: row[2:5] for row in table(html, "stats-table")}
    assert shown == {
        r["name"]: [str(r["attempts"]), str(r["wrong"]), str(r["solves"])] for r in api
    }
    assert shown["Overflow"] == ["4", "2", "2"]


def test_it_sorts_by_a_column_and_flips_on_a_second_click(event, organizer, login):
    client = login(organizer)

    by_solves = client.get(SCREEN, {"o": "-solves"}).content.decode()
    by_name = client.get(SCREEN, {"o": "name"}).content.decode()

    assert [r[0] for r in table(by_solves, "stats-table")] == [
        "Overflow",
        "Login",
        "Cookies",
    ]
    assert [r[0] for r in table(by_name, "stats-table")] == [
        "Cookies",
        "Login",
        "Overflow",
    ]
    # The sorted column's link sorts the other way.
    assert re.search(r'o=solves">Solves ▼</a>', by_solves)
    assert re.search(r'o=-name">Challenge ▲</a>', by_name)


def test_it_sums_each_category(event, organizer, login):
    html = login(organizer).get(SCREEN).content.decode()

    assert table(html, "category-table") == [
        ["pwn", "1", "4", "2", "2"],
        ["web", "2", "1", "0", "1"],
    ]


def test_the_drawer_holds_the_series_of_one_challenge(event, organizer, login):
    client = login(organizer)
    url = f"/admin/statistics/{event['pwn'].pk}/"

    partial = client.get(url, {"window": 3600}, HTTP_HX_REQUEST="true").content.decode()
    page = client.get(url).content.decode()

    series = json.loads(
        re.search(r'<script id="series-data"[^>]*>(.*?)</script>', partial, re.S)[1]
    )
    assert "<html" not in partial and "<h2>Overflow</h2>" in partial
    assert len(series["labels"]) == 60
    assert (sum(series["attempts"]), sum(series["wrong"]), sum(series["solves"])) == (
        4,
        2,
        2,
    )
    assert "<html" in page and 'id="stats-table"' in page and "series-data" in page


def test_the_drawer_shows_the_instance_start_latency_as_the_api_does(
    event, organizer, login
):
    pwn, competition = event["pwn"], Competition.objects.default()
    principal = Principal.objects.get(team__name="Team alice")
    for latency in (200, 900, 950, 45000, None):  # None: never reached running
        Instance.objects.create(
            principal=principal,
            challenge=pwn,
            competition=competition,
            status=InstanceStatus.STOPPED,
            latency_ms=latency,
        )
    client = login(organizer)
    token = token_create(user=organizer)[1]

    html = client.get(f"/admin/statistics/{pwn.pk}/", HTTP_HX_REQUEST="true")
    other = client.get(f"/admin/statistics/{event['login'].pk}/").content.decode()
    api = client.get(
        "/api/v1/admin/challenges/latency-histogram",
        {"challenge_id": pwn.pk},
        HTTP_AUTHORIZATION=f"Token {token}",
    ).json()

    rows = re.findall(
        r'<tr data-le="(\w+)"><th>([^<]+)</th><td class="num">(\d+)</td>',
        html.content.decode(),
    )
    shown = {le: int(count) for le, _, count in rows}
    assert shown == {str(b["le_ms"] or "inf"): b["count"] for b in api["buckets"]}
    assert (shown["250"], shown["1000"], shown["inf"]) == (1, 2, 1)
    assert ("1000", "≤ 1 s", "2") in rows and ("inf", "longer", "1") in rows
    assert "No instance of it has reached running yet." in other


def test_it_costs_the_same_queries_for_3_and_30_challenges(organizer, login, db):
    client = login(organizer)
    alice = player("alice")

    def queries_with(count: int) -> int:
        while len(made) < count:
            made.append(make_challenge(category=f"c{len(made) % 3}"))
            attempt(alice, made[-1], flag_of(made[-1]))
        client.get(SCREEN)  # the session, loaded once
        with CaptureQueriesContext(connection) as queries:
            html = client.get(SCREEN).content.decode()
        assert len(table(html, "stats-table")) == count
        return len(queries)

    made: list = []
    few, many = queries_with(3), queries_with(30)

    # The user, the competitions, and challenge_stats's (see its test).
    assert few == many <= 12


def test_players_do_not_see_it(event, login):
    assert login(player("mallory")).get(SCREEN).status_code == 302
