"""An annotator ranks K=4 responses with a tie using only the keyboard, rates two aspects, writes a
rationale and submits; the stored Judgment has exactly that ranking, those ratings and that text
(the regression test for Argilla's "every ranking saved as 1,2,3")."""

import pytest

from annotation.models import Assignment, Judgment
from tests.conftest import TEST_OUTPUT
from tests.test_campaign_fixtures import add_role, jsonl, make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SPEC = {
    "aspects": [
        {"key": "helpful", "kind": "rating", "min": 1, "max": 5},
        {"key": "correct", "kind": "rating", "min": 0, "max": 4},
    ],
    "rationale": "required",
    "rationale_min_length": 10,
}


def test_kwise_keyboard_ranking_with_tie(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    campaign = make_campaign(researcher, slug="k4", k=4, overlap=1, n_items=0, spec=SPEC)
    from annotation import items

    items.import_items(
        campaign,
        jsonl(
            [
                {
                    "prompt": "Name a colour",
                    "responses": ["**Red**", "Blue <script>window.pwned=1</script>", "Green", "`Teal`"],
                },
                {"prompt": "Second item", "responses": ["w", "x", "y", "z"]},
            ]
        ),
        "jsonl",
    )

    page.goto(f"{live_server.url}/campaigns/k4/")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_selector("#judgment-form")
    assert page.locator("#progress").inner_text() == "Item 1 of 2"
    assert page.evaluate("window.pwned === undefined")
    page.evaluate("window.notReloaded = true")

    # keyboard: C first, then A tied with D, then B → screen tiers [[2], [0, 3], [1]]
    page.locator("body").click(position={"x": 5, "y": 5})
    for key in ["c", "a", "Shift+D", "b"]:
        page.keyboard.press(key)
    assert (
        page.locator(".rank-widget[data-input=ranking] input[type=hidden]").input_value() == "[[2],[0,3],[1]]"
    )
    # two aspects, every response
    helpful = [5, 2, 4, 3]
    correct = [4, 0, 3, 1]
    for slot in range(4):
        page.check(f"input[name=rating-helpful-{slot}][value='{helpful[slot]}']")
        page.check(f"input[name=rating-correct-{slot}][value='{correct[slot]}']")
    page.fill("textarea[name=rationale]", "C names the colour plainly.")
    page.keyboard.press("Escape")
    page.screenshot(path=str(TEST_OUTPUT / "campaign-before-submit.png"), full_page=True)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.querySelector('#progress') && document.querySelector('#progress').innerText === 'Item 2 of 2'"
    )
    assert page.evaluate("window.notReloaded === true")  # htmx swap, no page load

    judgment = Judgment.objects.get()
    order = Assignment.objects.get(judgment=judgment).display_order  # screen slot → comparison position
    assert judgment.ranking == [sorted([order[2]]), sorted([order[0], order[3]]), sorted([order[1]])]

    def by_position(values):
        return [values[order.index(p)] for p in range(4)]

    assert judgment.aspects == {
        "helpful": {"kind": "rating", "ratings": by_position(helpful)},
        "correct": {"kind": "rating", "ratings": by_position(correct)},
    }
    assert judgment.rationale == "C names the colour plainly."
    assert judgment.rubric_version == "rubric-k4@v1"

    # a bad submission shows its sentence and writes nothing
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    page.wait_for_selector(".field-error")  # checked before sending: each problem next to its field
    assert (
        "are not placed yet" in page.locator(".rank-widget[data-input=ranking] + .field-error").inner_text()
    )
    assert (
        "Helpful: rate Response" in page.locator("fieldset[data-aspect=helpful] + .field-error").inner_text()
    )
    assert Judgment.objects.count() == 1


def test_drag_to_rank_builds_tiers_with_a_tie(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    add_role(make_user("dora", password="correct-horse-battery"), "annotator")
    make_campaign(researcher, slug="drag", k=3, overlap=1, n_items=1)

    page.goto(f"{live_server.url}/campaigns/drag/")
    page.fill("input[name=username]", "dora")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_selector("#judgment-form")
    widget = page.locator(".rank-widget[data-input=ranking]")
    ranking = widget.locator("input[type=hidden]")

    widget.locator(".pool .chip[data-slot='1']").drag_to(widget.locator("[data-zone=new]"))
    widget.locator(".pool .chip[data-slot='2']").drag_to(widget.locator("[data-zone=new]"))
    assert ranking.input_value() == "[[1],[2],[0]]"  # the last one left (A) placed itself last
    widget.locator(".tiers .chip[data-slot='0']").drag_to(widget.locator("[data-zone=tier][data-tier='0']"))
    assert ranking.input_value() == "[[1,0],[2]]"  # B tied with A, then C
    assert widget.locator(".pool .chip:visible").count() == 0  # placed chips leave the pool
    # Dragging a placed chip to the end moves it.
    widget.locator(".tiers .chip[data-slot='1']").drag_to(widget.locator("[data-zone=new]"))
    assert ranking.input_value() == "[[0],[2],[1]]"
