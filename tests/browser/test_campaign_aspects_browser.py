"""K=4 in a real browser with per-aspect follow-ups: the overall ranking by keyboard, a ranked aspect (moved to
with "n") that asks its own confidence, reasons and written reason; the stored Judgment holds exactly those."""

import pytest

from annotation.models import Assignment, Judgment
from tests.conftest import TEST_OUTPUT
from tests.test_campaign_fixtures import add_role, make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SPEC = {
    "rationale": "off",
    "aspects": [
        {
            "key": "truthful",
            "label": "Truthfulness",
            "kind": "ranking",
            "strength": {"labels": ["slightly", "clearly"]},
            "confidence": {"labels": ["unsure", "sure"]},
            "reason_tags": ["fewer errors", "cites sources"],
            "rationale": "required",
        }
    ],
}


def test_kwise_aspect_follow_ups(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    make_campaign(researcher, slug="k4a", k=4, overlap=1, n_items=2, spec=SPEC)

    page.goto(f"{live_server.url}/campaigns/k4a/")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_selector("#judgment-form")
    # K=4: strength asks how much better the first is than the second (needs one response alone in first place)
    assert page.locator("input[name=aspect-truthful-strength]").count() == 2

    page.locator("body").click(position={"x": 5, "y": 5})
    for key in ["b", "a", "c", "Shift+D", "n", "d", "Shift+C", "a", "b"]:
        page.keyboard.press(key)
    assert (
        page.locator(".rank-widget[data-input=ranking] input[type=hidden]").input_value() == "[[1],[0],[2,3]]"
    )
    assert (
        page.locator(".rank-widget[data-input=aspect-truthful] input[type=hidden]").input_value()
        == "[[3,2],[0],[1]]"
    )
    assert page.locator("fieldset.aspect-strength").evaluate(
        "fs => fs.disabled"
    )  # C and D tie for first: no strength
    page.check("input[name=aspect-truthful-confidence][value='2']")
    page.check("input[name=aspect-truthful-reason_tags][value='cites sources']")
    page.fill("textarea[name=aspect-truthful-rationale]", "C and D cite their sources.")
    page.keyboard.press("Escape")
    page.screenshot(path=str(TEST_OUTPUT / "campaign-aspects-before-submit.png"), full_page=True)
    page.locator("#submit-judgment").click()
    page.wait_for_function(
        "document.querySelector('#progress') && document.querySelector('#progress').innerText === 'Item 2 of 2'"
    )

    judgment = Judgment.objects.get()
    order = Assignment.objects.get(judgment=judgment).display_order
    assert judgment.ranking == [[order[1]], [order[0]], sorted([order[2], order[3]])]
    assert judgment.aspects == {
        "truthful": {
            "kind": "ranking",
            "ranking": [sorted([order[2], order[3]]), [order[0]], [order[1]]],
            "confidence": 2,
            "reason_tags": ["cites sources"],
            "rationale": "C and D cite their sources.",
        }
    }
