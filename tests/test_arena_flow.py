"""The arena end to end through its public seams (pages and API), with a real
Celery worker generating with real tiny models and updating the leaderboard."""

import json
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import Judgment
from arena.models import Battle
from inference.models import ModelEndpoint, Response
from tests.conftest import assert_anonymous, battle_finished, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]


def test_battle_via_api_generates_reveals_and_moves_the_leaderboard(api, arena):
    created = api.post("/api/battles/", {"prompt": "the sun is warm"}, format="json")
    assert created.status_code == 201, created.content
    battle_id = created.json()["id"]
    assert [s["model"] for s in created.json()["sides"]] == [None, None]

    body = battle_finished(api, battle_id)
    assert [s["status"] for s in body["sides"]] == ["done", "done"]
    assert all(s["text"] for s in body["sides"])
    assert body["votable"] and body["vote"] is None

    voted = api.post(
        f"/api/battles/{battle_id}/vote/", {"choice": "a", "rationale": "A is clearer."}, format="json"
    )
    assert voted.status_code == 201, voted.content
    revealed = {s["position"]: s["model"] for s in voted.json()["sides"]}
    assert set(revealed.values()) == {"Zephyrine QX7", "Quillon MK4"}
    assert voted.json()["vote"] == "a"

    judgment = Judgment.objects.get()
    assert (
        judgment.ranking == [[0], [1]]
        and judgment.identities_hidden
        and judgment.rationale == "A is clearer."
    )

    # The worker's rank update: A's model gains what B's model loses.
    board = wait_for(
        lambda: (b := api.get("/api/leaderboard/").json())["judgment_count"] == 1 and b, what="ratings"
    )
    rows = {r["model"]: r for r in board["rows"]}
    winner = Battle.objects.get().comparison.slots.get(position=0).response.endpoint.name
    loser = ({"zephyrine-qx7", "quillon-mk4"} - {winner}).pop()
    assert rows[winner]["rating"] > 1000 > rows[loser]["rating"]
    assert rows[winner]["wins"] == 1 and rows[loser]["losses"] == 1 and rows[winner]["n"] == 1
    assert board["rows"][0]["model"] == winner and board["method"] == "bt"
    assert rows[winner]["preliminary"]  # one vote is below the threshold
    # Views are written one after another by the same refit.
    elo = wait_for(
        lambda: (e := api.get("/api/leaderboard/?method=elo").json())["rows"] and e, what="elo view"
    )
    assert elo["rows"][0]["model"] == winner and elo["rows"][0]["rating"] == pytest.approx(1016)


def test_nothing_before_the_vote_names_a_model(api, web, arena):
    page = web.get(reverse("arena:home"))
    assert page.status_code == 200
    assert_anonymous(page.content.decode())

    started = web.post(reverse("arena:start_arena_battle", args=[arena.slug]), {"prompt": "a red bird"})
    assert started.status_code == 302
    for header, value in started.items():
        assert_anonymous(f"{header}: {value}")
    battle_url = started["Location"]
    battle_id = re.search(r"/b/([0-9a-f-]+)/", battle_url).group(1)

    seen = []
    # Every page, poll and JSON answer while the models write, and once they are done.
    while True:
        for response in (
            web.get(battle_url),
            web.get(battle_url, HTTP_HX_REQUEST="true"),
            api.get(f"/api/battles/{battle_id}/"),
        ):
            assert response.status_code == 200
            text = "".join(f"{k}: {v}\n" for k, v in response.items()) + response.content.decode()
            assert_anonymous(text)
            seen.append(text)
        if api.get(f"/api/battles/{battle_id}/").json()["finished"]:
            break
    final = web.get(battle_url).content.decode()
    assert_anonymous(final)
    assert (
        'data-shortcut="a"' in final and "disabled" not in final.split('id="vote-buttons"')[1].split(">")[0]
    )

    voted = web.post(reverse("arena:vote", args=[battle_id]), {"choice": "b"}, HTTP_HX_REQUEST="true")
    assert voted.status_code == 200
    html = voted.content.decode()
    assert "Zephyrine QX7" in html and "Quillon MK4" in html
    assert "You voted" in html and 'id="next-battle"' in html


def test_a_retried_vote_is_idempotent_and_a_different_one_is_refused(api, arena):
    battle_id = api.post("/api/battles/", {"prompt": "one two three"}, format="json").json()["id"]
    battle_finished(api, battle_id)
    url = f"/api/battles/{battle_id}/vote/"
    assert api.post(url, {"choice": "tie"}, format="json").status_code == 201
    again = api.post(url, {"choice": "tie"}, format="json")
    assert again.status_code == 200 and again.json()["vote"] == "tie"
    other = api.post(url, {"choice": "a"}, format="json")
    assert other.status_code == 409
    assert "already voted" in other.json()["detail"]
    assert Judgment.objects.count() == 1 and Judgment.objects.get().ranking == [[0, 1]]


def test_both_bad_is_a_tie_with_the_flag(api, arena):
    battle_id = api.post("/api/battles/", {"prompt": "cold rain"}, format="json").json()["id"]
    battle_finished(api, battle_id)
    assert (
        api.post(f"/api/battles/{battle_id}/vote/", {"choice": "both_bad"}, format="json").status_code == 201
    )
    judgment = Judgment.objects.get()
    assert judgment.ranking == [[0, 1]] and judgment.none_acceptable


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   \n "}, "prompt"),
        ({"prompt": "x" * 4001}, "limit is 4000"),
        ({}, "prompt"),
        ({"prompt": ["a", "b"]}, "prompt"),
    ],
)
def test_bad_prompts_are_refused_with_a_sentence_and_write_nothing(api, arena, body, fragment):
    response = api.post("/api/battles/", body, format="json")
    assert response.status_code == 400
    assert fragment in response.json()["detail"]
    assert not Battle.objects.exists() and not Response.objects.exists()


def test_malformed_json_is_a_400(api, arena):
    response = api.post("/api/battles/", data="{not json", content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]


def test_votes_that_cannot_count(api, arena, make_user):
    battle_id = api.post("/api/battles/", {"prompt": "green tree"}, format="json").json()["id"]

    unknown = api.post(
        "/api/battles/5b1d3a4e-0000-4000-8000-000000000000/vote/", {"choice": "a"}, format="json"
    )
    assert unknown.status_code == 404 and "No battle" in unknown.json()["detail"]
    garbage_id = api.post("/api/battles/not-a-uuid/vote/", {"choice": "a"}, format="json")
    assert garbage_id.status_code == 404

    stranger = APIClient()
    stranger.force_authenticate(make_user("stranger"))
    assert stranger.get(f"/api/battles/{battle_id}/").status_code == 404
    assert stranger.post(f"/api/battles/{battle_id}/vote/", {"choice": "a"}, format="json").status_code == 404

    bad_choice = api.post(f"/api/battles/{battle_id}/vote/", {"choice": "left"}, format="json")
    assert bad_choice.status_code == 400 and "choice" in bad_choice.json()["detail"]

    battle_finished(api, battle_id)
    assert not Judgment.objects.exists()
    anonymous = APIClient().post(f"/api/battles/{battle_id}/vote/", {"choice": "a"}, format="json")
    assert anonymous.status_code in (401, 403)


def test_a_vote_before_the_answers_exist_is_refused(api, arena):
    battle_id = api.post("/api/battles/", {"prompt": "slow river"}, format="json").json()["id"]
    battle_finished(api, battle_id)
    # Put one answer back mid-stream (the worker is done with it, so nothing races this).
    battle = Battle.objects.get(public_id=battle_id)
    Response.objects.filter(slots__comparison=battle.comparison, slots__position=1).update(
        status=Response.Status.RUNNING, text="half an"
    )
    body = api.get(f"/api/battles/{battle_id}/").json()
    assert not body["finished"] and not body["votable"]
    response = api.post(f"/api/battles/{battle_id}/vote/", {"choice": "a"}, format="json")
    assert response.status_code == 409 and "Both answers must finish" in response.json()["detail"]
    assert not Judgment.objects.exists()


def test_a_failed_generation_is_shown_plainly_and_blocks_the_vote(api, web, arena):
    broken = ModelEndpoint.objects.create(name="broken-model", path="/nonexistent/model/dir")
    arena.endpoints.set([broken, arena.endpoints.first()])
    battle_id = api.post("/api/battles/", {"prompt": "dark cloud"}, format="json").json()["id"]
    body = battle_finished(api, battle_id)
    assert body["failed"] and not body["votable"]
    failed = [s for s in body["sides"] if s["status"] == "failed"]
    assert len(failed) == 1 and "cannot be voted on" in failed[0]["message"] and failed[0]["text"] == ""
    # The error detail is for admins only.
    assert "nonexistent" not in json.dumps(body)
    assert "does not exist" in Response.objects.get(status="failed").error

    page = web.get(reverse("arena:battle", args=[battle_id])).content.decode()
    assert "failed to answer" in page and "nonexistent" not in page
    vote = api.post(f"/api/battles/{battle_id}/vote/", {"choice": "a"}, format="json")
    assert vote.status_code == 409 and "cannot be voted on" in vote.json()["detail"]
    html_vote = web.post(reverse("arena:vote", args=[battle_id]), {"choice": "a"}, HTTP_HX_REQUEST="true")
    assert html_vote.status_code == 409 and html_vote["HX-Retarget"] == "#vote-error"
    assert not Judgment.objects.exists()


def test_the_leaderboard_page_shows_votes(api, web, arena):
    assert "No votes yet" in web.get(reverse("arena:leaderboard")).content.decode()
    battle_id = api.post("/api/battles/", {"prompt": "warm light"}, format="json").json()["id"]
    battle_finished(api, battle_id)
    api.post(f"/api/battles/{battle_id}/vote/", {"choice": "b"}, format="json")
    wait_for(lambda: api.get("/api/leaderboard/").json()["judgment_count"] == 1, what="ratings")
    page = web.get(reverse("arena:leaderboard")).content.decode()
    assert (
        "zephyrine-qx7" in page and "quillon-mk4" in page and "1 blind vote" in page and "preliminary" in page
    )
    for view in ("?method=pl", "?method=bayes", "?method=elo", "?method=bt&style_control=1"):
        assert "1 blind vote" in web.get(reverse("arena:leaderboard") + view).content.decode()
    for kind in ("intervals", "heatmap"):
        image = web.get(reverse("arena:leaderboard_image", args=[kind]) + "?method=bt")
        assert image.status_code == 200 and image["Content-Type"] == "image/png"
        assert image.content.startswith(b"\x89PNG") and len(image.content) > 2000


def test_an_answer_that_names_a_model_makes_the_vote_non_blind_and_unrated(api, arena):
    battle_id = api.post("/api/battles/", {"prompt": "who are you"}, format="json").json()["id"]
    battle_finished(api, battle_id)
    battle = Battle.objects.get(public_id=battle_id)
    # As if model B had answered "I am Quillon, ..." (its display-name word is an identity marker).
    endpoint = battle.comparison.slots.get(position=1).response.endpoint
    endpoint.identity_words = ["quillon"] if endpoint.name == "quillon-mk4" else ["zephyrine"]
    endpoint.save()
    Response.objects.filter(slots__comparison=battle.comparison, slots__position=1).update(
        text=f"Hello! I am {endpoint.identity_words[0].capitalize()}, a helpful model."
    )
    assert api.post(f"/api/battles/{battle_id}/vote/", {"choice": "b"}, format="json").status_code == 201
    assert Judgment.objects.get().identities_hidden is False

    # A blind vote afterwards is rated; the non-blind one never is.
    second = api.post("/api/battles/", {"prompt": "blue sky"}, format="json").json()["id"]
    battle_finished(api, second)
    api.post(f"/api/battles/{second}/vote/", {"choice": "a"}, format="json")
    board = wait_for(
        lambda: (b := api.get("/api/leaderboard/").json())["judgment_count"] == 1 and b, what="ratings"
    )
    assert sum(row["n"] for row in board["rows"]) == 2  # one blind judgment, counted for each side


@pytest.mark.parametrize("prompt, sentence", [("", "Type a prompt first"), ("y" * 4001, "the limit is 4000")])
def test_the_page_refuses_a_bad_prompt_with_a_sentence(web, arena, prompt, sentence):
    response = web.post(reverse("arena:start_arena_battle", args=[arena.slug]), {"prompt": prompt})
    assert response.status_code == 400
    assert sentence in response.content.decode()
    assert not Battle.objects.exists()


def test_pages_answer_unknown_battles_and_votes_with_a_404_sentence(web, arena):
    missing = "5b1d3a4e-0000-4000-8000-000000000000"
    page = web.get(reverse("arena:battle", args=[missing]))
    assert page.status_code == 404 and "No battle with this id is open to you" in page.content.decode()
    vote = web.post(reverse("arena:vote", args=["garbage"]), {"choice": "a"}, HTTP_HX_REQUEST="true")
    assert vote.status_code == 404 and vote["HX-Retarget"] == "#vote-error"


def test_the_arena_needs_a_login(client, arena):
    response = client.get(reverse("arena:home"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_one_voter_cannot_flood_the_workers(api, arena, settings):
    settings.ARENA_MAX_OPEN_BATTLES = 1
    first = api.post("/api/battles/", {"prompt": "fish"}, format="json").json()["id"]
    # Hold the first battle "generating" whatever the worker does, so the limit is certain to apply.
    battle = Battle.objects.get(public_id=first)
    battle_finished(api, first)
    Response.objects.filter(slots__comparison=battle.comparison).update(status=Response.Status.RUNNING)
    second = api.post("/api/battles/", {"prompt": "bird"}, format="json")
    assert second.status_code == 429 and "still being answered" in second.json()["detail"]
    assert Battle.objects.count() == 1
    Response.objects.filter(slots__comparison=battle.comparison).update(status=Response.Status.DONE)
    assert api.post("/api/battles/", {"prompt": "bird"}, format="json").status_code == 201


def test_simultaneous_retries_of_one_vote_store_one_judgment(api, arena):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from arena import services

    battle_id = api.post("/api/battles/", {"prompt": "stone road"}, format="json").json()["id"]
    battle_finished(api, battle_id)
    battle = Battle.objects.get(public_id=battle_id)

    def vote(_):
        try:
            return services.cast_vote(battle, battle.voter, "b")[1]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        created = list(pool.map(vote, range(6)))
    assert created.count(True) == 1 and created.count(False) == 5
    assert Judgment.objects.count() == 1


def test_a_prompt_answered_by_a_pool_battles_at_once(api, arena):
    from inference.models import Prompt

    conversation = [{"role": "user", "content": "Name a warm colour."}]
    prompt = Prompt.objects.create(conversation=conversation)
    for endpoint in arena.endpoints.all():
        Response.objects.create(
            prompt=prompt, endpoint=endpoint, status="done", pooled=True, text=f"pooled answer {endpoint.pk}"
        )
    before = Response.objects.count()
    body = api.post("/api/battles/", {"prompt": "  Name a warm colour. "}, format="json").json()
    assert body["finished"] and body["votable"]  # nothing to wait for
    assert sorted(s["text"] for s in body["sides"]) == sorted(
        f"pooled answer {e.pk}" for e in arena.endpoints.all()
    )
    assert Response.objects.count() == before  # nothing generated
    assert api.post(f"/api/battles/{body['id']}/vote/", {"choice": "a"}, format="json").status_code == 201
