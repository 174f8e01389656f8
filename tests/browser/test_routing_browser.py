"""A researcher turns routing on in the browser (the settings form checks what it is given), the campaign
dashboard shows the routing section with its decisions, and the annotator's queue serves only the items the
router sent to people."""

import pytest

from annotation import routing_records
from annotation.models import Assignment, CampaignItem, CampaignRouting, RoutingDecision
from inference.models import ModelEndpoint
from tests.browser.pages import log_in
from tests.conftest import TEST_OUTPUT
from tests.test_campaign_fixtures import add_role, make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_routing_settings_dashboard_and_a_routed_queue(page, live_server, make_user, browser):
    researcher = add_role(make_user("rita", password="correct-horse-battery"), "researcher")
    add_role(make_user("ann", password="correct-horse-battery"), "annotator")
    campaign = make_campaign(researcher, slug="routed", k=2, overlap=1, n_items=6)
    ModelEndpoint.objects.create(name="judge-one", path="unused", judge_method="llm")

    log_in(page, f"{live_server.url}/campaigns/routed/routing/", "rita")
    page.wait_for_selector("#routing-form")
    page.check("input[name=enabled]")
    page.select_option("select[name=policy]", "uncertainty")
    page.fill("input[name=budget]", "1.5")
    page.click("#routing-form button[type=submit]")
    page.wait_for_selector("#routing-error")
    assert "between 0 and 1" in page.locator("#routing-error").inner_text()  # the sentence, and nothing saved
    assert not CampaignRouting.objects.exists()
    page.fill("input[name=budget]", "2")
    page.select_option("select[name=budget_kind]", "count")
    page.click("#routing-form button[type=submit]")
    page.wait_for_selector("#routing-error")
    assert "at least one AI judge" in page.locator("#routing-error").inner_text()
    page.check("input[name=judges]")
    page.click("#routing-form button[type=submit]")
    page.wait_for_selector("#routing-summary")
    routing = CampaignRouting.objects.get(campaign=campaign)
    assert routing.enabled and routing.policy == "uncertainty" and routing.budget_count == 2

    # The router (here: its decisions written directly, as the worker would) sends two items to people.
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("pk"))
    routing_records.record_decisions(
        campaign,
        {
            item.pk: {
                "destination": "human" if i in (2, 5) else "ai",
                "policy": "uncertainty",
                "predicted_gain": 0.9 if i in (2, 5) else 0.1,
                "reason": f"Reason for item {i}.",
                "audit": False,
                "slice": "general",
                "ai_label": "a",
                "ai_confidence": 0.2 if i in (2, 5) else 0.9,
            }
            for i, item in enumerate(items)
        },
    )
    page.goto(f"{live_server.url}/campaigns/routed/routing/")
    assert page.locator("#routing-no-estimates").count() == 1  # an empty state, not an empty chart
    page.goto(f"{live_server.url}/campaigns/routed/dashboard/")
    page.wait_for_selector("#routing-panel #routing-summary")  # loaded by htmx into the dashboard
    summary = page.locator("#routing-summary").inner_text()
    assert "2 items to people, 4 to the AI judges" in summary and "2 of 2 used" in summary
    page.goto(f"{live_server.url}/campaigns/routed/routing/")
    assert page.locator(".routing-decisions tr[data-destination=human]").count() == 2
    assert "Reason for item 2." in page.locator(".routing-decisions").inner_text()
    chart = page.request.get(f"{live_server.url}/campaigns/routed/routing/chart.png")
    assert chart.status == 200 and chart.headers["content-type"] == "image/png" and len(chart.body()) > 1000
    page.screenshot(path=str(TEST_OUTPUT / "routing-page.png"), full_page=True)

    browser.clear_cookies()  # one browser profile: log the researcher out
    annotator = browser.new_page()
    log_in(annotator, f"{live_server.url}/campaigns/routed/", "ann")
    annotator.wait_for_selector("#judgment-form")
    assert (
        annotator.locator("#progress").inner_text() == "Item 1 of 2"
    )  # only what was routed to people counts
    for step in (1, 2):
        annotator.locator("body").click(position={"x": 5, "y": 5})
        for key in ("a", "b", "Enter"):
            annotator.keyboard.press(key)
        if step == 1:
            annotator.wait_for_function(
                "document.querySelector('#progress') && "
                "document.querySelector('#progress').innerText === 'Item 2 of 2'"
            )
    annotator.wait_for_selector("text=done everything")
    served = set(Assignment.objects.values_list("item_id", flat=True))
    assert served == {items[2].pk, items[5].pk}
    assert set(RoutingDecision.objects.filter(item_id__in=served).values_list("destination", flat=True)) == {
        "human"
    }
    annotator.close()
