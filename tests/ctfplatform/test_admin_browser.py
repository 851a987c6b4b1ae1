"""The dashboard and the statistics screen in headless Chromium: the charts
are drawn with the selectors' numbers, the drawer opens in place, and the
dashboard takes a new submission in without a reload."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from ctfplatform import dashboard
from tests.browser import needs_chromium
from tests.scoring.factories import attempt, flag_of, make_challenge, player
from tests.scoring.test_detail_browser import log_in

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

SUM = (
    "return Chart.getChart(document.getElementById(arguments[0]))"
    ".data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0));"
)
LABELS = (
    "return Chart.getChart(document.getElementById(arguments[0])).data.labels.length;"
)
DRAWN = (
    "return !!(window.Chart && Chart.getChart(document.getElementById(arguments[0])));"
)


def drawn(browser, canvas: str) -> None:
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(DRAWN, canvas))


@pytest.fixture
def event(db):
    login = make_challenge("Login", category="web")
    pwn = make_challenge("Overflow", category="pwn")
    alice, bob = player("alice"), player("bob")
    for user in (alice, bob):
        attempt(user, pwn, "CTF{no}")
        attempt(user, pwn, flag_of(pwn))
    return {"login": login, "pwn": pwn, "alice": alice}


def test_the_drawer_opens_in_place_with_the_challenges_chart(
    event, organizer, live_server, browser
):
    log_in(browser, live_server, organizer)
    browser.get(f"{live_server.url}/admin/statistics/")
    browser.execute_script("window.notReloaded = true;")

    browser.find_element(By.LINK_TEXT, "Overflow").click()
    drawn(browser, "series-chart")

    drawer = browser.find_element(By.ID, "stats-drawer")
    assert "Overflow" in drawer.text and "4 (2 wrong)" in drawer.text
    assert browser.execute_script(SUM, "series-chart") == [4, 2, 2]
    assert browser.execute_script(LABELS, "series-chart") == 24
    drawer.find_element(By.LINK_TEXT, "1 h").click()
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script(LABELS, "series-chart") == 60
    )
    assert browser.execute_script(SUM, "series-chart") == [4, 2, 2]
    assert browser.execute_script("return window.notReloaded === true;")


def test_the_dashboard_takes_new_submissions_in_without_a_reload(
    event, organizer, live_server, browser, monkeypatch
):
    monkeypatch.setattr(dashboard, "REFRESH_SECONDS", 1)
    log_in(browser, live_server, organizer)
    browser.get(f"{live_server.url}/admin/")
    drawn(browser, "activity-chart")
    browser.execute_script("window.notReloaded = true;")
    assert browser.execute_script(SUM, "activity-chart") == [4, 2]

    attempt(event["alice"], event["login"], "CTF{guess}")
    attempt(event["alice"], event["login"], flag_of(event["login"]))

    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script(SUM, "activity-chart") == [6, 3]
    )
    totals = browser.find_element(By.CSS_SELECTOR, ".dash-totals").text
    assert "6 submissions, 3 solves" in totals
    solves = browser.find_element(By.CSS_SELECTOR, ".dash-solves").text
    assert solves.splitlines()[2].endswith("Team alice Login")  # newest first
    assert browser.execute_script("return window.notReloaded === true;")
