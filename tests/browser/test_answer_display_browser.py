"""Display fidelity in a real Chromium: in a plain campaign the text a person can read (innerText) of every
answer equals the stored text; in a markdown campaign the rendered answer (math typeset by the local KaTeX)
loses no character outside markup; the show-source toggle swaps the views; nothing a model wrote runs."""

import pytest

from annotation import items
from tests.browser.pages import log_in
from tests.conftest import TEST_OUTPUT
from tests.test_answer_rendering import TRICKY, is_subsequence, visible_source
from tests.test_campaign_fixtures import add_role, jsonl, make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TEXTS = list(TRICKY.values())


def _campaign(researcher, slug, mode):
    campaign = make_campaign(researcher, slug=slug, k=5, overlap=1, n_items=0, display_mode=mode)
    items.import_items(
        campaign,
        jsonl(
            [
                {"prompt": "First *half* 2*3", "responses": TEXTS[:5]},
                {"prompt": "Second half", "responses": TEXTS[5:]},
            ]
        ),
        "jsonl",
    )
    return campaign


def _skip(page):
    """Skip the item shown and wait for the next one (skips do not move the "Item n of m" count)."""
    shown = page.locator(".item").get_attribute("data-assignment")
    page.select_option("select[name=skip_reason]", index=1)
    page.click("form.skip button[type=submit]")
    page.wait_for_function(f"!document.querySelector('.item[data-assignment=\"{shown}\"]')")


def _wait_for_item(page):
    page.wait_for_selector(".item .response .answer-box")


def test_plain_answers_read_exactly_as_stored(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    _campaign(researcher, "plain", "plain")
    log_in(page, f"{live_server.url}/campaigns/plain/", "ann")
    seen = []
    for number in (1, 2):
        _wait_for_item(page)
        assert page.locator(".prompt .view-plain").inner_text() == (
            "First *half* 2*3" if number == 1 else "Second half"
        )
        boxes = page.locator(".response .answer-box")
        assert boxes.count() == 5
        for i in range(5):
            plain = boxes.nth(i).locator(".view-plain")
            assert plain.is_visible() and not boxes.nth(i).locator(".view-markdown").is_visible()
            seen.append(plain.evaluate("el => el.innerText"))
        page.screenshot(path=str(TEST_OUTPUT / f"display-plain-{number}.png"), full_page=True)
        if number == 1:
            # the toggle shows the formatted view, and back
            toggle = boxes.nth(0).locator(".answer-toggle")
            assert toggle.inner_text() == "Show formatted"
            toggle.click()
            assert (
                boxes.nth(0).locator(".view-markdown").is_visible()
                and toggle.get_attribute("aria-pressed") == "true"
            )
            toggle.click()
            assert (
                boxes.nth(0).locator(".view-plain").is_visible() and toggle.inner_text() == "Show formatted"
            )
        _skip(page)
    assert sorted(seen) == sorted(TEXTS)
    assert page.evaluate("window.pwned === undefined")
    # no answer is wider than the page at 1280 px, even the 2,500-character line
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_markdown_answers_lose_no_character_outside_markup(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    _campaign(researcher, "md", "markdown")
    log_in(page, f"{live_server.url}/campaigns/md/", "ann")
    seen = {}
    for number in (1, 2):
        _wait_for_item(page)
        boxes = page.locator(".response .answer-box")
        for i in range(5):
            box = boxes.nth(i)
            assert box.locator(".view-markdown").is_visible()
            source = box.locator(".view-plain").evaluate("el => el.textContent")
            seen[source] = box.locator(".view-markdown").evaluate("el => el.textContent")
        page.screenshot(path=str(TEST_OUTPUT / f"display-markdown-{number}.png"), full_page=True)
        _skip(page)
    assert sorted(seen) == sorted(TEXTS)
    for source, rendered in seen.items():
        assert is_subsequence(visible_source(source), [c for c in rendered if not c.isspace()]), source
    assert page.evaluate("window.pwned === undefined")


def test_math_is_typeset_by_the_local_katex_and_the_source_is_one_click_away(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    campaign = make_campaign(researcher, slug="math", k=2, overlap=1, n_items=0, display_mode="auto")
    items.import_items(
        campaign,
        jsonl(
            [
                {
                    "prompt": "Euler",
                    "responses": [
                        "Euler's identity:\n\n$$\ne^{i\\pi} + 1 = 0\n$$\n\nwith `pi` the constant.",
                        "(17*20=340, 17*3=51)",
                    ],
                }
            ]
        ),
        "jsonl",
    )
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    log_in(page, f"{live_server.url}/campaigns/math/", "ann")
    page.wait_for_selector(".katex")
    math_box = page.locator(".response .answer-box[data-shown=markdown]")
    plain_box = page.locator(".response .answer-box[data-shown=plain]")
    assert math_box.count() == 1 and plain_box.count() == 1  # auto: one of each
    assert plain_box.locator(".view-plain").inner_text() == "(17*20=340, 17*3=51)"
    assert math_box.locator(".katex-display").count() == 1
    assert page.evaluate("getComputedStyle(document.querySelector('.katex')).fontFamily").startswith(
        "KaTeX_Main"
    )
    math_box.locator(".answer-toggle").click()
    assert (
        math_box.locator(".view-plain")
        .inner_text()
        .startswith("Euler's identity:\n\n$$\ne^{i\\pi} + 1 = 0\n$$")
    )
    page.screenshot(path=str(TEST_OUTPUT / "display-auto-math.png"), full_page=True)
    assert all(url.startswith(live_server.url) for url in requests)  # KaTeX and its fonts are served here
