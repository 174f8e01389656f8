"""The queue's request path stays bounded (issue 18): every query costs app CPU, and a crowd of annotators
on a 2-core machine is limited by it (bench/campaign_queue.py). Counts include BEGIN, COMMIT and savepoints.

A `next` that leases a new item was 34 statements (the permission read twice, six queries each; the item's
comparison, slots and prompt one by one; four progress counts) and a submit 21; now they are 18 and 12.
The count does not grow with the campaign or with the annotator's history."""

import pytest
from rest_framework.authtoken.models import Token

from annotation.models import Assignment, Judgment
from tests.test_campaign_fixtures import make_campaign

# Transactional: requests run in autocommit, as in production (a test transaction would add savepoints).
pytestmark = pytest.mark.django_db(transaction=True)

NEXT_MAX, HELD_MAX, SUBMIT_MAX, SKIP_MAX = 18, 8, 12, 8


def test_next_submit_and_skip_take_a_bounded_number_of_queries(
    client,
    people,
    django_assert_max_num_queries,
):
    annotator = people["annotator"]
    campaign = make_campaign(
        people["researcher"], slug="lean-queue", overlap=2, n_items=12, groups=[people["experts"]]
    )
    token = Token.objects.create(user=annotator).key
    headers = {"HTTP_AUTHORIZATION": f"Token {token}", "content_type": "application/json"}
    next_url = f"/api/campaigns/{campaign.slug}/next/"
    for _ in range(3):  # some history of their own, and warm caches
        item = client.post(next_url, **headers).json()
        assert client.post(item["submit_url"], {"ranking": [[0], [1]]}, **headers).status_code == 201

    with django_assert_max_num_queries(NEXT_MAX):
        response = client.post(next_url, **headers)
    assert response.status_code == 200
    item = response.json()
    assert item["progress"] == {"mine": 3, "items": 12, "judged": 3, "wanted": 24}
    assert [r["text"] for r in item["responses"]] and item["prompt"]
    with django_assert_max_num_queries(HELD_MAX):  # the lease they hold, served again
        assert client.post(next_url, **headers).json()["assignment"] == item["assignment"]

    with django_assert_max_num_queries(SUBMIT_MAX):
        response = client.post(item["submit_url"], {"ranking": [[1], [0]]}, **headers)
    assert response.status_code == 201
    stored = Assignment.objects.select_related("judgment").get(pk=item["assignment"])
    assert (
        stored.status == Assignment.Status.SUBMITTED and stored.judgment.ranking == response.json()["ranking"]
    )
    assert Judgment.objects.filter(annotator=annotator).count() == 4

    item = client.post(next_url, **headers).json()
    with django_assert_max_num_queries(SKIP_MAX):
        response = client.post(item["skip_url"], {"reason": "I don't know the topic"}, **headers)
    assert response.status_code == 200
    assert Assignment.objects.get(pk=item["assignment"]).status == Assignment.Status.SKIPPED
