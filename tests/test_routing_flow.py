"""Routing in the platform: settings checked, AI judges label first, the router fills the human queue with
exactly the budget, refits as people label, and the export writes the routed mix. The end-to-end test runs
on PostgreSQL + Redis with a real Celery worker and a scripted judge served over loopback HTTP."""

import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from annotation import queues, routing_records
from annotation.models import Assignment, CampaignItem, CampaignRouting, Judgment, RoutingDecision
from inference.models import ModelEndpoint
from routing.features import heuristic_tags, parse_tags
from tests.conftest import wait_for
from tests.test_campaign_fixtures import jsonl, make_campaign

LONG = "This answer explains the idea carefully, with an example and a caveat for the reader."


def routed_rows(n):
    """Items whose answers differ in length; on even items the longer answer is the better one."""
    rows = []
    for i in range(n):
        long_text, short_text = f"{LONG} ({i})", f"Short answer {i}."
        first, second = (long_text, short_text) if i % 2 else (short_text, long_text)
        rows.append(
            {"id": f"item-{i}", "prompt": f"Question {i}: how does it work?", "responses": [first, second]}
        )
    return rows


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_bad_routing_settings_get_a_sentence_and_change_nothing(people):
    make_campaign(people["researcher"], slug="r1", k=2, n_items=4)
    judge = ModelEndpoint.objects.create(name="a-judge", path="unused", judge_method="llm")
    ModelEndpoint.objects.create(name="not-a-judge", path="unused")
    client = api(people["researcher"])
    url = "/api/campaigns/r1/routing/"
    good = {"enabled": True, "policy": "learned", "budget_share": 0.5, "judges": ["a-judge"]}
    cases = [
        ({**good, "budget_share": 1.5}, "between 0 and 1"),
        ({**good, "budget_share": -0.1}, "between 0 and 1"),
        ({**good, "budget_share": None, "budget_count": 5}, "above the campaign's 4 items"),
        ({**good, "budget_count": 2}, "either as a share"),
        ({**good, "policy": "oracle"}, "policy"),
        ({**good, "judges": ["not-a-judge"]}, "not a judge endpoint"),
        ({**good, "judges": ["nobody"]}, "no model endpoint"),
        ({**good, "judges": []}, "at least one AI judge"),
        ({**good, "audit": 2}, "audit share"),
        ({**good, "judges": "a-judge"}, "list"),
        ({**good, "colour": "red"}, "Unknown routing setting"),
    ]
    for body, words in cases:
        response = client.put(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert words.lower() in response.json()["detail"].lower(), (body, response.json())
    assert not CampaignRouting.objects.exists()  # nothing half-written
    assert client.put(url, [1, 2], format="json").status_code == 400

    k4 = make_campaign(people["researcher"], slug="r4", k=4, n_items=2)
    response = client.put("/api/campaigns/r4/routing/", good, format="json")
    assert response.status_code == 400 and "pairwise" in response.json()["detail"]

    # An annotator cannot read or change routing; another researcher's campaign is not theirs.
    assert api(people["annotator"]).get(url).status_code == 404
    assert api(people["other_researcher"]).put(url, good, format="json").status_code == 404
    response = client.put(url, good, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["enabled"] is True and response.json()["judges"] == [judge.name]
    assert not CampaignRouting.objects.filter(campaign=k4).exists()


@pytest.mark.django_db
def test_a_routed_campaign_serves_people_only_what_was_routed_to_them(people):
    campaign = make_campaign(
        people["researcher"], slug="r2", k=2, overlap=1, n_items=6, groups=[people["experts"]]
    )
    judge = ModelEndpoint.objects.create(name="a-judge", path="unused", judge_method="llm")
    routing_records.save_routing(campaign, enabled=True, policy="random", budget_count=2, judges=[judge.name])
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("pk"))
    with pytest.raises(queues.QueueEmpty):  # nothing routed yet: nothing served
        queues.next_assignment(campaign, people["annotator"])
    decided = {
        item.pk: {
            "destination": "human" if i in (1, 4) else "ai",
            "policy": "random",
            "predicted_gain": None,
            "reason": "test",
            "audit": False,
            "slice": "",
            "ai_label": "a",
            "ai_confidence": 0.5,
        }
        for i, item in enumerate(items)
    }
    routing_records.record_decisions(campaign, decided)
    served = []
    for _ in range(2):
        assignment = queues.next_assignment(campaign, people["annotator"])
        served.append(assignment.item_id)
        queues.submit(campaign, people["annotator"], assignment.pk, {"ranking": [[0], [1]]})
    assert sorted(served) == [items[1].pk, items[4].pk]
    with pytest.raises(queues.QueueEmpty):
        queues.next_assignment(campaign, people["annotator"])
    assert queues.progress(campaign, people["annotator"])["items"] == 2
    # A refit cannot move an item people labelled.
    moved = routing_records.record_decisions(
        campaign, {items[1].pk: {**decided[items[1].pk], "destination": "ai"}}
    )
    assert moved == 0 and RoutingDecision.objects.get(item=items[1]).destination == "human"
    # Turning routing off serves everything again.
    routing_records.save_routing(
        campaign, enabled=False, policy="random", budget_count=2, judges=[judge.name]
    )
    assert queues.next_assignment(campaign, people["annotator"]).item_id not in served


def test_heuristic_tags_and_llm_tag_replies():
    tags = heuristic_tags("Write a Python function that parses JSON and returns exactly 3 keys.")
    assert tags["domain"] == "coding" and tags["format"] == "strict"
    assert heuristic_tags("What dose of this medication is safe?")["safety"] == "moderate"
    assert heuristic_tags("hi")["complexity"] == "simple"
    assert parse_tags("domain: Health\n**expertise**: expert\nsafety: maybe\nformat: none.") == {
        "domain": "health",
        "expertise": "expert",
        "format": "none",
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_routing_end_to_end_with_a_worker(people, scripted_judge, celery_worker_process, tmp_path):
    """Import 16 items; a length-biased judge labels all of them on the worker; the router sends exactly 25%
    to people; people label (disagreeing with the judge on half), the router refits; the routed export holds
    every item exactly once, with the right source and its reason."""
    researcher, annotator = people["researcher"], people["annotator"]
    campaign = make_campaign(researcher, slug="routed", k=2, overlap=1, n_items=0, groups=[people["experts"]])
    judge = scripted_judge("longest")
    client = api(researcher)
    response = client.put(
        "/api/campaigns/routed/routing/",
        {
            "enabled": True,
            "policy": "learned",
            "budget_share": 0.25,
            "audit": 0.25,
            "judges": [judge.name],
            "refit_every": 2,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    from annotation import items

    items.import_items(campaign, jsonl(routed_rows(16)), "jsonl")
    wait_for(
        lambda: RoutingDecision.objects.filter(item__campaign=campaign).count() == 16,
        timeout=90,
        what="a routing decision for every item",
    )
    assert (
        Judgment.objects.filter(source="ai", judge=judge).count() == 16
    )  # the judge labelled every item first
    to_people = set(
        RoutingDecision.objects.filter(item__campaign=campaign, destination="human").values_list(
            "item_id", flat=True
        )
    )
    assert len(to_people) == 4  # round(0.25 * 16)
    for decision in RoutingDecision.objects.filter(item__campaign=campaign):
        assert decision.reason and decision.ai_label in ("a", "b") and decision.policy
    settings_payload = client.get("/api/campaigns/routed/routing/").json()
    assert settings_payload["budget"] == 4 and settings_payload["to_people"] == 4
    decisions = client.get("/api/campaigns/routed/routing/decisions/").json()
    assert decisions["count"] == 16 and all(d["reason"] for d in decisions["results"])

    # People label what they are served: the shorter answer wins on odd items, so the judge is wrong there.
    served = []
    while True:
        try:
            assignment = queues.next_assignment(campaign, annotator)
        except queues.QueueEmpty:
            break
        item = assignment.item
        served.append(item.pk)
        index = int(item.external_id.split("-")[1])
        texts = [s.response.text for s in sorted(item.comparison.slots.all(), key=lambda s: s.position)]
        longer = 0 if len(texts[0]) > len(texts[1]) else 1
        better = longer if index % 2 == 0 else 1 - longer
        screen = assignment.display_order.index(better)
        queues.submit(campaign, annotator, assignment.pk, {"ranking": [[screen], [1 - screen]]})
        assert len(served) <= 16
    assert len(served) == 4  # exactly the budget, whatever moved between queues at the refits
    wait_for(
        lambda: CampaignRouting.objects.get(campaign=campaign).labels_at_fit >= 4,
        timeout=60,
        what="the router to refit on the new human labels",
    )
    routing = CampaignRouting.objects.get(campaign=campaign)
    assert routing.model_version and routing.fit_cutoff > 0
    labelled = set(
        Assignment.objects.filter(item__campaign=campaign, status="submitted").values_list(
            "item_id", flat=True
        )
    )
    assert set(
        RoutingDecision.objects.filter(item_id__in=labelled).values_list("destination", flat=True)
    ) == {"human"}

    out = tmp_path / "routed"
    call_command(
        "export_preferences",
        "--format",
        "dpo",
        "--source",
        "routed",
        "--campaign",
        "routed",
        "--out",
        str(out),
    )
    rows = [json.loads(line) for line in (out / "data" / "train.jsonl").read_text().splitlines()]
    assert sorted(r["comparison_id"] for r in rows) == sorted(
        CampaignItem.objects.filter(campaign=campaign).values_list("comparison_id", flat=True)
    )  # each item once
    by_comparison = {i.comparison_id: i.pk for i in CampaignItem.objects.filter(campaign=campaign)}
    for row in rows:
        expected = "human" if by_comparison[row["comparison_id"]] in labelled else "ai"
        assert row["source"] == expected, row
        assert row["routing_reason"] and row["routing_policy"] in ("learned", "uncertainty")
    card = (out / "README.md").read_text()
    assert "## Routing" in card and "25% of items" in card and "learned" in card
    assert f"human {len(labelled) / 16:.1%}" in card


@pytest.mark.django_db
def test_the_routed_export_in_both_file_formats(people, tmp_path):
    """Human labels where people labelled, the AI label elsewhere (also on an item sent to people who have
    not labelled it yet), in JSONL and Parquet alike, with every routed item once."""
    import pyarrow.parquet as pq

    from annotation.services import record_judgment
    from export.services import export_preferences

    campaign = make_campaign(
        people["researcher"], slug="mix", k=2, overlap=1, n_items=4, groups=[people["experts"]]
    )
    judge = ModelEndpoint.objects.create(name="a-judge", path="unused", judge_method="llm")
    routing_records.save_routing(
        campaign, enabled=True, policy="uncertainty", budget_count=2, judges=[judge.name]
    )
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("pk"))
    for item in items:
        record_judgment(
            item.comparison, [[1], [0]], judge=judge, judge_prompt_version="v1", identities_hidden=True
        )
    routing_records.record_decisions(
        campaign,
        {
            item.pk: {
                "destination": "human" if i < 2 else "ai",
                "policy": "uncertainty",
                "predicted_gain": 0.5,
                "reason": f"Item {i}.",
                "audit": False,
                "slice": "general",
                "ai_label": "b",
                "ai_confidence": 0.5,
            }
            for i, item in enumerate(items)
        },
    )
    assignment = queues.next_assignment(campaign, people["annotator"])  # only item 0 gets a human label
    queues.submit(campaign, people["annotator"], assignment.pk, {"ranking": [[0], [1]]})
    labelled = assignment.item.comparison_id

    result = export_preferences(
        {"format": "dpo", "source": "routed", "file_format": "both"}, tmp_path / "mix"
    )
    table = pq.read_table(tmp_path / "mix" / "data" / "train.parquet").to_pylist()
    lines = [json.loads(x) for x in (tmp_path / "mix" / "data" / "train.jsonl").read_text().splitlines()]
    assert [r["comparison_id"] for r in table] == [r["comparison_id"] for r in lines]
    assert sorted(r["comparison_id"] for r in lines) == sorted(i.comparison_id for i in items)
    for row in lines:
        assert row["source"] == ("human" if row["comparison_id"] == labelled else "ai")
    not_yet = next(r for r in lines if r["comparison_id"] == items[1].comparison_id)
    assert not_yet["routing_reason"].startswith("Sent to people, who have not labelled it yet")
    assert result["summary"]["source_mix"] == {"ai": 3, "human": 1}
    card = (tmp_path / "mix" / "README.md").read_text()
    assert (
        "share of each source: ai 75.0% (3 rows), human 25.0% (1 rows)" in card
        and "| mix | uncertainty | 2 items |" in card
    )
    # Other sources are untouched by routing: no routing columns.
    export_preferences({"format": "dpo", "source": "both"}, tmp_path / "both")
    row = json.loads((tmp_path / "both" / "data" / "train.jsonl").read_text().splitlines()[0])
    assert "routing_reason" not in row


@pytest.mark.django_db
def test_an_llm_tagger_over_http_with_the_heuristic_filling_gaps():
    from inference.openai_server import ChatCompletionsHandler, OpenAICompatibleServer
    from routing.features import prompt_tags

    class Tagger(ChatCompletionsHandler):
        def complete(self, body, path, messages):
            assert "Request:\nIs this mushroom safe to eat?" in messages[-1]["content"]
            reply = "domain: health\nexpertise: expert\nsafety: high\ncomplexity: banana"  # no format line
            self.send_json(
                200,
                {
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 5},
                },
            )

    server = OpenAICompatibleServer({"tagger": "unused"}, handler=Tagger)
    server.start_in_thread()
    try:
        tagger = ModelEndpoint.objects.create(
            name="tagger", backend="openai", path=server.base_url, api_model="tagger", max_retries=0
        )
        tags, version = prompt_tags("Is this mushroom safe to eat?", tagger)
    finally:
        server.shutdown()
        server.server_close()
    assert tags["domain"] == "health" and tags["expertise"] == "expert" and tags["safety"] == "high"
    assert tags["complexity"] == "moderate" and tags["format"] == "none"  # from the heuristic tagger
    assert version == "tagger/tags-v1+heuristic"
    down, version = prompt_tags("Is this mushroom safe to eat?", tagger)  # the server is gone: heuristic only
    assert version == "heuristic" and down["domain"] == "general"
