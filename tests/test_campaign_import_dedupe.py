"""Import: duplicates (by id, or by content without an id) are reported and skipped, within a file and
against the campaign, so a re-import creates nothing; the format is detected; the dry run keeps the file and
previews the first items."""

import pytest

from annotation import items
from annotation.models import CampaignItem
from tests.test_campaign_fixtures import jsonl, make_campaign

pytestmark = pytest.mark.django_db

ROWS = [
    {"id": "q1", "prompt": "One?", "responses": ["a", "b"]},
    {"id": "q2", "prompt": "Two?", "responses": ["c", "d"]},
    {"id": "q1", "prompt": "One again?", "responses": ["e", "f"]},  # same id as row 1
    {"prompt": "No id", "responses": ["g", "h"]},
    {"prompt": "No id", "responses": ["g", "h"]},  # same content as row 4
]


def test_duplicates_are_skipped_in_the_file_and_against_the_campaign(people):
    campaign = make_campaign(people["researcher"], slug="d", n_items=0)
    report = items.import_items(campaign, jsonl(ROWS), "jsonl")
    assert report.items == 3 and CampaignItem.objects.count() == 3
    assert report.duplicates == [
        "Row 3: id 'q1' repeats row 1; skipped",
        "Row 5: the same prompt and responses as row 4; skipped",
    ]
    again = items.import_items(campaign, jsonl(ROWS), "jsonl")
    assert again.items == 0 and CampaignItem.objects.count() == 3 and len(again.duplicates) == 5
    assert "Row 1: id 'q1' is already an item of this campaign; skipped" in again.duplicates
    assert (
        "Row 4: the same prompt and responses are already an item of this campaign; skipped"
        in again.duplicates
    )


def test_the_format_is_detected_for_jsonl_csv_and_multipref_columns(people):
    campaign = make_campaign(people["researcher"], slug="f", n_items=0)
    assert items.import_items(campaign, jsonl(ROWS[:1]), "auto", dry_run=True).file_format == "jsonl"
    csv_text = b"prompt,response_1,response_2\nHi,x,y\n"
    assert items.import_items(campaign, csv_text, "auto", dry_run=True).file_format == "csv"
    multipref = b"prompt,completion_a,completion_b,model_a,model_b\nHi,x,y,m1,m2\n"
    report = items.import_items(campaign, multipref, "auto")
    assert (
        report.file_format == "csv"
        and report.items == 1
        and report.new_models == ["imported-m1", "imported-m2"]
    )


def test_the_dry_run_keeps_the_file_and_previews_the_items(client, people):
    make_campaign(people["researcher"], slug="p", n_items=0, display_mode="plain")
    client.force_login(people["researcher"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "items.jsonl", jsonl(ROWS + [{"prompt": "(17*20=340, 17*3=51)", "responses": ["*x*", "y"]}])
    )
    page = client.post("/campaigns/p/import/", {"file": upload, "format": "auto", "dry_run": "on"})
    html = page.content.decode()
    assert page.status_code == 200 and "Dry run (JSONL): this would create" in html and "4 items" in html
    assert "2 duplicate rows skipped" in html and "The first items, as annotators will see them" in html
    assert '<div class="answer view-plain" dir="auto">One?</div>' in html
    assert CampaignItem.objects.count() == 0
    token = html.split('name="upload" value="')[1].split('"')[0]
    done = client.post("/campaigns/p/import/", {"upload": token, "format": "jsonl"})
    assert (
        done.status_code == 200 and "Created" in done.content.decode() and CampaignItem.objects.count() == 4
    )
    # the kept file is gone once imported, and another user cannot use the token
    again = client.post("/campaigns/p/import/", {"upload": token, "format": "jsonl"})
    assert again.status_code == 400 and "has expired" in again.content.decode()
    assert client.post("/campaigns/p/import/", {"format": "auto"}).status_code == 400
