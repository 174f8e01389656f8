"""A voter in a real Chromium: prompt → both answers appear → vote with the keyboard → reveal → leaderboard."""

import pytest

from tests.browser.conftest import no_names
from tests.conftest import TEST_OUTPUT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_process"),
]


def test_a_battle_in_the_browser(page, live_server, arena, make_user):
    make_user("ada", password="correct-horse-battery")
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/arena/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_selector("#prompt")
    no_names(page.content())

    page.fill("#prompt", "the moon is bright")
    page.keyboard.press("Control+Enter")  # the prompt box's send shortcut
    page.wait_for_url("**/arena/b/**")

    # Answers stream in without a reload; voting opens when both are done.
    page.wait_for_selector("#vote-buttons:not([disabled])", timeout=60_000)
    assert page.locator(".side-done").count() == 2
    assert all(t.strip() for t in page.locator(".answer:not([hidden])").all_inner_texts())
    # every answer has its show-source / show-formatted toggle (the arena's display mode is auto)
    toggle = page.locator(".side .answer-toggle").first
    assert page.locator(".side .answer-toggle").count() == 2
    shown = page.locator(".side").first.locator(".answer:not([hidden])").get_attribute("class")
    toggle.click()
    assert page.locator(".side").first.locator(".answer:not([hidden])").get_attribute("class") != shown
    toggle.click()
    no_names(page.content())
    page.screenshot(path=str(TEST_OUTPUT / "arena-before-vote.png"), full_page=True)

    # A second tab keeps the leaderboard open; it must pick up the vote without a reload.
    board = page.context.new_page()
    board.goto(f"{live_server.url}/arena/leaderboard/")
    board.wait_for_selector("#no-votes")
    board.evaluate("window.notReloaded = true")

    page.locator("textarea[name=rationale]").fill("Left one reads better.")
    page.keyboard.press("Escape")  # leave the text box so keys vote
    page.keyboard.press("a")
    page.wait_for_selector("#reveal")
    revealed = page.locator(".model-name").all_inner_texts()
    assert sorted(n.strip("· ").strip() for n in revealed) == ["Quillon MK4", "Zephyrine QX7"]
    assert "A is better" in page.locator("#reveal").inner_text()
    page.screenshot(path=str(TEST_OUTPUT / "arena-reveal.png"), full_page=True)

    winner = revealed[0].strip("· ").strip()
    board.wait_for_selector("table.leaderboard", timeout=30_000)  # the open page polls; no reload
    assert board.evaluate("window.notReloaded === true")
    board.close()
    page.click("text=Leaderboard >> nth=-1")
    page.wait_for_selector("table.leaderboard", timeout=30_000)
    first_row = page.locator("table.leaderboard tbody tr").first
    assert first_row.get_attribute("data-model") == winner.lower().replace(" ", "-")  # A won, so A leads
    assert "1 blind vote" in page.content()
    page.wait_for_function(
        "[...document.querySelectorAll('.plots img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.screenshot(path=str(TEST_OUTPUT / "leaderboard.png"), full_page=True)
