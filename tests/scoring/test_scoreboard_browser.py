"""The scoreboard in a real browser: the htmx table refresh and both charts.

Headless Chromium and its driver come from Debian's ``chromium`` and
``chromium-driver`` packages; nothing is downloaded at run time.
"""

import pytest
from django.core.cache import cache
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
    assert timeline == [["Team alpha", 1], ["lone", 1]]
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
