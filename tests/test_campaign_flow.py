"""Campaigns through their services and endpoints: rubrics, import, queue, submit, skip, undo, gold, bad input."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import campaigns as campaign_services
from annotation import items, quality, queues
from annotation.models import AnnotatorStanding, Assignment, Campaign, CampaignItem, Judgment, Rubric
from annotation.rubrics import template_spec
from inference.models import Prompt, Response
from tests.test_campaign_fixtures import jsonl, make_campaign, rows_k

pytestmark = pytest.mark.django_db

RICH = {
    "ties_allowed": True,
    "strength": {"labels": ["slightly better", "clearly better"]},
    "aspects": [{"key": "helpful", "kind": "rating", "min": 1, "max": 5}, {"key": "safe", "kind": "ranking"}],
    "confidence": {"labels": ["low", "mid", "high"]},
    "reason_tags": ["accurate", "clear"],
    "rationale": "required",
    "rationale_min_length": 10,
    "none_acceptable": True,
    "edit_box": True,
}


def good_payload(**over):
    payload = {
        "ranking": [[0], [1]],
        "strength": 2,
        "confidence": 3,
        "aspects": {"helpful": {"ratings": [5, 2]}, "safe": {"ranking": [[0, 1]]}},
        "reason_tags": ["clear"],
        "rationale": "A is more accurate.",
        "edited_answer": "Better.",
    }
    payload.update(over)
    return payload


def test_rubric_versions_and_templates(people):
    r = people["researcher"]
    v1 = campaign_services.create_rubric("mp", template_spec("multipref"), user=r)
    assert v1.label == "mp@v1"
    campaign = campaign_services.create_campaign(user=r, name="X", slug="x", rubric=v1, k=2)
    v2 = campaign_services.revise_rubric(v1, {**v1.spec, "rationale": "required"}, user=r)
    assert v2.label == "mp@v2" and Rubric.objects.get(pk=v1.pk).spec == v1.spec  # old version frozen
    campaign.refresh_from_db()
    assert campaign.rubric == v2
    assert campaign_services.revise_rubric(v2, dict(v2.spec), user=r) == v2  # no change, no new version
    hs = template_spec("helpsteer2")
    assert [a["key"] for a in hs["aspects"]] == [
        "helpfulness",
        "correctness",
        "coherence",
        "complexity",
        "verbosity",
    ]
    with pytest.raises(ValueError, match="unknown settings"):
        campaign_services.create_rubric("bad", {"colour": "red"})


def test_judgment_keeps_rubric_version_it_was_made_under(people):
    campaign = make_campaign(people["researcher"], groups=[people["experts"]])
    a = queues.next_assignment(campaign, people["annotator"])
    queues.submit(campaign, people["annotator"], a.pk, {"ranking": [[0], [1]]})
    campaign_services.revise_rubric(campaign.rubric, {**campaign.rubric.spec, "ties_allowed": False})
    assert Judgment.objects.get().rubric_version == "rubric-c1@v1"
    campaign.refresh_from_db()
    b = queues.next_assignment(campaign, people["annotator"])
    queues.submit(campaign, people["annotator"], b.pk, {"ranking": [[1], [0]]})
    assert sorted(Judgment.objects.values_list("rubric_version", flat=True)) == [
        "rubric-c1@v1",
        "rubric-c1@v2",
    ]


def test_import_our_format_pairs_and_csv_with_dry_run(people):
    campaign = make_campaign(people["researcher"], slug="imp", k=2, n_items=0)
    pairs = jsonl(
        [
            {
                "prompt": "Hi?",
                "completion_a": "Hello",
                "completion_b": "Hey",
                "model_a": "Alpha 1",
                "model_b": "beta",
            },
            {
                "prompt": "Gold?",
                "response_a": "Right",
                "response_b": "Wrong",
                "kind": "gold",
                "expected_ranking": [[0], [1]],
            },
        ]
    )
    report = items.import_items(campaign, pairs, "jsonl", dry_run=True)
    assert report.items == 2 and report.gold == 1 and "imported-alpha-1" in report.new_models
    assert CampaignItem.objects.count() == 0 and Prompt.objects.count() == 0  # dry run writes nothing
    items.import_items(campaign, pairs, "jsonl")
    assert CampaignItem.objects.filter(campaign=campaign).count() == 2
    assert set(Response.objects.values_list("status", flat=True)) == {"done"}
    gold = CampaignItem.objects.get(kind="gold")
    assert gold.expected_ranking == [[0], [1]]
    assert [s.response.text for s in gold.comparison.slots.all()] == ["Right", "Wrong"]
    csv_text = "prompt,response_1,response_2,model_1,model_2\nWhy?,Because,No idea,x,y\n"
    assert items.import_items(campaign, csv_text.encode(), "csv").items == 1
    assert CampaignItem.objects.filter(campaign=campaign).count() == 3


def test_import_reports_each_bad_row_and_writes_nothing(people):
    campaign = make_campaign(people["researcher"], slug="bad", k=3, n_items=0)
    bad = (
        b'{"prompt": "ok", "responses": ["a", "b", "c"]}\n{"prompt": "two", "responses": ["a", "b"]}\nnot json\n'
        b'{"responses": ["a", "b", "c"]}\n{"prompt": "g", "responses": ["a", "b", ""], "kind": "gold"}\n'
    )
    with pytest.raises(items.ImportInvalid) as caught:
        items.import_items(campaign, bad, "jsonl")
    errors = caught.value.errors
    assert errors[0] == "Row 2: it has 2 responses; this campaign shows K=3 per item"
    assert errors[1].startswith("Row 3: this line is not valid JSON")
    assert errors[2] == "Row 4: the 'prompt' field is missing"
    assert errors[3] == "Row 5: response 3 is empty"
    assert Prompt.objects.count() == 0 and CampaignItem.objects.count() == 0


def test_import_page_dry_run_and_errors(client, people):
    campaign = make_campaign(people["researcher"], slug="page", n_items=0)
    client.force_login(people["researcher"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    good = SimpleUploadedFile("x.jsonl", jsonl(rows_k(2, 2)))
    response = client.post(
        f"/campaigns/{campaign.slug}/import/", {"file": good, "format": "jsonl", "dry_run": "on"}
    )
    assert (
        response.status_code == 200
        and "Dry run (JSONL): this would create\n    2 items" in response.content.decode()
    )
    assert CampaignItem.objects.count() == 0
    bad = SimpleUploadedFile("x.jsonl", b'{"prompt": "x", "responses": ["only one"]}')
    response = client.post(f"/campaigns/{campaign.slug}/import/", {"file": bad, "format": "jsonl"})
    assert response.status_code == 400 and "Row 1: it has 1 responses" in response.content.decode()


def test_display_order_is_recorded_and_translated(people):
    campaign = make_campaign(
        people["researcher"], slug="order", k=3, n_items=1, spec={**RICH, "strength": None}
    )
    a = queues.next_assignment(campaign, people["annotator"])
    Assignment.objects.filter(pk=a.pk).update(display_order=[2, 0, 1])
    payload = good_payload(
        ranking=[[0], [1, 2]],
        strength=None,
        aspects={"helpful": {"ratings": [5, 3, 1]}, "safe": {"ranking": [[2], [0], [1]]}},
    )
    queues.submit(campaign, people["annotator"], a.pk, payload)
    j = Judgment.objects.get()
    # screen slot 0 showed position 2, slot 1 position 0, slot 2 position 1
    assert j.ranking == [[2], [0, 1]]
    assert j.aspects == {
        "helpful": {"kind": "rating", "ratings": [3, 1, 5]},
        "safe": {"kind": "ranking", "ranking": [[1], [2], [0]]},
    }
    assert j.rationale == "A is more accurate." and j.reason_tags == ["clear"] and j.confidence == 3
    assert j.source == "human" and j.identities_hidden and j.time_spent_ms is not None
    assert Assignment.objects.get(pk=a.pk).edited_answer == "Better."


def test_queue_overlap_never_twice_and_leases_expire(people, make_user):
    campaign = make_campaign(people["researcher"], slug="q", overlap=2, n_items=1)
    users = [people["annotator"], *(make_user(f"u{i}") for i in range(3))]
    for u in users[1:]:
        u.groups.add(*people["annotator"].groups.all())
    a1 = queues.next_assignment(campaign, users[0])
    assert queues.next_assignment(campaign, users[0]) == a1  # you keep your lease
    queues.next_assignment(campaign, users[1])
    with pytest.raises(queues.QueueEmpty):
        queues.next_assignment(campaign, users[2])  # two holders already
    Assignment.objects.filter(pk=a1.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    a3 = queues.next_assignment(campaign, users[2])  # the expired lease went back
    assert a3.item_id == a1.item_id
    with pytest.raises(queues.AssignmentGone):
        queues.submit(campaign, users[0], a1.pk, {"ranking": [[0], [1]]})
    queues.submit(campaign, users[2], a3.pk, {"ranking": [[0], [1]]})
    with pytest.raises(queues.QueueEmpty):
        queues.next_assignment(campaign, users[2])  # never an item twice


def test_skip_needs_reason_and_undo_window(people):
    campaign = make_campaign(people["researcher"], slug="s", n_items=3, undo_seconds=30)
    user = people["annotator"]
    a = queues.next_assignment(campaign, user)
    with pytest.raises(ValueError, match="Say why"):
        queues.skip(campaign, user, a.pk, "  ")
    queues.skip(campaign, user, a.pk, "I cannot decide")
    b = queues.next_assignment(campaign, user)
    assert b.item_id != a.item_id
    queues.submit(campaign, user, b.pk, {"ranking": [[1], [0]]})
    undone = queues.undo_last(campaign, user)
    assert undone.pk == b.pk and undone.status == "leased" and Judgment.objects.count() == 0
    assert queues.next_assignment(campaign, user).pk == b.pk
    queues.submit(campaign, user, b.pk, {"ranking": [[0], [1]]})
    Assignment.objects.filter(pk=b.pk).update(submitted_at=timezone.now() - timedelta(seconds=31))
    Assignment.objects.filter(pk=a.pk).update(skipped_at=timezone.now() - timedelta(seconds=32))
    with pytest.raises(ValueError, match="no submission or skip from the last 30 seconds"):
        queues.undo_last(campaign, user)
    order = Assignment.objects.get(pk=b.pk).display_order
    assert Judgment.objects.get().ranking == [[order[0]], [order[1]]]  # screen slots → comparison positions


def test_gold_checks_warn_then_pause(people):
    r = people["researcher"]
    campaign = make_campaign(
        r, slug="g", n_items=2, gold_rate=1.0, gold_min_checks=2, gold_warn_below=0.8, gold_pause_below=0.5
    )
    gold_rows = [
        {"prompt": f"G{i}", "responses": ["good", "bad"], "kind": "gold", "expected_ranking": [[0], [1]]}
        for i in range(4)
    ]
    items.import_items(campaign, jsonl(gold_rows), "jsonl")
    user = people["annotator"]

    def answer(correct):
        a = queues.next_assignment(campaign, user)
        assert a.item.kind == "gold"
        want = [[0], [1]] if correct else [[1], [0]]
        screen = [[a.display_order.index(p) for p in g] for g in want]
        queues.submit(campaign, user, a.pk, {"ranking": screen})

    answer(True)
    answer(False)  # 1/2 = 0.5: warned (below 0.8, not below 0.5)
    assert quality.standing_of(campaign, user).state == AnnotatorStanding.State.WARNED
    answer(False)  # 1/3: paused
    assert quality.standing_of(campaign, user).state == AnnotatorStanding.State.PAUSED
    with pytest.raises(campaign_services.CampaignForbidden, match="paused"):
        queues.next_assignment(campaign, user)
    assert quality.gold_accuracy(user, campaign) == (1, 3)
    quality.reopen_annotator(campaign, user, r)
    assert queues.next_assignment(campaign, user)


def test_reliability_is_readable(people, make_user):
    campaign = make_campaign(people["researcher"], slug="rel", n_items=3, overlap=4)
    others = [make_user("b1"), make_user("b2"), make_user("b3")]
    for u in others:
        u.groups.add(*people["annotator"].groups.all())
    votes = [
        (people["annotator"], [[0], [1]]),
        (others[0], [[0], [1]]),
        (others[1], [[0], [1]]),
        (others[2], [[1], [0]]),
    ]
    for u, ranking in votes:
        for _ in range(3):
            a = queues.next_assignment(campaign, u)
            screen = [[a.display_order.index(p) for p in g] for g in ranking]
            queues.submit(campaign, u, a.pk, {"ranking": screen})
    # agreed with the others' majority on 3 of 3 items, shrunk by a Beta(1, 1) prior: (3 + 1) / (3 + 2)
    assert quality.annotator_reliability(people["annotator"], campaign) == pytest.approx(0.8)
    assert quality.annotator_reliability(others[2], campaign) == pytest.approx(0.2)
    assert quality.annotator_reliability(people["researcher"]) is None


# --- the "Bad input" list: a 4xx with a sentence, nothing written ----------------------------


@pytest.fixture
def api_setup(people, client):
    campaign = make_campaign(
        people["researcher"], slug="api", n_items=3, spec=RICH, groups=[people["experts"]]
    )
    client.force_login(people["annotator"])
    response = client.post("/api/campaigns/api/next/")
    assert response.status_code == 200, response.content
    return campaign, response.json(), client


@pytest.mark.parametrize(
    "change, status, sentence",
    [
        ({"ranking": [[0]]}, 400, "missing positions: [1]"),
        ({"ranking": [[0], [0]]}, 400, "A position appears more than once"),
        ({"ranking": [[0], [5]]}, 400, "Position 5 is not one of the shown positions"),
        (
            {"aspects": {"helpful": {"ratings": [6, 2]}, "safe": {"ranking": [[0, 1]]}}},
            400,
            "outside the scale 1–5",
        ),
        ({"rationale": "short"}, 400, "The rationale is 5 characters; write at least 10."),
        ({"rationale": ""}, 400, "this rubric requires one"),
        ({"confidence": 9}, 400, "Confidence must be between 1 and 3"),
        ({"reason_tags": ["vibes"]}, 400, "'vibes' is not one of this rubric's reasons"),
        ({"strength": None}, 400, "Say how much better"),
    ],
)
def test_bad_submissions_are_refused(api_setup, change, status, sentence):
    campaign, item, client = api_setup
    response = client.post(
        f"/api/campaigns/api/assignments/{item['assignment']}/submit/",
        good_payload(**change),
        content_type="application/json",
    )
    assert response.status_code == status
    assert sentence in response.json()["detail"]
    assert Judgment.objects.count() == 0
    assert Assignment.objects.get(pk=item["assignment"]).status == "leased"


def test_submission_to_closed_campaign_and_unassigned_item(api_setup, people, client):
    campaign, item, client = api_setup
    other = Assignment.objects.create(
        item=CampaignItem.objects.exclude(pk=Assignment.objects.get(pk=item["assignment"]).item_id).first(),
        annotator=people["admin"],
        display_order=[0, 1],
        leased_at=timezone.now(),
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    response = client.post(
        f"/api/campaigns/api/assignments/{other.pk}/submit/", good_payload(), content_type="application/json"
    )
    assert response.status_code == 403 and "not assigned to you" in response.json()["detail"]
    Campaign.objects.filter(pk=campaign.pk).update(status="closed")
    response = client.post(
        f"/api/campaigns/api/assignments/{item['assignment']}/submit/",
        good_payload(),
        content_type="application/json",
    )
    assert response.status_code == 409 and "This campaign is closed" in response.json()["detail"]
    assert Judgment.objects.count() == 0


def test_good_api_submission_then_page_errors(api_setup, client):
    campaign, item, client = api_setup
    response = client.post(
        f"/api/campaigns/api/assignments/{item['assignment']}/submit/",
        good_payload(),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert Judgment.objects.count() == 1
    # the htmx page answers a bad form with the sentence in the error slot
    nxt = client.post("/api/campaigns/api/next/").json()
    response = client.post(
        f"/campaigns/api/a/{nxt['assignment']}/submit/", {"ranking": "[[0]]"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400 and response["HX-Retarget"] == "#item-error"
    assert "missing positions" in response.content.decode()
    assert Judgment.objects.count() == 1


def test_annotation_page_renders_markdown_inert(client, people):
    campaign = make_campaign(people["researcher"], slug="md", n_items=0, spec=RICH)
    items.import_items(
        campaign,
        jsonl(
            [
                {
                    "prompt": "**bold** <b>x</b>",
                    "responses": [
                        "<script>alert(1)</script> and `code`",
                        "<img src=x onerror=alert(1)>\n\n```py\nprint(1)\n```",
                    ],
                }
            ]
        ),
        "jsonl",
    )
    client.force_login(people["annotator"])
    html = client.get("/campaigns/md/item/", HTTP_HX_REQUEST="true").content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "<code>code</code>" in html and "<strong>bold</strong>" in html
    assert "Item 1 of 1" in html and 'name="rating-helpful-1"' in html and 'data-input="aspect-safe"' in html


def test_researcher_creates_rubric_and_campaign_in_the_app(client, people):
    client.force_login(people["researcher"])
    response = client.post("/campaigns/rubrics/new/", {"family": "hs", "template": "helpsteer2", "spec": ""})
    assert response.status_code == 200 and "hs@v1" in response.content.decode()
    response = client.post("/campaigns/rubrics/new/", {"family": "broken", "spec": '{"rationale": "maybe"}'})
    assert response.status_code == 400 and "rationale must be" in response.content.decode()
    rubric = Rubric.objects.get(family="hs")
    form = {
        "name": "HS",
        "slug": "hs",
        "guidelines": "Be kind",
        "k": 4,
        "layout": "stacked",
        "rubric": rubric.pk,
        "overlap": 2,
        "status": "open",
        "lease_seconds": 600,
        "undo_seconds": 30,
        "gold_rate": 0.1,
        "gold_min_checks": 3,
        "gold_warn_below": 0.8,
        "gold_pause_below": 0.6,
        "profile_fields": "[]",
    }
    assert client.post("/campaigns/new/", {**form, "k": 9}).status_code == 400
    response = client.post("/campaigns/new/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get(slug="hs")
    assert campaign.k == 4 and people["researcher"] in campaign.researchers.all()
    response = client.post(
        f"/campaigns/rubrics/{rubric.pk}/revise/",
        {"family": "hs", "spec": json.dumps({**rubric.spec, "rationale": "required"})},
    )
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.rubric.label == "hs@v2"
