"""20 annotators pulling from one queue at once, overlap 2: never three holders, never twice the same person."""

import threading
from collections import Counter

import pytest
from django.db import connection

from annotation import queues
from annotation.models import Assignment, Judgment
from tests.test_campaign_fixtures import make_campaign, people  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_annotators_one_queue(people, make_user):
    campaign = make_campaign(people["researcher"], slug="conc", overlap=2, n_items=6)
    users = [make_user(f"w{i}") for i in range(20)]
    for u in users:
        u.groups.add(*people["annotator"].groups.all())
    barrier = threading.Barrier(len(users))
    errors = []

    def work(user):
        try:
            barrier.wait()
            for _ in range(4):
                try:
                    a = queues.next_assignment(campaign, user)
                except queues.QueueEmpty:
                    return
                queues.submit(campaign, user, a.pk, {"ranking": [[0], [1]]})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    per_item = Counter(Assignment.objects.filter(item__campaign=campaign).values_list("item_id", flat=True))
    assert per_item and max(per_item.values()) <= 2  # never three
    assert all(n == 2 for n in per_item.values()) and len(per_item) == 6  # and the queue was filled
    pairs = Counter(Judgment.objects.values_list("comparison_id", "annotator_id"))
    assert max(pairs.values()) == 1  # never one they already judged
