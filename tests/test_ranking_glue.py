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
from ranking.glue import refits, style_features
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
    written = refits.refit(bootstrap=50)
    views = {(s.method, s.style_control) for s in written}
    assert views == {("bt", False), ("bt", True), ("pl", False), ("bayes", False), ("elo", False)}
    bt = RatingSnapshot.objects.get(method="bt", style_control=False)
    assert [r["model"] for r in bt.rows] == ["m0", "m1", "m2"] and bt.judgment_count == 24
    assert all(r["ci_low"] <= r["rating"] <= r["ci_high"] for r in bt.rows)
    assert bt.diagnostics["models"] == ["m0", "m1", "m2"]
    styled = RatingSnapshot.objects.get(method="bt", style_control=True)
    assert set(styled.style_coefficients) >= {"tokens", "headers", "lists", "bold"}
    # Nothing new: a second refit writes nothing; more resamples do.
    assert refits.refit(bootstrap=50) == []
    assert len(refits.refit(bootstrap=100)) == 5


def test_only_blind_human_votes_count(models, users):
    _vote(users[:1], models[0], models[1])
    Judgment.objects.update(identities_hidden=False)
    refits.refit(bootstrap=0)
    assert RatingSnapshot.objects.get(method="bt", style_control=False).rows == []


def test_a_burst_of_votes_queues_one_live_refit(models, users):
    cache.delete(refits.REFIT_QUEUED_KEY)
    queued = []
    with transaction.atomic():
        for _ in range(50):
            services.request_refit()
        queued.append(cache.get(refits.REFIT_QUEUED_KEY))
    assert queued == [1]
    # The refit clears the flag first, so the next vote queues the next refit.
    _vote(users[:1], models[0], models[1])
    refits.live_refit()
    assert cache.get(refits.REFIT_QUEUED_KEY) is None
    assert RatingSnapshot.objects.filter(method="bt").first().judgment_count == 1


@pytest.mark.parametrize(
    "query, message",
    [
        ("?method=glicko", "method"),
        ("?method=pl&style_control=1", "Bradley–Terry"),
        ("?style_control=maybe", "style_control"),
    ],
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
    refits.refit(bootstrap=20)
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
    refits.refit(bootstrap=0)
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
    refits.refit(bootstrap=0)
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
    refits.refit(bootstrap=0)  # a full refit: every view, with diagnostics
    settings.RANKING_LIVE_ALL_VIEWS_UNDER = 5
    refits.live_refit()  # reads everything once into this process
    _vote(users[:2], models[1], models[2])
    _vote(users[:1], models[2], models[0])
    written = refits.live_refit()  # reads only the 3 new judgments
    assert {(s.method, s.style_control) for s in written if s.category == ""} == {
        ("bt", False),
        ("pl", False),
    }
    live_bt = RatingSnapshot.objects.filter(method="bt", style_control=False, category="").first()
    assert live_bt.judgment_count == 12 and live_bt.diagnostics["models"]  # carried forward
    assert (
        RatingSnapshot.objects.filter(method="elo", category="").first().judgment_count == 9
    )  # waits for beat
    # The incremental counts give exactly what a refit from scratch gives (more resamples: a new snapshot).
    refits.refit(bootstrap=settings.RANKING_LIVE_BOOTSTRAP + 50)
    full_bt = RatingSnapshot.objects.filter(method="bt", style_control=False, category="").first()
    assert full_bt.pk != live_bt.pk
    assert [(r["model"], round(r["rating"], 6)) for r in full_bt.rows] == [
        (r["model"], round(r["rating"], 6)) for r in live_bt.rows
    ]
    assert RatingSnapshot.objects.filter(method="elo", category="").first().judgment_count == 12


def _latest(method="bt", style_control=False, category=""):
    return RatingSnapshot.objects.filter(
        method=method, style_control=style_control, category=category
    ).first()


def test_full_refit_read_matches_the_judgments_rankings_categories_and_texts(models, users):
    from annotation.selectors import judged_rankings, response_texts

    _vote(users[:2], models[0], models[1], text_w="## Head\n- a\n**b** words here", text_l="short")
    Prompt.objects.update(category="math")
    _vote(users[:1], models[2], models[0])
    rows = list(judged_rankings())
    expected = []
    for judgment in Judgment.objects.order_by("id"):
        slots = {s.position: s.response for s in judgment.comparison.slots.all()}
        names = {p: r.endpoint.name for p, r in slots.items()}
        texts = {names[p]: r.text for p, r in slots.items()}
        expected.append(
            (
                judgment.pk,
                [[names[p] for p in g] for g in judgment.ranking],
                judgment.comparison.prompt.category,
                texts,
            )
        )
    got = []
    for row in rows:
        texts = response_texts(row.response_ids)
        got.append(
            (
                row.judgment_id,
                [list(g) for g in row.ranking],
                row.category,
                {m: texts[rid][0] for m, rid in zip(row.models, row.response_ids)},
            )
        )
    assert got == expected and len(got) == 3
    assert [r.category for r in rows] == ["math", "math", ""]
    # Only new ids, or just the ones asked for.
    assert [r.judgment_id for r in judged_rankings(after_id=rows[0].judgment_id)] == [
        r.judgment_id for r in rows[1:]
    ]
    assert [r.judgment_id for r in judged_rankings(ids=[rows[2].judgment_id])] == [rows[2].judgment_id]


def test_live_refit_has_laplace_intervals_until_the_full_refit_bootstraps(models, users, settings, client):
    for _ in range(3):
        _vote(users, models[0], models[1])
        _vote(users, models[1], models[2])
    settings.RANKING_LIVE_ALL_VIEWS_UNDER = 1
    refits.refit(bootstrap=0)
    _vote(users[:1], models[2], models[0])
    refits.live_refit()
    live = _latest()
    assert live.bootstrap == 0 and live.params["interval"] == "laplace"
    assert all(r["ci_low"] < r["rating"] < r["ci_high"] for r in live.rows)  # real intervals, not points
    body = client.get("/api/leaderboard/").json()
    assert body["interval"] == "laplace" and body["bootstrap"] == 0
    assert "Laplace" in client.get("/arena/leaderboard/").content.decode()
    refits.refit(bootstrap=40)
    full = _latest()
    assert full.pk != live.pk and full.bootstrap == 40 and full.params["interval"] == "bootstrap"
    assert full.judgment_count == live.judgment_count
    assert client.get("/api/leaderboard/").json()["interval"] == "bootstrap"
    assert "40 bootstrap resamples" in client.get("/arena/leaderboard/").content.decode()
    assert _latest("elo").bootstrap == min(40, settings.RANKING_ELO_BOOTSTRAP)
    assert _latest("bayes").params["interval"] == "posterior"


def test_a_vote_committed_out_of_id_order_is_still_counted(models, users, settings):
    """A vote's id is taken at insert but it becomes visible at commit: the live refit looks back."""
    settings.RANKING_LIVE_ALL_VIEWS_UNDER = 1
    _vote(users[:1], models[0], models[1])
    refits.refit(bootstrap=0)
    _vote(users[:1], models[1], models[2])
    late = Judgment.objects.order_by("-id").first()
    # Take the newest vote away as if its transaction had not committed yet (no refit saw it),
    # then a later vote commits with a higher id and is read.
    ranking, comparison_id, annotator_id = late.ranking, late.comparison_id, late.annotator_id
    late.delete()
    refits.live_refit()
    _vote(users[:1], models[2], models[0])
    refits.live_refit()
    assert _latest().judgment_count == 2
    later = Judgment.objects.order_by("-id").first()
    # The late vote commits now, with an id below one already read.
    Judgment.objects.create(
        id=later.pk - 1,
        comparison_id=comparison_id,
        ranking=ranking,
        source="human",
        annotator_id=annotator_id,
        identities_hidden=True,
    )
    refits.live_refit()
    live = _latest()
    assert live.judgment_count == 3 and live.last_judgment_id == later.pk
    assert {r["model"]: r["n"] for r in live.rows} == {"m0": 2, "m1": 2, "m2": 2}


def test_an_edited_or_deleted_judgment_makes_the_next_live_refit_read_all(
    models, users, settings, django_capture_on_commit_callbacks
):
    settings.RANKING_LIVE_ALL_VIEWS_UNDER = 1
    for _ in range(2):
        _vote(users[:1], models[0], models[1])
    refits.refit(bootstrap=0)
    refits.live_refit()
    assert [r["model"] for r in _latest().rows] == ["m0", "m1"]
    # An admin corrects both votes: m1 won. The edit sends a signal; the counts are re-read.
    with django_capture_on_commit_callbacks(execute=True):
        for judgment in Judgment.objects.all():
            judgment.ranking = [[1], [0]]
            judgment.save()
    refits.live_refit()
    assert [r["model"] for r in _latest().rows] == ["m1", "m0"] and _latest().judgment_count == 2
    with django_capture_on_commit_callbacks(execute=True):
        Judgment.objects.order_by("id").first().delete()
    refits.live_refit()
    assert _latest().judgment_count == 1
    # The full refit rewrites the views the live refit left (same count as before the edit, new epoch).
    assert {(s.method, s.style_control) for s in refits.refit(bootstrap=0) if s.category == ""} == {
        ("bt", True),
        ("bayes", False),
        ("elo", False),
    }
    assert refits.refit(bootstrap=0) == []


def test_a_vote_removed_without_a_signal_is_noticed_by_the_live_refit(models, users, settings):
    settings.RANKING_LIVE_ALL_VIEWS_UNDER = 1
    for _ in range(2):
        _vote(users[:1], models[0], models[1])
    refits.refit(bootstrap=0)
    Judgment.objects.filter(pk=Judgment.objects.order_by("id").first().pk)._raw_delete(using="default")
    _vote(users[:1], models[1], models[2])
    refits.live_refit()
    assert _latest().judgment_count == 2  # not 3: the ledger saw a counted vote vanish and read again


def test_style_features_are_stored_for_finished_answers_only(models, users):
    from ranking.models import ResponseStyle
    from ranking.style import markdown_features

    _vote(
        users[:2], models[0], models[1], text_w="## Title\n- a\n- b\n**bold** " + "word " * 30, text_l="Meh."
    )
    Response.objects.filter(endpoint=models[1]).update(status="running")  # still streaming: may grow
    refits.refit(bootstrap=0)
    winner = Response.objects.get(endpoint=models[0])
    style = ResponseStyle.objects.get(response_id=winner.pk)
    assert {f: getattr(style, f) for f in ("tokens", "headers", "lists", "bold")} == markdown_features(
        winner.text
    )
    assert (style.headers, style.lists, style.bold) == (1, 2, 1)
    assert ResponseStyle.objects.count() == 1
    assert _latest(style_control=True).style_coefficients is not None


def test_style_table_looks_up_features_in_vote_order_and_keeps_only_finished_answers(models, users):
    import numpy as np

    from ranking.models import ResponseStyle
    from ranking.style import FEATURES, markdown_features

    _vote(
        users[:2], models[0], models[1], text_w="## Title\n- a\n- b\n**bold** " + "word " * 30, text_l="Meh."
    )
    done = Response.objects.get(endpoint=models[0])
    growing = Response.objects.get(endpoint=models[1])
    Response.objects.filter(pk=growing.pk).update(status="running")
    table = style_features.StyleTable()
    rids = np.array([growing.pk, done.pk, growing.pk, done.pk], dtype=np.int64)  # unsorted, repeated
    expected = [[markdown_features(r.text)[f] for f in FEATURES] for r in (growing, done, growing, done)]
    assert table.lookup(rids).tolist() == expected
    assert table.ids.tolist() == [done.pk]  # the answer still being written is not kept
    assert not ResponseStyle.objects.exists()  # a lookup only reads
    assert table.save() == 1 and table.save() == 0
    assert list(ResponseStyle.objects.values_list("response_id", flat=True)) == [done.pk]
    Response.objects.filter(pk=growing.pk).update(text="Longer now, with **bold**.", status="done")
    growing.refresh_from_db()
    assert table.lookup(rids[:2]).tolist()[0] == [markdown_features(growing.text)[f] for f in FEATURES]
    assert sorted(table.ids.tolist()) == sorted([done.pk, growing.pk])


def test_a_ranking_written_around_the_services_rates_nothing_and_breaks_nothing(
    models, users, django_user_model
):
    _vote(users[:2], models[0], models[1])
    comparison = Judgment.objects.first().comparison
    for ranking in ([[0], [5]], [[0], [0]], [["0"], ["1"]], [[0]], {"0": 1}):
        outsider = django_user_model.objects.create_user(f"raw-{Judgment.objects.count()}")
        Judgment.objects.create(
            comparison=comparison, ranking=ranking, source="human", annotator=outsider, identities_hidden=True
        )
    refits.refit(bootstrap=0)
    assert _latest().judgment_count == 2  # only the two votes the service recorded
    refits.live_refit()
    assert _latest().judgment_count == 2


@pytest.mark.django_db(transaction=True)
def test_a_starting_worker_that_runs_ranking_warms_its_ledger_on_a_side_thread(models, users):
    import threading
    from types import SimpleNamespace

    from ranking.tasks import warm_up_ranking_ledger

    _vote(users[:2], models[0], models[1])

    def sender(queues, pool_module):
        pool = type("TaskPool", (), {"__module__": pool_module})()
        return SimpleNamespace(
            app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=queues))), pool=pool
        )

    def warmers():
        return [t for t in threading.enumerate() if t.name == "ranking-warm-up"]

    warm_up_ranking_ledger(sender({"inference": None}, "celery.concurrency.thread"))  # a GPU-only worker
    warm_up_ranking_ledger(sender(None, "celery.concurrency.prefork"))  # the parent serves no task
    assert not warmers() and refits._ledger is None

    warm_up_ranking_ledger(sender({"ranking": None, "default": None}, "celery.concurrency.thread"))
    for thread in warmers():
        thread.join(timeout=30)
    assert refits._ledger is not None and refits._ledger.count == 2
    refits.live_refit()  # from the warm ledger: nothing new to read, every view written
    assert _latest().judgment_count == 2
