"""Multi-turn arena battles (issue 14 §2) through the API and the pages, with a real worker and tiny
real models: follow-ups answered by each contestant with its own history, one blind vote on the whole
conversation, self-identification checked on every turn, and the context bound."""

import re

import pytest
from django.urls import reverse

from annotation.models import Judgment
from arena.models import Arena, ArenaEntry, Battle, BattleTurn
from inference.models import Prompt, Response
from tests.conftest import assert_anonymous, battle_finished, scan_until_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]


def test_a_follow_up_is_answered_with_each_models_own_history_and_one_vote_covers_it(api, web, arena):
    started = web.post(reverse("arena:start_arena_battle", args=[arena.slug]), {"prompt": "the sun is warm"})
    battle_url = started["Location"]
    battle_id = re.search(r"/b/([0-9a-f-]+)/", battle_url).group(1)
    scan_until_finished(web, api, battle_url, battle_id)
    first = api.get(f"/api/battles/{battle_id}/").json()
    assert first["can_follow_up"] and first["turns_left"] == 4

    sent = web.post(
        reverse("arena:follow_up", args=[battle_id]), {"message": "and the moon"}, HTTP_HX_REQUEST="true"
    )
    assert sent.status_code == 200
    assert_anonymous(sent.content.decode())
    scan_until_finished(web, api, battle_url, battle_id)
    body = api.get(f"/api/battles/{battle_id}/").json()
    assert [t["message"] for t in body["turns"]] == ["the sun is warm", "and the moon"]
    assert body["sides"] == body["turns"][1]["sides"] and all(s["text"] for s in body["sides"])
    assert body["turns_left"] == 3

    # Each contestant saw its own earlier answer, not the other's.
    battle = Battle.objects.get(public_id=battle_id)
    turn0, turn1 = battle.turns.all()
    for a0, a1 in zip(turn0.answers.order_by("position"), turn1.answers.order_by("position")):
        assert a1.response.endpoint_id == a0.response.endpoint_id
        assert a1.response.prompt.conversation == [
            {"role": "user", "content": "the sun is warm"},
            {"role": "assistant", "content": a0.response.text},
            {"role": "user", "content": "and the moon"},
        ]

    voted = api.post(f"/api/battles/{battle_id}/vote/", {"choice": "b"}, format="json")
    assert voted.status_code == 201
    revealed = voted.json()
    assert all(s["model"] for t in revealed["turns"] for s in t["sides"])
    judgment = Judgment.objects.get()
    assert (
        judgment.comparison_id == battle.comparison_id
        and judgment.ranking == [[1], [0]]
        and judgment.identities_hidden
    )
    page = web.get(battle_url).content.decode()
    assert page.count("Zephyrine QX7") == 2 and page.count("Quillon MK4") == 2  # both turns revealed
    # The vote closed the conversation.
    late = api.post(f"/api/battles/{battle_id}/follow-up/", {"message": "one more"}, format="json")
    assert late.status_code == 409 and "start a new battle" in late.json()["detail"]


def test_follow_ups_are_refused_with_a_sentence_and_leave_nothing_behind(api, arena):
    Arena.objects.filter(pk=arena.pk).update(max_turns=2)
    battle_id = api.post("/api/battles/", {"prompt": "one two three"}, format="json").json()["id"]
    battle = Battle.objects.get(public_id=battle_id)
    battle_finished(api, battle_id)
    url = f"/api/battles/{battle_id}/follow-up/"

    # An answer still streaming: wait first.
    response = battle.turns.get().answers.get(position=1).response
    Response.objects.filter(pk=response.pk).update(status=Response.Status.RUNNING)
    busy = api.post(url, {"message": "go on"}, format="json")
    assert busy.status_code == 409 and "must finish before you send a follow-up" in busy.json()["detail"]
    Response.objects.filter(pk=response.pk).update(status=Response.Status.DONE)

    # Too long for one model: the sentence does not say which one, and nothing is written.
    ArenaEntry.objects.filter(arena=arena, endpoint=response.endpoint).update(max_context_chars=20)
    prompts = Prompt.objects.count()
    long = api.post(url, {"message": "a longer follow-up message"}, format="json")
    assert long.status_code == 400 and "grown too long for one of the models" in str(long.json())
    assert_anonymous(str(long.json()))
    assert BattleTurn.objects.filter(battle=battle).count() == 1 and Prompt.objects.count() == prompts
    ArenaEntry.objects.filter(arena=arena).update(max_context_chars=None)

    # Within every character bound, but past the tiny models' 512-token window (counted with their tokenizer).
    too_many_tokens = api.post(url, {"message": " ".join(["sun"] * 600)}, format="json")
    assert too_many_tokens.status_code == 400 and "grown too long" in str(too_many_tokens.json())
    assert BattleTurn.objects.filter(battle=battle).count() == 1 and Prompt.objects.count() == prompts

    # This arena takes no per-turn vote.
    per_turn = api.post(url, {"message": "go on", "turn_ranking": [[0], [1]]}, format="json")
    assert per_turn.status_code == 400 and "not a vote per turn" in str(per_turn.json())
    assert api.post(url, {"message": "", "turn_ranking": None}, format="json").status_code == 400

    assert api.post(url, {"message": "go on"}, format="json").status_code == 201
    battle_finished(api, battle_id)
    used_up = api.post(url, {"message": "and on"}, format="json")
    assert used_up.status_code == 409 and "allows 2 messages per battle" in used_up.json()["detail"]


def test_a_per_turn_vote_is_kept_on_its_turn(api, arena):
    Arena.objects.filter(pk=arena.pk).update(per_turn_vote=True)
    battle_id = api.post("/api/battles/", {"prompt": "red bird"}, format="json").json()["id"]
    battle_finished(api, battle_id)
    bad = api.post(
        f"/api/battles/{battle_id}/follow-up/", {"message": "why", "turn_ranking": [[0]]}, format="json"
    )
    assert bad.status_code == 400 and "missing positions: [1]" in str(bad.json())
    ok = api.post(
        f"/api/battles/{battle_id}/follow-up/", {"message": "why", "turn_ranking": [[0, 1]]}, format="json"
    )
    assert ok.status_code == 201
    assert ok.json()["turns"][0]["ranking"] == [[0, 1]]
    assert BattleTurn.objects.get(index=0).ranking == [[0, 1]]
    assert not Judgment.objects.exists()  # a per-turn vote is not the battle's vote


def test_a_model_that_names_itself_on_a_later_turn_makes_the_vote_not_blind(api, arena):
    battle_id = api.post("/api/battles/", {"prompt": "hello"}, format="json").json()["id"]
    battle_finished(api, battle_id)
    assert (
        api.post(
            f"/api/battles/{battle_id}/follow-up/", {"message": "who are you"}, format="json"
        ).status_code
        == 201
    )
    battle_finished(api, battle_id)
    later = BattleTurn.objects.get(index=1).answers.get(position=0).response
    Response.objects.filter(pk=later.pk).update(text=f"I am {later.endpoint.display_name}.")
    assert api.post(f"/api/battles/{battle_id}/vote/", {"choice": "a"}, format="json").status_code == 201
    assert not Judgment.objects.get().identities_hidden


def test_dpo_chat_writes_the_whole_conversation_both_ways(api, arena, tmp_path):
    """The opening is the prompt; each side's answers and the follow-up are chosen and rejected. The
    columnar path and the row path write the same bytes; other formats keep the first answers."""
    import json

    from export.services import export_preferences

    battle_id = api.post("/api/battles/", {"prompt": "the sun is warm"}, format="json").json()["id"]
    battle_finished(api, battle_id)
    assert (
        api.post(
            f"/api/battles/{battle_id}/follow-up/", {"message": "and the moon"}, format="json"
        ).status_code
        == 201
    )
    body = battle_finished(api, battle_id)
    assert api.post(f"/api/battles/{battle_id}/vote/", {"choice": "b"}, format="json").status_code == 201
    first, second = body["turns"]

    columns = export_preferences({"format": "dpo-chat", "file_format": "jsonl"}, tmp_path / "columns")
    export_preferences({"format": "dpo-chat", "file_format": "jsonl"}, tmp_path / "rows", columnar=False)
    [name] = [n for n in columns["files"] if n.endswith(".jsonl")]
    assert (tmp_path / "columns" / name).read_bytes() == (tmp_path / "rows" / name).read_bytes()
    [row] = [json.loads(line) for line in (tmp_path / "rows" / name).read_text().splitlines()]
    assert row["prompt"] == [{"role": "user", "content": "the sun is warm"}]
    for side, position in (("chosen", 1), ("rejected", 0)):
        assert row[side] == [
            {"role": "assistant", "content": first["sides"][position]["text"]},
            {"role": "user", "content": "and the moon"},
            {"role": "assistant", "content": second["sides"][position]["text"]},
        ]
    dpo = export_preferences({"format": "dpo", "file_format": "jsonl"}, tmp_path / "dpo", columnar=False)
    [plain] = [
        json.loads(line)
        for n in dpo["files"]
        if n.endswith(".jsonl")
        for line in (tmp_path / "dpo" / n).read_text().splitlines()
    ]
    assert plain["prompt"] == "the sun is warm" and plain["chosen"] == first["sides"][1]["text"]


def test_the_page_offers_a_per_turn_vote_at_every_k(api, web, arena_k4):
    Arena.objects.filter(pk=arena_k4.pk).update(per_turn_vote=True)
    started = web.post(reverse("arena:start_arena_battle", args=[arena_k4.slug]), {"prompt": "a blue fish"})
    battle_url = started["Location"]
    battle_id = re.search(r"/b/([0-9a-f-]+)/", battle_url).group(1)
    scan_until_finished(web, api, battle_url, battle_id)
    page = web.get(battle_url).content.decode()
    choices = dict(
        (label, value.replace("&quot;", '"'))
        for value, label in re.findall(r'name="turn_ranking" value="([^"]*)"> ([^<]+)</label>', page)
    )
    assert set(choices) == {"A was best", "B was best", "C was best", "D was best", "All the same"}
    assert 'name="turn_ranking" value="" checked> Skip' in page  # optional: skipping is the default
    assert_anonymous(page)

    sent = web.post(
        reverse("arena:follow_up", args=[battle_id]),
        {"message": "and a green one", "turn_ranking": choices["C was best"]},
        HTTP_HX_REQUEST="true",
    )
    assert sent.status_code == 200
    assert BattleTurn.objects.get(battle__public_id=battle_id, index=0).ranking == [[2], [0, 1, 3]]
    assert not Judgment.objects.exists()  # a per-turn vote is not the battle's vote
