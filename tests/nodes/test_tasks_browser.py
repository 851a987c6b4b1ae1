"""The Tasks page in headless Chromium: "Build all" returns at once (a real
Celery worker does the build) and the task's progress bar updates in place."""

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from nodes.models import BackgroundTask, TaskKind
from tests.browser import needs_chromium
from tests.conftest import PASSWORD

from .conftest import SLOW_RUN, wait_until

pytestmark = [needs_chromium]


def js(driver, script: str):
    return driver.execute_script(f"return {script};")


@pytest.fixture
def signed_in(browser, live_server, organizer):
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(organizer.username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "/admin/login" not in d.current_url)
    return browser


def test_build_all_returns_at_once_and_its_progress_updates_in_place(
    alpha, beta, catalog, start_worker, signed_in, live_server
):
    start_worker()
    catalog.challenge("pwn/slow", steps=SLOW_RUN.format(seconds=3))
    catalog.challenge("pwn/quick")
    catalog.rescan()
    wait_until(lambda: all(t.is_finished for t in BackgroundTask.objects.all()))
    browser = signed_in
    browser.get(f"{live_server.url}/admin/nodes/backgroundtask/")

    started = time.monotonic()
    browser.find_element(By.XPATH, "//button[text()='Build all']").click()
    WebDriverWait(browser, 10).until(lambda d: "queued." in d.page_source)
    answered = time.monotonic() - started
    task = BackgroundTask.objects.get(kind=TaskKind.BUILD_ALL)
    cell = f"document.querySelector('.task-progress[data-task=\"{task.pk}\"]')"
    js(browser, "window.notReloaded = true")
    seen = {js(browser, f"{cell}.dataset.status")}

    def finished() -> bool:
        status = js(browser, f"{cell} && {cell}.dataset.status")
        seen.add(status)
        return status in ("succeeded", "partial", "failed")

    WebDriverWait(browser, 90, poll_frequency=0.2).until(lambda d: finished())

    assert answered < 5  # the request queued the task; it did not build it
    assert js(browser, "window.notReloaded") is True  # updated in place (htmx)
    assert seen & {"queued", "running"}, seen
    assert js(browser, f"{cell}.dataset.status") == "succeeded"
    assert js(browser, f"{cell}.querySelector('progress').value") == 100
    assert js(browser, f"{cell}.querySelector('.task-count').innerText") == "4/4"
    # The drill-down lists both nodes' builds.
    browser.get(f"{live_server.url}/admin/nodes/backgroundtask/{task.pk}/change/")
    nodes = js(
        browser,
        "[...document.querySelectorAll('.task-node')].map((h) => h.innerText)",
    )
    assert nodes == ["alpha: succeeded (2/2)", "beta: succeeded (2/2)"]
