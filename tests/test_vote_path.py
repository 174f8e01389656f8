"""The vote path stays bounded: every round trip costs the most when the database is busy
(bench/vote_ingestion.py). A vote in a one-turn arena is four queries: the token, the battle (with its
arena, prompt and the voter's guest row), its answers on every turn in one read, and the judgment as one
INSERT in autocommit; its rate limits are one Redis round trip. A multi-turn arena adds the battle's lock
(a vote and a follow-up never interleave) and the transaction around it."""

import pytest
from rest_framework.authtoken.models import Token

from annotation.models import Judgment
from arena.models import Arena
from inference.models import ModelEndpoint
from tests.live_platform import finished_battles

# Transactional: requests run in autocommit, as in production (a test transaction would add savepoints).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "max_turns, queries",
    [
        (1, 4),  # token, battle, answers, INSERT
        (5, 8),  # token, battle, BEGIN, answers with the battle's lock, SAVEPOINT, INSERT, RELEASE, COMMIT
    ],
)
def test_a_vote_takes_a_bounded_number_of_queries_and_its_retry_is_still_one_judgment(
    client, make_user, tiny_model_dirs, django_assert_max_num_queries, max_turns, queries
):
    endpoints = [ModelEndpoint.objects.create(name=f"lean-{i}", path=str(tiny_model_dirs[i])) for i in (0, 1)]
    arena = Arena.objects.create(name="Lean", slug="lean", max_turns=max_turns)
    voter = make_user(f"lean-voter-{max_turns}")
    token = Token.objects.create(user=voter).key
    battles = finished_battles(arena, voter, 2, endpoints)
    headers = {"HTTP_AUTHORIZATION": f"Token {token}", "content_type": "application/json"}
    client.post(f"/api/battles/{battles[0].public_id}/vote/", {"choice": "a"}, **headers)  # warm caches
    with django_assert_max_num_queries(queries):
        response = client.post(f"/api/battles/{battles[1].public_id}/vote/", {"choice": "b"}, **headers)
    assert response.status_code == 201 and response.json()["vote"] == "b"
    assert all(side["model"] for side in response.json()["sides"])  # revealed by the same response
    retry = client.post(f"/api/battles/{battles[1].public_id}/vote/", {"choice": "b"}, **headers)
    assert retry.status_code == 200 and Judgment.objects.filter(comparison=battles[1].comparison).count() == 1


def test_the_vote_answers_exactly_what_the_battle_serializer_would(make_user, tiny_model_dirs):
    from arena import selectors, services
    from arena.serializers import BattleSerializer, battle_data

    endpoints = [ModelEndpoint.objects.create(name=f"same-{i}", path=str(tiny_model_dirs[i])) for i in (0, 1)]
    arena = Arena.objects.create(name="Same", slug="same", per_turn_vote=True)
    voter = make_user("same-voter")
    [battle] = finished_battles(arena, voter, 1, endpoints)
    battle = services.get_battle(battle.public_id, voter)
    unvoted = selectors.battle_payload(battle, voter)
    assert battle_data(unvoted) == BattleSerializer(unvoted).data and unvoted["votable"]
    judgment, _ = services.cast_vote(battle, voter, ranking=[[1], [0]], rationale=" because ")
    voted = selectors.battle_payload(battle, voter, judgment)
    assert battle_data(voted) == BattleSerializer(voted).data
    assert voted["vote"] == "b" and voted["sides"][0]["model"] and voted["rationale"] == "because"
