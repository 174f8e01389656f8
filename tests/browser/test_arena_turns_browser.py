"""In a real Chromium: a multi-turn battle with a follow-up, voted; a guest's vote without an account;
and the public sampling-share page."""

import pytest

from annotation.models import Judgment
from arena.models import Arena, BattleTurn, GuestVoter
from tests.browser.conftest import no_names, start_battle
from tests.conftest import TEST_OUTPUT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_process"),
]


def test_a_multi_turn_battle_with_a_follow_up_is_voted(page, live_server, arena, make_user):
    make_user("tess", password="correct-horse-battery")
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    start_battle(page, live_server, arena.slug, "the sun is warm", "tess", "correct-horse-battery")
    page.wait_for_selector("#follow-up:not([disabled])", timeout=60_000)
    no_names(page.content())

    page.fill("#follow-up-message", "and the moon")
    page.keyboard.press("Control+Enter")  # sends the follow-up without a reload
    page.wait_for_selector(".turn[data-turn='0']")
    assert "and the moon" in page.locator("#latest-message").inner_text()
    page.wait_for_selector("#vote-buttons:not([disabled])", timeout=60_000)
    assert page.locator(".side-done").count() == 4  # two turns, two answers each
    no_names(page.content())
    assert BattleTurn.objects.count() == 2
    page.screenshot(path=str(TEST_OUTPUT / "arena-multi-turn-before-vote.png"), full_page=True)

    page.keyboard.press("b")
    page.wait_for_selector("#reveal")
    assert page.locator(".model-name").count() == 4  # every turn names its models
    assert Judgment.objects.get().ranking == [[1], [0]]
    page.screenshot(path=str(TEST_OUTPUT / "arena-multi-turn-reveal.png"), full_page=True)


def test_a_guest_votes_without_an_account(page, live_server, arena, settings):
    Arena.objects.filter(pk=arena.pk).update(allow_guests=True)
    settings.ARENA_GUEST_POW_BITS = 12  # the page's script solves the puzzle before the first battle
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/arena/{arena.slug}/")
    page.wait_for_selector("#guest-note")
    page.fill("#prompt", "a red bird")
    page.click("#start")
    page.wait_for_url("**/arena/b/**")
    page.wait_for_selector("#vote-buttons:not([disabled])", timeout=60_000)
    no_names(page.content())
    page.keyboard.press("t")
    page.wait_for_selector("#reveal")
    guest = GuestVoter.objects.get()
    assert Judgment.objects.get().annotator == guest.user
    page.screenshot(path=str(TEST_OUTPUT / "arena-guest-reveal.png"), full_page=True)
    page.context.clear_cookies()


def test_the_sampling_page(page, live_server, arena_k4, make_user):
    from arena import services

    ada = make_user("ada")
    services.start_battle(arena_k4, ada, "Say hello.")
    page.goto(f"{live_server.url}/arena/sampling/")
    page.wait_for_selector("#model-shares")
    assert page.locator("#model-shares tbody tr").count() == 4
    providers = sorted(
        page.locator("#provider-shares tbody tr").evaluate_all("rows => rows.map(r => r.dataset.provider)")
    )
    assert providers == ["Korvane", "Obsidra AI"]
    assert "4 models per battle" in page.content()
    page.screenshot(path=str(TEST_OUTPUT / "arena-sampling.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(TEST_OUTPUT / "arena-sampling-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
