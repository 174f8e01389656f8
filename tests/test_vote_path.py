"""The vote path stays bounded: every round trip costs the most when the database is busy
(bench/vote_ingestion.py). Before multi-turn battles a vote was three queries (token, the battle with its
answers, one INSERT); the turn-aware vote locks its battle (a vote and a follow-up never interleave) and
reads its turns, which makes it 13 today. Bringing it back down is open work (issue 11, section 5)."""

import pytest
from rest_framework.authtoken.models import Token

from annotation.models import Judgment
from arena.models import Arena
from inference.models import ModelEndpoint
from tests.live_platform import finished_battles

# Transactional: requests run in autocommit, as in production (a test transaction would add savepoints).
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_vote_takes_a_bounded_number_of_queries_and_its_retry_is_still_one_judgment(
    client, make_user, tiny_model_dirs, django_assert_max_num_queries
):
    endpoints = [ModelEndpoint.objects.create(name=f"lean-{i}", path=str(tiny_model_dirs[i])) for i in (0, 1)]
    arena = Arena.objects.create(name="Lean", slug="lean")
    voter = make_user("lean-voter")
    token = Token.objects.create(user=voter).key
    battles = finished_battles(arena, voter, 2, endpoints)
    headers = {"HTTP_AUTHORIZATION": f"Token {token}", "content_type": "application/json"}
    client.post(f"/api/battles/{battles[0].public_id}/vote/", {"choice": "a"}, **headers)  # warm caches
    with django_assert_max_num_queries(13):
        response = client.post(f"/api/battles/{battles[1].public_id}/vote/", {"choice": "b"}, **headers)
    assert response.status_code == 201 and response.json()["vote"] == "b"
    assert all(side["model"] for side in response.json()["sides"])  # revealed by the same response
    retry = client.post(f"/api/battles/{battles[1].public_id}/vote/", {"choice": "b"}, **headers)
    assert retry.status_code == 200 and Judgment.objects.filter(comparison=battles[1].comparison).count() == 1
