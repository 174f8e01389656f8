"""Campaign items built from response pools and from prompts × models: the seeded, balanced draw, the dry
run with its skip reasons, the page and the API, and every bad input refused with nothing written."""

import pytest

from annotation import pool_items
from annotation.models import CampaignItem, Comparison
from inference.models import ModelEndpoint, Prompt, Response, ResponsePool
from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db


def _endpoint(name):
    return ModelEndpoint.objects.create(name=name, path=f"/models/{name}")


def _answer(pool, endpoint, prompt, status="done", text=None):
    return Response.objects.create(
        prompt=prompt,
        endpoint=endpoint,
        status=status,
        pooled=True,
        text=text if text is not None else (f"{endpoint.name} on {prompt.pk}" if status == "done" else ""),
        error="boom" if status == "failed" else "",
        cache_key=endpoint.cache_key(pool.params_for(endpoint)),
    )


@pytest.fixture
def pool():
    models = [_endpoint(f"m{i}") for i in range(3)]
    prompts = [Prompt.objects.create(conversation=[{"role": "user", "content": f"Q{i}?"}]) for i in range(4)]
    pool = ResponsePool.objects.create(name="p1", params_override={"seed": 0})
    pool.endpoints.set(models)
    pool.prompts.set(prompts)
    full, one, two, none = prompts
    for m in models:
        _answer(pool, m, full)
    _answer(pool, models[0], one)
    _answer(pool, models[1], one, status="pending")
    _answer(pool, models[2], one, status="failed")
    _answer(pool, models[0], two)
    _answer(pool, models[2], two)
    # an answer under other parameters is not the pool's
    Response.objects.create(
        prompt=none,
        endpoint=models[1],
        status="done",
        pooled=True,
        text="other params",
        cache_key="different",
    )
    return pool, models, prompts


def test_dry_run_reports_items_and_skip_reasons_and_writes_nothing(people, pool):
    pool, models, (full, one, two, none) = pool
    campaign = make_campaign(people["researcher"], slug="pl", k=2, n_items=0)
    report = pool_items.build_items(campaign, pool="p1", seed=7, dry_run=True, user=people["researcher"])
    assert report.dry_run and report.items == 2 and report.prompts == 4
    assert report.skipped == [
        f"prompt {one.pk}: only 1 finished answer from the chosen models, 2 needed (1 still pending, 1 failed)",
        f"prompt {none.pk}: no finished answer from the chosen models, 2 needed",
    ]
    assert CampaignItem.objects.count() == 0 and Comparison.objects.count() == 0
    planned = report.planned
    created = pool_items.build_items(campaign, pool="p1", seed=7, user=people["researcher"])
    assert not created.dry_run and created.planned == planned  # the dry run shows exactly what is made
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("comparison__prompt_id"))
    assert [i.comparison.prompt_id for i in items] == [full.pk, two.pk]
    for item, plan in zip(items, planned):
        slots = list(item.comparison.slots.select_related("response__endpoint"))
        assert [s.response.endpoint.name for s in slots] == plan["models"]
        assert all(s.response.pooled and s.response.status == "done" for s in slots)
        assert item.kind == "regular" and item.external_id == f"pool p1: prompt {item.comparison.prompt_id}"
    assert {s.response.endpoint.name for s in items[1].comparison.slots.all()} == {"m0", "m2"}
    assert Response.objects.count() == 9  # nothing generated, nothing copied
    again = pool_items.build_items(campaign, pool="p1", seed=7, user=people["researcher"])
    assert again.items == 0 and f"prompt {full.pk}: already has an item in this campaign" in again.skipped
    assert CampaignItem.objects.count() == 2


def test_balanced_seeded_draw_and_prompts_times_models(people):
    models = [_endpoint(f"b{i}") for i in range(3)]
    prompts = [Prompt.objects.create(conversation=[{"role": "user", "content": f"P{i}"}]) for i in range(6)]
    pool = ResponsePool.objects.create(name="bal")
    pool.endpoints.set(models)
    pool.prompts.set(prompts)
    for p in prompts:
        for m in models:
            _answer(pool, m, p)
    campaign = make_campaign(people["researcher"], slug="bal", k=2, n_items=0)
    report = pool_items.build_items(campaign, pool=pool, seed=3, dry_run=True)
    assert report.items == 6 and report.models == {"b0": 4, "b1": 4, "b2": 4}  # 12 answers spread evenly
    assert (
        pool_items.build_items(campaign, pool=pool, seed=3, dry_run=True).planned == report.planned
    )  # seeded
    # a subset of the pool's models, and prompts × models without a pool
    subset = pool_items.build_items(campaign, pool=pool, models=["b0", "b2"], dry_run=True)
    assert all(sorted(p["models"]) == ["b0", "b2"] for p in subset.planned)
    chosen = pool_items.build_items(
        campaign, prompts=[prompts[0].pk, str(prompts[1].pk)], models=["b1", "b2"]
    )
    assert chosen.items == 2 and chosen.source == "prompts × models"
    assert CampaignItem.objects.filter(campaign=campaign).count() == 2


@pytest.mark.parametrize(
    "body, sentence",
    [
        ({"pool": "nope"}, "There is no response pool called 'nope'."),
        ({"pool": "p1", "models": ["m0", "ghost"]}, "There is no model called 'ghost'."),
        ({"pool": "p1", "models": ["m0"]}, "choose at least 2 models (you chose 1)"),
        ({"pool": "p1", "models": ["m0", "outsider"]}, "is not one of the pool 'p1'"),
        ({"pool": "p1", "prompts": [1]}, "not both"),
        ({}, "Choose a response pool, or prompts and models."),
        ({"prompts": [1]}, "Choose the models whose answers to use."),
        ({"prompts": ["x"], "models": ["m0", "m1"]}, "prompts, item 1: A valid integer is required."),
        ({"prompts": [999999], "models": ["m0", "m1"]}, "There is no prompt 999999."),
        ({"pool": "p1", "seed": "abc"}, "seed: A valid integer is required."),
        ({"pool": "p1", "models": "m0"}, "models: Expected a list of items"),
        ({"pool": "p1", "dry_run": "maybe"}, "dry_run: Must be a valid boolean."),
        # Wrong types are refused by the serializer before the service sees them (these were 500s).
        ({"pool": {}}, "pool: Not a valid string."),
        ({"pool": False}, "pool: Not a valid string."),
        ({"pool": [None]}, "pool: Not a valid string."),
        ({"pool": 0}, "There is no response pool called '0'."),
        ({"prompts": {"1": 2}, "models": ["m0", "m1"]}, "prompts: Expected a list of items"),
        ({"prompts": [1], "models": [{}, "m1"]}, "models, item 1: Not a valid string."),
        ([{"pool": "p1"}], "Expected a dictionary"),
    ],
)
def test_api_refuses_bad_builds_and_writes_nothing(client, people, pool, body, sentence):
    _endpoint("outsider")
    make_campaign(people["researcher"], slug="api", k=2, n_items=0)
    client.force_login(people["researcher"])
    response = client.post("/api/campaigns/api/build-items/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert sentence in response.json()["detail"]
    assert CampaignItem.objects.count() == 0 and Comparison.objects.count() == 0


def test_api_build_and_permissions(client, people, pool):
    make_campaign(people["researcher"], slug="api", k=2, n_items=0, groups=[people["experts"]])
    client.force_login(people["annotator"])
    assert (
        client.post(
            "/api/campaigns/api/build-items/", {"pool": "p1"}, content_type="application/json"
        ).status_code
        == 404
    )
    client.force_login(people["other_researcher"])
    assert (
        client.post(
            "/api/campaigns/api/build-items/", {"pool": "p1"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert CampaignItem.objects.count() == 0
    client.force_login(people["researcher"])
    dry = client.post(
        "/api/campaigns/api/build-items/", {"pool": "p1", "dry_run": True}, content_type="application/json"
    )
    assert dry.status_code == 200 and dry.json()["items"] == 2 and len(dry.json()["skipped"]) == 2
    made = client.post(
        "/api/campaigns/api/build-items/", {"pool": "p1", "seed": 1}, content_type="application/json"
    )
    assert made.status_code == 201 and CampaignItem.objects.count() == 2


def test_dashboard_form_and_build_page(client, people, pool):
    pool, models, prompts = pool
    campaign = make_campaign(people["researcher"], slug="pg", k=2, n_items=0)
    client.force_login(people["researcher"])
    html = client.get("/campaigns/pg/dashboard/").content.decode()
    assert 'action="/campaigns/pg/build/"' in html and "Nothing is generated here" in html
    response = client.post("/campaigns/pg/build/", {"pool": "p1", "seed": "2", "dry_run": "on"})
    page = response.content.decode()
    assert response.status_code == 200 and "Dry run: this would create 2 items" in page
    assert f"prompt {prompts[1].pk}: only 1 finished answer" in page and CampaignItem.objects.count() == 0
    bad = client.post("/campaigns/pg/build/", {"prompts": "1, two"})
    assert bad.status_code == 400 and "&#x27;two&#x27; is not a prompt id" in bad.content.decode()
    bad = client.post("/campaigns/pg/build/", {"pool": "p1", "models": ["m0"]})
    assert bad.status_code == 400 and "choose at least 2 models" in bad.content.decode()
    bad = client.post("/campaigns/pg/build/", {})
    assert bad.status_code == 400 and "Choose a response pool" in bad.content.decode()
    assert CampaignItem.objects.count() == 0
    ok = client.post("/campaigns/pg/build/", {"pool": "p1"})
    assert ok.status_code == 200 and "Created 2 items" in ok.content.decode()
    assert campaign.items.count() == 2
    client.force_login(people["annotator"])
    assert client.post("/campaigns/pg/build/", {"pool": "p1"}).status_code == 404
    assert client.get("/campaigns/pg/build/").status_code == 404
