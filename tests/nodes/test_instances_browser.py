"""A player starts and stops their instance on the challenge's page in headless
Chromium: the panel goes from the button to the connection line and back in
place (htmx), with no reload, and the box answers on the line it shows."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from challenges.models import Challenge
from nodes.models import Instance, InstanceStatus
from tests.browser import needs_chromium
from tests.scoring.factories import own_flag, principal_of
from tests.scoring.test_detail_browser import log_in

from .instance_world import built, instanced, read_banner

pytestmark = needs_chromium


@pytest.fixture
def box(alpha, catalog) -> Challenge:
    instanced(catalog)
    catalog.rescan()
    return built("pwn/box")[0]


def panel_status(browser) -> str:
    return browser.find_element(By.ID, "instance-panel").get_attribute("data-status")


def test_a_player_starts_and_stops_an_instance_in_place(
    live_server, browser, captain, box
):
    log_in(browser, live_server, captain)
    browser.get(f"{live_server.url}{box.get_absolute_url()}")
    browser.execute_script("window.notReloaded = true;")
    assert panel_status(browser) == "none"

    browser.find_element(By.CSS_SELECTOR, "#instance-panel button[name=start]").click()
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: panel_status(d) == "running")
    line = browser.find_element(By.CSS_SELECTOR, ".instance-connection").text
    _, host, port = line.split()
    flag = own_flag(principal_of(captain), box.questions.get())
    assert read_banner(host, int(port)) == flag
    assert "left" in browser.find_element(By.CSS_SELECTOR, ".time-left").text

    browser.find_element(By.CSS_SELECTOR, "#instance-panel button[name=stop]").click()
    wait.until(expected_conditions.alert_is_present())
    browser.switch_to.alert.accept()
    wait.until(lambda d: panel_status(d) == "stopped")
    assert browser.find_elements(By.CSS_SELECTOR, "#instance-panel button[name=start]")
    assert Instance.objects.get().status == InstanceStatus.STOPPED
    assert browser.execute_script("return window.notReloaded === true;")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
