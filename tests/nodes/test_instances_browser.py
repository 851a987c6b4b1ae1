"""A player starts and stops their instance on the challenge's page in headless
Chromium, with a real Celery worker doing the work: the panel polls itself from
starting to running and from stopping to stopped, in place (htmx, no reload),
and the box answers on the line it shows."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from challenges.models import Challenge
from nodes.models import Instance, InstanceStatus
from tests.browser import needs_chromium
from tests.scoring.factories import own_flag, principal_of
from tests.scoring.test_detail_browser import log_in

from .instance_world import (
    built,
    instanced,
    no_leftovers,  # noqa: F401 (fixture)
    read_banner,
)

pytestmark = [needs_chromium, pytest.mark.usefixtures("no_leftovers")]


@pytest.fixture
def box(alpha, catalog) -> Challenge:
    instanced(catalog)
    catalog.rescan()
    return built("pwn/box")[0]


def panel_status(browser) -> str:
    return browser.find_element(By.ID, "instance-panel").get_attribute("data-status")


# Every status the panel shows, in order, whatever swaps it.
WATCH = """
window.notReloaded = true;
window.statuses = [];
const note = () => {
  const panel = document.getElementById("instance-panel");
  const status = panel && panel.dataset.status;
  if (status && window.statuses[window.statuses.length - 1] !== status) {
    window.statuses.push(status);
  }
};
note();
new MutationObserver(note).observe(document.body, {childList: true, subtree: true});
"""


def test_a_player_starts_and_stops_an_instance_in_place(
    live_server, browser, captain, box, start_worker
):
    start_worker()
    log_in(browser, live_server, captain)
    browser.get(f"{live_server.url}{box.get_absolute_url()}")
    browser.execute_script(WATCH)
    assert panel_status(browser) == "none"

    browser.find_element(By.CSS_SELECTOR, "#instance-panel button[name=start]").click()
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: panel_status(d) == "running")
    line = browser.find_element(By.CSS_SELECTOR, ".instance-connection").text
    _, host, port = line.split()
    flag = own_flag(principal_of(captain), box.questions.get())
    assert read_banner(host, int(port)) == flag
    assert "left" in browser.find_element(By.CSS_SELECTOR, ".time-left").text
    assert "{" not in browser.find_element(By.TAG_NAME, "main").text

    browser.find_element(By.CSS_SELECTOR, "#instance-panel button[name=stop]").click()
    wait.until(expected_conditions.alert_is_present())
    browser.switch_to.alert.accept()
    wait.until(lambda d: panel_status(d) == "stopped")
    assert browser.find_elements(By.CSS_SELECTOR, "#instance-panel button[name=start]")
    assert Instance.objects.get().status == InstanceStatus.STOPPED
    statuses = browser.execute_script("return window.statuses;")
    # Starting came back from the click and running from the polling; the
    # worker may finish a stop before the click's answer is drawn.
    assert statuses[:3] == ["none", "starting", "running"]
    assert statuses[3:] in (["stopping", "stopped"], ["stopped"])
    assert browser.execute_script("return window.notReloaded === true;")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
