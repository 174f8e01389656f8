"""The Django side of the rating engine: coalesced live refits, the periodic full refit,
snapshots per view, the leaderboard API's bad input, and matchmaking in the arena."""

import pytest
from django.core.cache import cache
from django.db import transaction

from annotation.models import Judgment
from annotation.services import create_comparison, record_judgment
from arena.models import Arena, ArenaEntry
from arena.services import draw_pair
from inference.models import ModelEndpoint, Prompt, Response
from ranking import services
from ranking.models import RatingSnapshot

pytestmark = pytest.mark.django_db


def _vote(users, winner, loser, text_w="A fine answer.", text_l="Meh."):
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "q"}])
    a = Response.objects.create(prompt=prompt, endpoint=winner, status="done", text=text_w)
    b = Response.objects.create(prompt=prompt, endpoint=loser, status="done", text=text_l)
    comparison = create_comparison(prompt, [a, b])
    for user in users:
        record_judgment(comparison, [[0], [1]], annotator=user, identities_hidden=True)


@pytest.fixture
def models():
    return [ModelEndpoint.objects.create(name=f"m{i}", path="/x") for i in range(3)]


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create(username=f"u{i}") for i in range(3)]


def test_refit_writes_every_view_and_is_idempotent(models, users):
    for _ in range(4):
        _vote(users, models[0], models[1], text_w="## Title\n- a\n- b\n**bold** " + "word " * 60)
        _vote(users, models[1], models[2])
    written = services.refit(bootstrap=50)
    views = {(s.method, s.style_control) for s in written}
    assert views == {("bt", False), ("bt", True), ("pl", False), ("bayes", False), ("elo", False)}
    bt = RatingSnapshot.objects.get(method="bt", style_control=False)
    assert [r["model"] for r in bt.rows] == ["m0", "m1", "m2"] and bt.judgment_count == 24
    assert all(r["ci_low"] <= r["rating"] <= r["ci_high"] for r in bt.rows)
    assert bt.diagnostics["models"] == ["m0", "m1", "m2"]
    styled = RatingSnapshot.objects.get(method="bt", style_control=True)
    assert set(styled.style_coefficients) >= {"tokens", "headers", "lists", "bold"}
    # Nothing new: a second refit writes nothing; more resamples do.
    assert services.refit(bootstrap=50) == []
    assert len(services.refit(bootstrap=100)) == 5


def test_only_blind_human_votes_count(models, users):
    _vote(users[:1], models[0], models[1])
    Judgment.objects.update(identities_hidden=False)
    services.refit(bootstrap=0)
    assert RatingSnapshot.objects.get(method="bt", style_control=False).rows == []


def test_a_burst_of_votes_queues_one_live_refit(models, users):
    cache.delete(services.REFIT_QUEUED_KEY)
    queued = []
    with transaction.atomic():
        for _ in range(50):
            services.request_refit()
        queued.append(cache.get(services.REFIT_QUEUED_KEY))
    assert queued == [1]
    # The refit clears the flag first, so the next vote queues the next refit.
    _vote(users[:1], models[0], models[1])
    services.live_refit()
    assert cache.get(services.REFIT_QUEUED_KEY) is None
    assert RatingSnapshot.objects.filter(method="bt").first().judgment_count == 1


@pytest.mark.parametrize(
    "query, message", [("?method=glicko", "method"), ("?method=pl&style_control=1", "Bradley–Terry"), ("?style_control=maybe", "style_control")]
)
def test_leaderboard_api_refuses_bad_views(client, query, message):
    response = client.get("/api/leaderboard/" + query)
    assert response.status_code == 400 and message in response.json()["detail"]


def test_leaderboard_page_refuses_bad_views(client):
    response = client.get("/arena/leaderboard/?method=glicko")
    assert response.status_code == 400 and "Unknown method" in response.content.decode()


def _arena(models, policy, weights):
    arena = Arena.objects.create(name="a", slug=f"a-{policy}", matchmaking=policy)
    for model, weight in zip(models, weights):
        ArenaEntry.objects.create(arena=arena, endpoint=model, weight=weight)
    return arena


def test_weighted_matchmaking_never_draws_a_zero_weight_model(models):
    arena = _arena(models, "weighted", [1.0, 1.0, 0.0])
    drawn = {m.name for _ in range(60) for m in draw_pair(arena)}
    assert drawn == {"m0", "m1"}


def test_disabled_models_are_never_drawn_and_two_are_needed(models):
    arena = _arena(models, "uniform", [1, 1, 1])
    ModelEndpoint.objects.filter(name="m2").update(enabled=False)
    assert {m.name for _ in range(40) for m in draw_pair(arena)} == {"m0", "m1"}
    ModelEndpoint.objects.filter(name="m1").update(enabled=False)
    with pytest.raises(ValueError, match="at least two enabled models"):
        draw_pair(arena)


def test_adaptive_matchmaking_draws_distinct_pairs_in_both_orders(models, users):
    for _ in range(5):
        _vote(users, models[0], models[1])
    services.refit(bootstrap=20)
    arena = _arena(models, "adaptive", [1, 1, 1])
    pairs = [tuple(m.name for m in draw_pair(arena)) for _ in range(200)]
    assert all(a != b for a, b in pairs)
    assert {p[0] for p in pairs} == {"m0", "m1", "m2"}  # sides are random
    # The unseen model m2 is boosted: it appears in most battles.
    assert sum("m2" in p for p in pairs) > 100


def test_campaign_judgments_do_not_move_the_arena_leaderboard(models, users, make_user):
    from tests.test_campaign_fixtures import add_role, make_campaign

    campaign = make_campaign(add_role(make_user("rita"), "researcher"), n_items=1)
    comparison = campaign.items.get().comparison
    record_judgment(comparison, [[0], [1]], annotator=users[0], identities_hidden=True)
    _vote(users[:1], models[0], models[1])
    services.refit(bootstrap=0)
    bt = RatingSnapshot.objects.get(method="bt", style_control=False)
    assert bt.judgment_count == 1 and {r["model"] for r in bt.rows} == {"m0", "m1"}


def test_each_prompt_category_gets_its_own_board(models, users, client):
    from inference.categories import categorize

    assert categorize("Write a haiku about rain") == "creative"
    assert categorize("What is 17 * 23?") == "math"
    assert categorize("Fix this python function") == "coding"
    assert categorize("Why is the sky blue?") == "general"
    _vote(users, models[0], models[1])  # prompt "q": no category
    Prompt.objects.update(category="math")
    _vote(users[:1], models[1], models[2])
    services.refit(bootstrap=0)
    everything = RatingSnapshot.objects.get(method="bt", style_control=False, category="")
    math = RatingSnapshot.objects.get(method="bt", style_control=False, category="math")
    assert everything.judgment_count == 4 and math.judgment_count == 3
    assert client.get("/api/leaderboard/?category=math").json()["judgment_count"] == 3
    body = client.get("/api/leaderboard/?category=poetry")
    assert body.status_code == 400 and "Unknown category" in body.json()["detail"]
    page = client.get("/arena/leaderboard/?category=math").content.decode()
    assert "math prompts only" in page and '<option value="math" selected>' in page


def test_large_live_refits_update_the_counted_views_incrementally(models, users, settings):
    for _ in range(3):
        _vote(users, models[0], models[1])
    services.refit(bootstrap=0)  # a full refit: every view, with diagnostics
    settings.RANKING_LIVE_ALL_VIEWS_UNDER = 5
    services.live_refit()  # reads everything once into this process
    _vote(users[:2], models[1], models[2])
    _vote(users[:1], models[2], models[0])
    written = services.live_refit()  # reads only the 3 new judgments
    assert {(s.method, s.style_control) for s in written if s.category == ""} == {("bt", False), ("pl", False)}
    live_bt = RatingSnapshot.objects.filter(method="bt", style_control=False, category="").first()
    assert live_bt.judgment_count == 12 and live_bt.diagnostics["models"]  # carried forward
    assert RatingSnapshot.objects.filter(method="elo", category="").first().judgment_count == 9  # waits for beat
    # The incremental counts give exactly what a refit from scratch gives (more resamples: a new snapshot).
    services.refit(bootstrap=settings.RANKING_LIVE_BOOTSTRAP + 50)
    full_bt = RatingSnapshot.objects.filter(method="bt", style_control=False, category="").first()
    assert full_bt.pk != live_bt.pk
    assert [(r["model"], round(r["rating"], 6)) for r in full_bt.rows] == [
        (r["model"], round(r["rating"], 6)) for r in live_bt.rows
    ]
    assert RatingSnapshot.objects.filter(method="elo", category="").first().judgment_count == 12
