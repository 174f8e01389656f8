"""The researcher's loop in a real Chromium: import with a dry run that keeps the file and skips duplicates,
adjudicate a disagreement by dragging the responses' letters, and every annotator meets the gold item."""

import pytest

from annotation import items, queues
from annotation.models import Adjudication, CampaignItem
from tests.browser.pages import log_in
from tests.conftest import TEST_OUTPUT
from tests.test_campaign_fixtures import add_role, jsonl, make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_import_dry_run_keeps_the_file_and_a_reimport_creates_nothing(page, live_server, make_user, tmp_path):
    researcher = add_role(make_user("rita", password="correct-horse-battery"), "researcher")
    make_campaign(researcher, slug="imp", k=2, overlap=1, n_items=0)
    path = tmp_path / "items.csv"
    path.write_text(
        "id,prompt,completion_a,completion_b,model_a,model_b\n"
        "q1,What is 17*3?,51,\"(17*20=340, 17*3=51)\",m1,m2\nq1,Again,x,y,m1,m2\nq2,Hello,hi,hey,m1,m2\n"
    )
    log_in(page, f"{live_server.url}/campaigns/imp/import/", "rita")
    page.set_input_files("#id_file", str(path))
    assert page.locator("#id_dry_run").is_checked()
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-report")
    report = page.locator("#import-report").inner_text()
    assert "Dry run (CSV): this would create 2 items" in report
    assert "Row 3: id 'q1' repeats row 2; skipped" in page.locator("#import-duplicates").inner_text()
    assert page.locator(".preview-item").count() == 2
    assert page.locator(".preview-item .view-plain").all_inner_texts()[:3] == [
        "What is 17*3?",
        "51",
        "(17*20=340, 17*3=51)",
    ]
    page.screenshot(path=str(TEST_OUTPUT / "import-dry-run.png"), full_page=True)
    assert CampaignItem.objects.count() == 0

    page.click("#confirm-import button")  # no need to choose the file again
    page.wait_for_function("document.querySelector('#import-report').innerText.startsWith('Created 2 items')")
    assert CampaignItem.objects.count() == 2

    page.set_input_files("#id_file", str(path))
    page.uncheck("#id_dry_run")
    page.click("#import-form button[type=submit]")
    page.wait_for_function("document.querySelector('#import-report').innerText.startsWith('Created 0 items')")
    assert page.locator("#import-duplicates li").count() == 3 and CampaignItem.objects.count() == 2


def test_adjudication_shows_texts_and_orders_and_ranks_by_drag(page, live_server, make_user):
    researcher = add_role(make_user("rita", password="correct-horse-battery"), "researcher")
    campaign = make_campaign(researcher, slug="adj", k=3, overlap=2, n_items=0)
    items.import_items(
        campaign, jsonl([{"prompt": "Best fruit?", "responses": ["Apple", "Banana", "Cherry"]}]), "jsonl"
    )
    for name, ranking in (("ann", [[0], [1], [2]]), ("bob", [[2], [0, 1]])):
        user = add_role(make_user(name), "annotator")
        a = queues.next_assignment(campaign, user)
        queues.submit(
            campaign, user, a.pk, {"ranking": [[a.display_order.index(p) for p in g] for g in ranking]}
        )
    log_in(page, f"{live_server.url}/campaigns/adj/disagreements/", "rita")
    article = page.locator("article.disagreement")
    article.wait_for()
    assert article.locator(".response .view-plain").all_inner_texts() == ["Apple", "Banana", "Cherry"]
    verdicts = article.locator(".verdicts > li")
    assert sorted(t.split()[0] for t in verdicts.all_inner_texts()) == ["ann", "bob"]
    bob = verdicts.filter(has_text="bob").locator(".order-tiers > li")
    assert bob.count() == 2 and bob.all_inner_texts() == ["C", "A\n=\nB"]  # C, then A tied with B
    assert verdicts.filter(has_text="ann").locator(".order-tiers > li").all_inner_texts() == ["A", "B", "C"]
    widget = article.locator(".rank-widget")
    widget.locator(".pool .chip[data-slot='1']").drag_to(widget.locator("[data-zone=new]"))
    widget.locator(".pool .chip[data-slot='2']").drag_to(widget.locator("[data-zone=new]"))
    assert widget.locator("input[type=hidden]").input_value() == "[[1],[2],[0]]"  # A placed itself last
    article.locator("input[name=note]").fill("B is the classic answer")
    page.screenshot(path=str(TEST_OUTPUT / "adjudication.png"), full_page=True)
    article.locator("button.primary").click()
    page.wait_for_selector(".adjudicated")
    assert Adjudication.objects.get().ranking == [[1], [2], [0]]
    assert "Adjudicated by rita" in page.locator(".adjudicated").inner_text()


def test_every_annotator_is_served_the_gold_item(page, live_server, make_user):
    researcher = add_role(make_user("rita"), "researcher")
    campaign = make_campaign(researcher, slug="gold", k=2, overlap=2, n_items=4, gold_rate=0.2)
    items.import_items(
        campaign,
        jsonl(
            [
                {
                    "prompt": "Gold: which is right? 2+2",
                    "responses": ["4", "5"],
                    "kind": "gold",
                    "expected_ranking": [[0], [1]],
                }
            ]
        ),
        "jsonl",
    )
    for name in ("ann", "bob"):
        add_role(make_user(name, password="correct-horse-battery"), "annotator")
        page.context.clear_cookies()
        log_in(page, f"{live_server.url}/campaigns/gold/", name)
        prompts = []
        while True:
            page.wait_for_selector("#judgment-form, #queue-done")
            if page.locator("#queue-done").count():
                break
            prompts.append(page.locator(".prompt .view-plain").inner_text())
            shown = page.locator(".item").get_attribute("data-assignment")
            four = [
                i
                for i, text in enumerate(page.locator(".response .view-plain").all_inner_texts())
                if text == "4"
            ]
            page.locator("body").click(position={"x": 5, "y": 5})
            page.keyboard.press("ab"[four[0]] if four else "a")
            page.keyboard.press("Enter")
            page.wait_for_function(f"!document.querySelector('.item[data-assignment=\"{shown}\"]')")
        assert len(prompts) == 5 and sum(p.startswith("Gold:") for p in prompts) == 1, (name, prompts)
