"""The block editor in a real browser: headless Chromium from Debian, via Selenium.

Nothing is downloaded at run time: the browser and its driver come from the
``chromium`` and ``chromium-driver`` packages.
"""

import os

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from challenges.models import Challenge
from tests.browser import needs_chromium
from tests.conftest import PASSWORD

pytestmark = needs_chromium


@pytest.fixture
def browser(browser):
    browser.implicitly_wait(5)  # the editor draws its blocks after load
    return browser


def wait_for(driver, condition, timeout: float = 10):
    return WebDriverWait(driver, timeout).until(lambda d: condition())


@pytest.mark.django_db(transaction=True)
def test_it_builds_a_requirement_from_blocks_only_and_saves_its_text(
    live_server, browser, organizer
):
    challenge = Challenge.objects.create(
        identity="boss", name="Boss", normalized_name="boss"
    )
    change = f"/admin/challenges/challenge/{challenge.pk}/change/"
    browser.get(f"{live_server.url}/admin/login/?next={change}")
    browser.find_element(By.ID, "id_username").send_keys(organizer.username)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(browser, lambda: browser.current_url.endswith(change))

    def palette(name: str) -> None:
        browser.find_element(
            By.CSS_SELECTOR, f"[data-lispish-palette] [data-block='{name}']"
        ).click()

    def last_input():
        return browser.find_elements(By.CSS_SELECTOR, ".lispish-literal input")[-1]

    palette("AND")
    palette("COMPLETED")
    palette("text")
    last_input().send_keys("Intro")
    browser.find_element(
        By.CSS_SELECTOR, ".lispish-call[data-name='AND'] > .lispish-head .lispish-name"
    ).click()
    palette(">=")
    palette("USER-SCORE")
    palette("number")
    last_input().clear()
    last_input().send_keys("100")

    textarea = browser.find_element(By.ID, "id_requirement")
    expected = '(AND (COMPLETED "Intro") (>= (USER-SCORE) 100))'
    assert textarea.get_attribute("value") == expected
    feedback = browser.find_element(By.ID, "id_requirement_feedback")
    wait_for(browser, lambda: "Solve Intro and score at least 100" in feedback.text)
    if os.environ.get("EDITOR_SCREENSHOT"):
        browser.save_screenshot(os.environ["EDITOR_SCREENSHOT"])

    browser.find_element(By.NAME, "_save").click()
    wait_for(browser, lambda: "was changed successfully" in browser.page_source)

    challenge.refresh_from_db()
    assert challenge.requirement == expected
