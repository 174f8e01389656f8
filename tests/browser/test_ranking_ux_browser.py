"""Ranking UX in a real Chromium: the last response places itself, K=2 takes the arena keys, problems show
next to their fields all at once, a submit shows a toast whose undo brings the answers back, a skip can be
undone without touching the submission before it, and an annotator revises a judgment from My judgments."""

import pytest

from annotation.models import Assignment, Judgment, JudgmentRevision
from tests.browser.pages import log_in
from tests.conftest import TEST_OUTPUT
from tests.test_campaign_fixtures import add_role, make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SPEC = {
    "aspects": [{"key": "helpful", "kind": "rating", "min": 1, "max": 5}],
    "rationale": "required",
    "rationale_min_length": 10,
    "none_acceptable": True,
}


def _login(page, url, username="ann"):
    log_in(page, url, username)
    page.wait_for_selector("#judgment-form")


def _key(page, *keys):
    page.locator("body").click(position={"x": 5, "y": 5})
    for key in keys:
        page.keyboard.press(key)


def _ranking(page, name="ranking"):
    return page.locator(f".rank-widget[data-input={name}] input[type=hidden]").input_value()


def _shown(page):
    return page.locator(".item").get_attribute("data-assignment")


def _next_item(page, previous):
    page.wait_for_function(
        f"document.querySelector('.item') && document.querySelector('.item').dataset.assignment !== '{previous}'"
    )


def test_k2_b_then_enter_submits_and_the_toast_undo_restores_every_answer(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    make_campaign(researcher, slug="k2", k=2, overlap=1, n_items=3, spec=SPEC, undo_seconds=120)
    _login(page, f"{live_server.url}/campaigns/k2/")

    # Enter with nothing given: every problem at once, next to its field, in view, announced
    first = _shown(page)
    _key(page, "Enter")
    errors = page.locator(".field-error")
    assert errors.count() == 3
    texts = errors.all_inner_texts()
    assert "Overall ranking: rank the responses" in texts[0]
    assert (
        "Helpful: rate Response A, B too." in texts[1] and "Say why: this campaign asks for it." in texts[2]
    )
    assert page.locator(".rank-widget[data-input=ranking] + .field-error").count() == 1
    assert errors.first.is_visible() and page.evaluate(
        "(() => { const r = document.querySelector('.field-error').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()"
    )
    page.wait_for_function("document.getElementById('announce').textContent.includes('3 things to fix')")
    page.screenshot(path=str(TEST_OUTPUT / "ranking-errors.png"), full_page=True)
    assert Judgment.objects.count() == 0

    # the arena habit: B then Enter (A places itself last)
    _key(page, "b")
    assert _ranking(page) == "[[1],[0]]"
    page.check("input[name=rating-helpful-0][value='2']")
    page.check("input[name=rating-helpful-1][value='5']")
    page.fill("textarea[name=rationale]", "B answers the question.")
    page.keyboard.press("Escape")
    _key(page, "Enter")
    _next_item(page, first)
    toast = page.locator("#toast")
    assert toast.is_visible() and "Submitted." in toast.inner_text()
    assert (
        page.evaluate("document.querySelector('.prompt').getBoundingClientRect().top") < 200
    )  # next item at its prompt
    page.screenshot(path=str(TEST_OUTPUT / "ranking-toast.png"))
    judgment = Judgment.objects.get()
    order = Assignment.objects.get(judgment=judgment).display_order
    assert judgment.ranking == [[order[1]], [order[0]]]

    # undo from the toast: the same item, every answer as given, and "undone"
    page.click("#toast-undo")
    page.wait_for_function(f"document.querySelector('.item').dataset.assignment === '{first}'")
    page.wait_for_function("document.getElementById('toast').innerText.startsWith('Undone')")
    # the answers are filled in once htmx has settled the new item
    page.wait_for_function("!document.getElementById('restore-answer')")
    assert _ranking(page) == "[[1],[0]]"
    assert page.locator("input[name=rating-helpful-0][value='2']").is_checked()
    assert page.locator("input[name=rating-helpful-1][value='5']").is_checked()
    assert page.locator("textarea[name=rationale]").input_value() == "B answers the question."
    assert Judgment.objects.count() == 0
    page.screenshot(path=str(TEST_OUTPUT / "ranking-undone.png"), full_page=True)

    # T is a tie, X marks both bad
    _key(page, "t")
    assert _ranking(page) == "[[0,1]]"
    _key(page, "a")
    assert _ranking(page) == "[[0],[1]]"
    _key(page, "x")
    assert _ranking(page) == "[[0,1]]" and page.locator("input[name=none_acceptable]").is_checked()


def test_the_last_response_places_itself_and_focus_stays_on_the_chips(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    from annotation import items
    from tests.test_campaign_fixtures import jsonl

    campaign = make_campaign(researcher, slug="k3", k=3, overlap=1, n_items=0)
    items.import_items(
        campaign, jsonl([{"prompt": "Q", "responses": ["Alpha line\nmore", "Beta", "Gamma"]}]), "jsonl"
    )
    _login(page, f"{live_server.url}/campaigns/k3/")
    names = page.locator(".pool .chip").evaluate_all("chips => chips.map(c => c.getAttribute('aria-label'))")
    assert sorted(name.split(": ", 1)[1] for name in names) == ["Alpha line", "Beta", "Gamma"]
    assert all(name.startswith(f"Response {letter}: ") for name, letter in zip(names, "ABC"))
    page.locator(".rank-widget[data-input=ranking] .pool .chip[data-slot='2']").click()
    assert page.evaluate("document.activeElement.classList.contains('rank-widget')")
    page.keyboard.press("a")
    assert _ranking(page) == "[[2],[0],[1]]"  # B went last by itself
    page.wait_for_function(
        "document.getElementById('announce').textContent.includes('Response B placed last')"
    )
    assert page.locator(".tiers .chip").first.get_attribute("aria-label").startswith("Response C: ")
    page.keyboard.press("Enter")
    page.wait_for_selector("#queue-done")
    assert Judgment.objects.get().ranking is not None


def test_a_skip_is_undone_without_touching_the_submission_before_it(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    make_campaign(researcher, slug="sk", k=2, overlap=1, n_items=3, undo_seconds=120)
    _login(page, f"{live_server.url}/campaigns/sk/")
    first = _shown(page)
    _key(page, "a", "Enter")
    _next_item(page, first)
    second = _shown(page)

    # s focuses the reason; Enter skips
    _key(page, "s")
    assert page.evaluate("document.activeElement.id") == "skip-reason"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    _next_item(page, second)
    assert "Skipped." in page.locator("#toast").inner_text()
    assert Assignment.objects.get(pk=second).status == "skipped"

    _key(page, "u")
    page.wait_for_function(f"document.querySelector('.item').dataset.assignment === '{second}'")
    page.wait_for_function("document.getElementById('toast').innerText.includes('skip is taken back')")
    assert Assignment.objects.get(pk=second).status == "leased"
    assert Assignment.objects.get(pk=first).status == "submitted" and Judgment.objects.count() == 1


def test_an_annotator_revises_a_judgment_and_the_earlier_one_is_kept(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    make_campaign(researcher, slug="rv", k=2, overlap=1, n_items=2)
    _login(page, f"{live_server.url}/campaigns/rv/")
    first = _shown(page)
    _key(page, "a", "Enter")
    _next_item(page, first)
    page.click("text=My judgments >> nth=0")
    page.wait_for_selector(f"#judgment-{first}")
    assert "A › B" in page.locator(f"#judgment-{first} .order").inner_text()
    page.screenshot(path=str(TEST_OUTPUT / "my-judgments.png"), full_page=True)
    page.click(f"#judgment-{first} a.button")
    page.wait_for_selector("#judgment-form")
    page.wait_for_function("!document.getElementById('restore-answer')")
    assert _ranking(page) == "[[0],[1]]"  # the answer given, filled in
    _key(page, "b", "Enter")
    page.wait_for_selector(f"#judgment-{first}")
    assert "B › A" in page.locator(f"#judgment-{first} .order").inner_text()
    assert "earlier version is kept" in page.locator(".notice").inner_text()
    revision = JudgmentRevision.objects.get()
    order = Assignment.objects.get(pk=first).display_order
    assert revision.ranking == [[order[0]], [order[1]]] and revision.judgment.ranking == [
        [order[1]],
        [order[0]],
    ]


def test_the_item_page_fits_a_phone(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    make_campaign(researcher, slug="ph", k=4, overlap=1, n_items=1, spec=SPEC)
    page.set_viewport_size({"width": 390, "height": 844})
    _login(page, f"{live_server.url}/campaigns/ph/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(TEST_OUTPUT / "ranking-phone.png"), full_page=True)
