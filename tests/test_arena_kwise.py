"""K-wise arena battles (issue 14 §1) through the public seams, with a real worker and tiny real models:
four anonymous answers, one ranking with a tie stored as one Judgment, every rating method counting it."""

import re

import pytest
from django.urls import reverse

from annotation.models import Judgment
from arena.models import Arena, Battle
from arena.services import draw_models
from tests.conftest import assert_anonymous, battle_finished, scan_until_finished, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]
WORKER = pytest.mark.usefixtures("celery_worker_process")
FOUR = {"Zephyrine QX7", "Quillon MK4", "Vorpalyn TZ5", "Brindlewick J9"}


def test_the_draw_gives_k_distinct_models_by_each_policy(arena_k4):
    for policy in ("uniform", "weighted", "adaptive"):
        Arena.objects.filter(pk=arena_k4.pk).update(matchmaking=policy)
        arena_k4.refresh_from_db()
        for _ in range(10):
            names = [m.name for m in draw_models(arena_k4)]
            assert len(names) == 4 and len(set(names)) == 4
    # One model in an outage: a K=4 arena of four cannot draw, and says why.
    arena_k4.entries.filter(endpoint__name="quillon-mk4").update(weight=0)
    with pytest.raises(ValueError, match="at least four models with a weight above 0"):
        draw_models(arena_k4)


def test_k_must_be_between_2_and_6(arena):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Arena.objects.filter(pk=arena.pk).update(k=7)
    Arena.objects.filter(pk=arena.pk).update(k=3)
    arena.refresh_from_db()
    with pytest.raises(ValueError, match="at least three enabled models"):
        draw_models(arena)


@WORKER
def test_a_k4_battle_is_ranked_with_a_tie_and_counted_by_every_method(api, arena_k4):
    created = api.post("/api/battles/", {"prompt": "the moon and the sun", "arena": "four"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["k"] == 4 and [s["position"] for s in body["sides"]] == ["A", "B", "C", "D"]
    assert [s["model"] for s in body["sides"]] == [None] * 4
    battle_id = body["id"]
    body = battle_finished(api, battle_id)
    assert all(s["status"] == "done" and s["text"] for s in body["sides"])
    assert_anonymous(str(body))

    url = f"/api/battles/{battle_id}/vote/"
    # A pairwise choice means nothing among four answers; a ranking that leaves one out is refused.
    refused = api.post(url, {"choice": "a"}, format="json")
    assert refused.status_code == 400 and "send a ranking" in str(refused.json())
    partial = api.post(url, {"ranking": [[2], [0, 3]]}, format="json")
    assert partial.status_code == 400 and "missing positions: [1]" in str(partial.json())
    twice = api.post(url, {"ranking": [[2], [0, 2], [1, 3]]}, format="json")
    assert twice.status_code == 400 and "more than once" in str(twice.json())
    assert not Judgment.objects.exists()

    voted = api.post(url, {"ranking": [[2], [0, 3], [1]], "rationale": "C was best."}, format="json")
    assert voted.status_code == 201, voted.content
    revealed = voted.json()
    assert {s["model"] for s in revealed["sides"]} == FOUR
    assert revealed["ranking"] == [[2], [0, 3], [1]] and revealed["ranking_text"] == "C > A = D > B"
    assert revealed["vote"] is None
    assert (
        api.post(url, {"ranking": [[2], [0, 3], [1]], "rationale": "C was best."}, format="json").status_code
        == 200
    )

    judgment = Judgment.objects.get()
    assert judgment.ranking == [[2], [0, 3], [1]] and judgment.identities_hidden
    slots = {s.position: s.response.endpoint.name for s in Battle.objects.get().comparison.slots.all()}
    best, tied, worst = slots[2], {slots[0], slots[3]}, slots[1]

    # Counted by PL and Bayes directly, by BT through rank-breaking: the best leads and the worst trails everywhere.
    for method in ("bt", "pl", "bayes", "elo"):
        board = wait_for(
            lambda method=method: (
                (b := api.get(f"/api/leaderboard/?method={method}").json())["judgment_count"] == 1 and b
            ),
            what=f"the {method} board",
        )
        order = [r["model"] for r in board["rows"]]
        assert set(order) == {best, worst, *tied}, method
        assert order[0] == best and order[-1] == worst and set(order[1:3]) == tied, (method, order)
    bt = {r["model"]: r for r in api.get("/api/leaderboard/?method=bt").json()["rows"]}
    # Rank-breaking: the winner beat three, the tied pair drew with each other, and the last lost three.
    assert (bt[best]["wins"], bt[best]["losses"]) == (3, 0)
    assert bt[worst]["losses"] == 3 and all(bt[m]["ties"] == 1 for m in tied)


@WORKER
def test_all_bad_alone_ties_every_answer(api, arena_k4):
    battle_id = api.post("/api/battles/", {"prompt": "cold rain", "arena": "four"}, format="json").json()[
        "id"
    ]
    battle_finished(api, battle_id)
    voted = api.post(f"/api/battles/{battle_id}/vote/", {"none_acceptable": True}, format="json")
    assert voted.status_code == 201, voted.content
    judgment = Judgment.objects.get()
    assert judgment.ranking == [[0, 1, 2, 3]] and judgment.none_acceptable


@WORKER
def test_nothing_before_a_k4_vote_names_a_model(api, web, arena_k4):
    assert_anonymous(web.get(reverse("arena:arena", args=[arena_k4.slug])).content.decode())
    started = web.post(reverse("arena:start_arena_battle", args=[arena_k4.slug]), {"prompt": "a red bird"})
    assert started.status_code == 302
    battle_url = started["Location"]
    battle_id = re.search(r"/b/([0-9a-f-]+)/", battle_url).group(1)
    scan_until_finished(web, api, battle_url, battle_id)
    final = web.get(battle_url).content.decode()
    assert_anonymous(final)
    assert "rank-widget" in final and 'data-k="4"' in final and "data-rank-form" in final
    # A bad posted ranking comes back as a sentence, and nothing is stored.
    bad = web.post(reverse("arena:vote", args=[battle_id]), {"ranking": "[[0], [1]]"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and "missing positions: [2, 3]" in bad.content.decode()
    assert not Judgment.objects.exists()
    voted = web.post(
        reverse("arena:vote", args=[battle_id]), {"ranking": "[[3], [0, 1], [2]]"}, HTTP_HX_REQUEST="true"
    )
    html = voted.content.decode()
    assert voted.status_code == 200 and all(name in html for name in FOUR)
    assert "D &gt; A = B &gt; C" in html
