"""After a correct flag the challenge page shows its new solve count and the
solved state in place (htmx), with no reload (headless Chromium)."""

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import needs_chromium

from .factories import attempt, flag_of, make_challenge, player
from .test_scoreboard_browser import default_competition  # noqa: F401 (fixture)

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_competition"),
]


def log_in(browser, live_server, user) -> None:
    """Give the browser a session of `user` (no login form to drive)."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    browser.get(f"{live_server.url}/accounts/login/")
    browser.add_cookie({"name": "sessionid", "value": session.session_key})


def test_a_correct_flag_updates_the_page_in_place(live_server, browser):
    warmup = make_challenge("Warmup", value=100)
    attempt(player("earlier"), warmup, flag_of(warmup))
    alpha = player("alpha")
    log_in(browser, live_server, alpha)
    browser.get(f"{live_server.url}/challenges/{warmup.pk}/")
    meta = browser.find_element(By.ID, "challenge-meta")
    assert meta.text.startswith("1 solve")
    browser.execute_script("window.notReloaded = true;")

    field = browser.find_element(By.CSS_SELECTOR, ".flag-form input[name=flag]")
    field.send_keys(flag_of(warmup))
    browser.find_element(By.CSS_SELECTOR, ".flag-form button").click()

    WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.ID, "challenge-meta").text.startswith("2 solves")
    )
    assert "solved" in browser.find_element(By.ID, "challenge-meta").text
    answer = browser.find_element(By.CSS_SELECTOR, "[id^=answer-]")
    assert answer.text.startswith("Solved")
    assert not browser.find_elements(By.CSS_SELECTOR, ".flag-form")
    assert (
        "Correct! +100 points."
        in browser.find_element(By.CSS_SELECTOR, "[id^=result-]").text
    )
    assert browser.execute_script("return window.notReloaded === true;")
