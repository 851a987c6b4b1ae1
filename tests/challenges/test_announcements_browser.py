"""An announcement arrives on an open page without a reload (headless Chromium)."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from challenges.models import Announcement, Competition
from challenges.services import announcement_save
from tests.browser import needs_chromium

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]


def wait_for(driver, script: str, timeout: float = 10):
    return WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(f"return {script};")
    )


def test_an_announcement_arrives_and_stays_dismissed(live_server, browser):
    competition, _ = Competition.objects.get_or_create(
        is_default=True, defaults={"name": "Main event", "slug": "main"}
    )
    browser.get(f"{live_server.url}/scoreboard/")
    banner = "document.getElementById('announcement-banner')"
    assert browser.execute_script(f"return {banner}.innerText.trim();") == ""
    assert browser.execute_script(f"return {banner}.getAttribute('hx-trigger');") == (
        "every 30s"
    )
    browser.execute_script("window.notReloaded = true;")

    announcement_save(
        announcement=Announcement(
            competition=competition, title="Web 3 is back", body="Its **server** is up."
        ),
        actor=None,
    )
    # The request the 30 s poll makes, made now.
    browser.execute_script(
        f"htmx.ajax('GET', {banner}.getAttribute('hx-get'),"
        f" {{target: {banner}, swap: 'innerHTML'}});"
    )

    wait_for(browser, f"{banner}.innerText.includes('Web 3 is back')")
    assert browser.execute_script("return window.notReloaded === true;")
    assert browser.find_element(By.CSS_SELECTOR, "#announcement-banner strong")
    browser.find_element(By.CSS_SELECTOR, "[data-dismiss-announcement]").click()
    assert browser.execute_script(f"return {banner}.innerText.trim();") == ""
    browser.refresh()
    wait_for(browser, "document.readyState === 'complete'")
    assert browser.execute_script(f"return {banner}.innerText.trim();") == ""
