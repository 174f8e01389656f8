"""Researcher forms in a real Chromium at 1280 px: the template dropdown fits the page and shows its spec,
a saved rubric preselects itself in the new campaign, the slug follows the name, checkboxes sit by their labels."""

import pytest

from annotation.models import Campaign
from tests.browser.pages import log_in
from tests.conftest import TEST_OUTPUT
from tests.test_campaign_fixtures import add_role

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_rubric_then_campaign(page, live_server, make_user):
    add_role(make_user("rita", password="correct-horse-battery"), "researcher")
    log_in(page, f"{live_server.url}/campaigns/rubrics/new/", "rita")
    page.wait_for_selector("#id_template")
    assert page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth"
    )  # the dropdown fits at 1280 px
    assert not page.locator("#template-spec-preview").is_visible()
    page.select_option("#id_template", "multipref")
    assert '"strength"' in page.locator("#template-spec-preview pre").inner_text()
    page.screenshot(path=str(TEST_OUTPUT / "rubric-form.png"), full_page=True)
    page.fill("#id_family", "mp")
    page.click("button.primary")
    page.click("#create-with-rubric")
    page.wait_for_selector("#id_rubric")
    assert page.locator("#id_rubric option:checked").inner_text() == "mp@v1"

    page.fill("#id_name", "Über Chat Eval 2")
    assert page.locator("#id_slug").input_value() == "uber-chat-eval-2"
    page.fill("#id_slug", "my-own")
    page.fill("#id_name", "Something else")
    assert page.locator("#id_slug").input_value() == "my-own"  # a slug typed by hand stays
    box = page.locator("#id_reoffer_skipped").bounding_box()
    label = page.locator("label[for=id_reoffer_skipped]").bounding_box()
    assert abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) < 12  # same line
    assert 0 <= box["x"] - (label["x"] + label["width"]) < 40  # right after its label
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(TEST_OUTPUT / "campaign-form.png"), full_page=True)
    page.click("button.primary")
    page.wait_for_url("**/dashboard/")
    campaign = Campaign.objects.get(slug="my-own")
    assert campaign.rubric.label == "mp@v1" and campaign.display_mode == "plain"
    assert page.locator(".status-buttons button.current").inner_text() == "Open"
