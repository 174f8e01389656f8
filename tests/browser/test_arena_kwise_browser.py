"""K-wise arena battles in a real Chromium: four answers stream into a grid, the voter ranks them with a
tie from the keyboard (the campaigns' rank widget), and the reveal names all four."""

import pytest

from annotation.models import Judgment
from tests.browser.conftest import no_names, start_battle
from tests.conftest import TEST_OUTPUT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_process"),
]


def _columns(page):
    return page.evaluate(
        "getComputedStyle(document.getElementById('sides')).gridTemplateColumns.split(' ').length"
    )


def test_a_k4_battle_streamed_ranked_with_a_tie_by_keyboard_and_revealed(
    page, live_server, arena_k4, make_user
):
    make_user("kay", password="correct-horse-battery")
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    start_battle(page, live_server, arena_k4.slug, "the moon is bright", "kay", "correct-horse-battery")

    # Four answers stream into a 2 x 2 grid; the ranking opens when all four are done.
    page.wait_for_selector("#vote-buttons:not([disabled]) .rank-widget", timeout=60_000)
    assert page.locator(".side-done").count() == 4
    assert all(t.strip() for t in page.locator(".answer").all_inner_texts())
    assert _columns(page) == 2
    no_names(page.content())
    page.screenshot(path=str(TEST_OUTPUT / "arena-k4-before-vote.png"), full_page=True)

    # C best, then A and D tied (Shift), then B; Backspace takes a place back first.
    for key in ("c", "b", "Backspace", "a", "Shift+D", "b"):
        page.keyboard.press(key)
    assert page.locator(".rank-widget").get_attribute("data-ranking") == "[[2],[0,3],[1]]"
    no_names(page.content())
    page.keyboard.press("Enter")

    page.wait_for_selector("#reveal")
    assert page.locator("#your-ranking").inner_text() == "C > A = D > B"
    revealed = [n.strip("· ").strip() for n in page.locator(".model-name").all_inner_texts()]
    assert sorted(revealed) == ["Brindlewick J9", "Quillon MK4", "Vorpalyn TZ5", "Zephyrine QX7"]
    assert Judgment.objects.get().ranking == [[2], [0, 3], [1]]
    page.screenshot(path=str(TEST_OUTPUT / "arena-k4-reveal.png"), full_page=True)

    # On a phone the four answers stack in one column.
    page.set_viewport_size({"width": 390, "height": 844})
    assert _columns(page) == 1
    page.screenshot(path=str(TEST_OUTPUT / "arena-k4-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
