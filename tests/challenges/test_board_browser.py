"""The board in a real browser: its cards use a wide screen's width."""

import pytest

from tests.browser import needs_chromium
from tests.scoring.test_detail_browser import log_in
from tests.scoring.test_scoreboard_browser import default_competition  # noqa: F401

from .factories import make_challenge, team_with_players

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_competition"),
]


def test_the_cards_use_the_width_of_a_wide_screen(live_server, browser):
    for n in range(6):
        make_challenge(f"Web {n}", category="web")
    player = team_with_players("Red").captain
    browser.set_window_size(1920, 1000)
    log_in(browser, live_server, player)

    browser.get(f"{live_server.url}/challenges/")

    rows, width = browser.execute_script(
        "const cards = [...document.querySelectorAll('.cards .chal')];"
        "return [new Set(cards.map((c) => c.offsetTop)).size,"
        " document.querySelector('.cards').getBoundingClientRect().width];"
    )
    assert rows == 1  # six cards side by side
    assert width >= 1500
