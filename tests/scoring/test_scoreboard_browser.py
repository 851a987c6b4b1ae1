"""The scoreboard in a real browser: the htmx table refresh and both charts.

Headless Chromium and its driver come from Debian's ``chromium`` and
``chromium-driver`` packages; nothing is downloaded at run time.
"""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from selenium.webdriver.support.ui import WebDriverWait

from challenges.models import Competition
from tests.browser import needs_chromium

from .factories import attempt, flag_of, make_challenge, player, principal_of

pytestmark = [
    needs_chromium,
    # Committed data for the live server. No serialized_rollback: its flush skips
    # post_migrate and leaves later transactional tests without content types.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_competition"),
]


@pytest.fixture
def default_competition():
    # An earlier transactional test's flush may have emptied the tables, the
    # migration's default competition included.
    competition, _ = Competition.objects.get_or_create(
        is_default=True, defaults={"name": "Main event", "slug": "main"}
    )
    return competition


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def wait_for(driver, script: str, timeout: float = 10):
    """Wait until the JavaScript expression `script` is truthy; return its value."""
    return WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(f"return {script};")
    )


def table_rows(driver) -> list[list[str]]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#scoreboard-table tbody tr')]"
        ".map((tr) => [...tr.cells].map((td) => td.innerText.trim()));"
    )


@pytest.fixture
def warmup():
    return make_challenge("Warmup", value=100)


@pytest.fixture
def pwn():
    return make_challenge("Pwn", value=50)


def test_a_solve_appears_on_the_open_board_without_a_reload(
    live_server, browser, warmup, pwn
):
    alpha, bravo = player("alpha"), player("bravo")
    attempt(alpha, warmup, flag_of(warmup))
    principal_of(bravo)
    browser.get(f"{live_server.url}/scoreboard/")
    wait_for(browser, "document.querySelector('#scoreboard-table tbody tr')")
    assert [row[1:3] for row in table_rows(browser)] == [
        ["Team alpha", "100"],
        ["Team bravo", "0"],
    ]
    browser.execute_script("window.notReloaded = true;")

    attempt(bravo, warmup, flag_of(warmup))
    attempt(bravo, pwn, flag_of(pwn))
    # The request the 30 s poll makes, made now.
    browser.execute_script(
        "const table = document.getElementById('scoreboard-table');"
        "htmx.ajax('GET', table.getAttribute('hx-get'),"
        " {target: table, swap: 'innerHTML'});"
    )

    wait_for(
        browser,
        "document.querySelector('#scoreboard-table tbody tr')"
        ".innerText.includes('Team bravo')",
    )
    assert [row[1:3] for row in table_rows(browser)] == [
        ["Team bravo", "150"],
        ["Team alpha", "100"],
    ]
    assert browser.execute_script("return window.notReloaded === true;")
    poll = browser.execute_script(
        "return document.getElementById('scoreboard-table').getAttribute('hx-trigger');"
    )
    assert poll == "every 30s"


def test_both_charts_render_without_console_errors(live_server, browser, warmup):
    alpha, solo = player("alpha"), player("lone", team=False)
    attempt(alpha, warmup, flag_of(warmup))
    attempt(solo, warmup, flag_of(warmup))

    browser.get(f"{live_server.url}/scoreboard/")

    scatter = wait_for(
        browser,
        "window.Chart && Chart.getChart(document.getElementById('scatter-chart'))"
        " && Chart.getChart(document.getElementById('scatter-chart'))"
        ".data.datasets.map((d) => [d.label, d.data.map((p) => p.label)])",
    )
    timeline = wait_for(
        browser,
        "window.Chart && Chart.getChart(document.getElementById('timeline-chart'))"
        " && Chart.getChart(document.getElementById('timeline-chart'))"
        ".data.datasets.map((d) => [d.label, d.data.length])",
    )
    assert scatter == [["Teams", ["Team alpha"]], ["Solo Players", ["lone"]]]
    assert timeline == [["Team alpha", 3], ["lone", 3]]  # from 0, the solve, now
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


# The cases every event starts with: what Chart.js actually drew.

DRAWN = """
const chart = Chart.getChart(document.getElementById(arguments[0]));
if (!chart) return null;
const area = chart.chartArea;
return {
  area: [area.left, area.top, area.right, area.bottom],
  points: chart.data.datasets.map((d, i) =>
    chart.getDatasetMeta(i).data.map((e) => [e.x, e.y, e.options.radius])),
  values: chart.data.datasets.map((d) => d.data.map((p) => [p.x, p.y])),
  xTicks: chart.scales.x.ticks.map((t) => t.label).filter((l) => l !== ""),
  yTicks: chart.scales.y.ticks.map((t) => t.label).filter((l) => l !== ""),
};
"""


def drawn(driver, canvas: str) -> dict:
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(DRAWN, canvas))
    return driver.execute_script(DRAWN, canvas)


def inside(chart: dict) -> bool:
    """Every drawn point whole inside the plot area (none cut at an edge)."""
    left, top, right, bottom = chart["area"]
    return all(
        left + r <= x <= right - r and top + r <= y <= bottom - r
        for points in chart["points"]
        for x, y, r in points
    )


def test_one_team_shows_on_both_charts(live_server, browser, warmup):
    attempt(player("alpha"), warmup, flag_of(warmup))

    browser.get(f"{live_server.url}/scoreboard/")

    scatter = drawn(browser, "scatter-chart")
    assert [len(points) for points in scatter["points"]] == [1, 0]
    assert inside(scatter)
    assert scatter["yTicks"] == ["1"]
    timeline = drawn(browser, "timeline-chart")
    assert len(timeline["points"][0]) >= 3  # from zero, the solve, on to now
    assert [y for _, y in timeline["values"][0]][:2] == [0, 100]


def test_three_teams_have_integer_ranks_and_no_point_is_cut(
    live_server, browser, warmup, pwn
):
    alpha, bravo, charlie = player("alpha"), player("bravo"), player("charlie")
    attempt(alpha, warmup, flag_of(warmup))
    attempt(alpha, pwn, flag_of(pwn))
    attempt(bravo, warmup, flag_of(warmup))
    principal_of(charlie)

    browser.get(f"{live_server.url}/scoreboard/")

    scatter = drawn(browser, "scatter-chart")
    assert [len(points) for points in scatter["points"]] == [3, 0]
    assert scatter["yTicks"] == ["1", "2", "3"]
    assert inside(scatter)
    timeline = drawn(browser, "timeline-chart")
    assert inside(timeline)


def test_solves_within_a_minute_get_distinct_labels_from_the_start(
    live_server, browser, warmup, pwn, default_competition
):
    default_competition.starts_at = timezone.now() - timedelta(seconds=40)
    default_competition.save()
    alpha, bravo = player("alpha"), player("bravo")
    attempt(alpha, warmup, flag_of(warmup))
    attempt(bravo, warmup, flag_of(warmup))
    attempt(alpha, pwn, flag_of(pwn))

    browser.get(f"{live_server.url}/scoreboard/")

    timeline = drawn(browser, "timeline-chart")
    labels = timeline["xTicks"]
    assert len(labels) >= 3 and len(set(labels)) == len(labels)
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", label) for label in labels)
    start = default_competition.starts_at.timestamp() * 1000
    for values in timeline["values"]:
        assert values[0] == [pytest.approx(start, abs=1), 0]
