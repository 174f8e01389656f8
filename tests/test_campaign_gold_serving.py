"""Gold items reach every annotator at the configured rate: by chance, and by quota when chance has not
served one (the issue's case: gold rate 0.2, one gold item, two annotators who were both told they were
done without ever seeing it)."""

import random

import pytest

from annotation import items, queues
from annotation.models import Assignment
from tests.test_campaign_fixtures import add_role, jsonl, make_campaign

pytestmark = pytest.mark.django_db


class NeverLucky(random.Random):
    """A random source whose draws never fall under the gold rate: only the quota can serve a check."""

    def random(self):
        return 0.999


def _judge_everything(campaign, user, rng):
    kinds = []
    while True:
        try:
            assignment = queues.next_assignment(campaign, user, rng=rng)
        except queues.QueueEmpty:
            return kinds
        expected = assignment.item.expected_ranking
        ranking = (
            [[assignment.display_order.index(p) for p in group] for group in expected]
            if expected
            else [[0], [1]]
        )
        queues.submit(campaign, user, assignment.pk, {"ranking": ranking})
        kinds.append(assignment.item.kind)


def test_every_annotator_meets_the_single_gold_item_before_being_told_they_are_done(make_user):
    researcher = add_role(make_user("rita"), "researcher")
    campaign = make_campaign(researcher, slug="gold", k=2, overlap=2, n_items=4, gold_rate=0.2)
    items.import_items(
        campaign,
        jsonl(
            [{"prompt": "G", "responses": ["good", "bad"], "kind": "gold", "expected_ranking": [[0], [1]]}]
        ),
        "jsonl",
    )
    for name in ("ann", "bob"):
        kinds = _judge_everything(campaign, add_role(make_user(name), "annotator"), NeverLucky())
        assert kinds.count("gold") == 1 and kinds.count("regular") == 4, (name, kinds)
        assert kinds.index("gold") == 4  # the quota serves it as the 5th item: 1 check in 5 = 0.2


def test_checks_keep_the_rate_over_a_long_run(make_user):
    researcher = add_role(make_user("rita"), "researcher")
    campaign = make_campaign(researcher, slug="long", k=2, overlap=1, n_items=40, gold_rate=0.2)
    items.import_items(
        campaign,
        jsonl(
            [
                {
                    "prompt": f"G{i}",
                    "responses": ["good", "bad"],
                    "kind": "gold",
                    "expected_ranking": [[0], [1]],
                }
                for i in range(20)
            ]
        ),
        "jsonl",
    )
    user = add_role(make_user("ann"), "annotator")
    kinds = _judge_everything(campaign, user, NeverLucky())
    assert kinds.count("regular") == 40
    # after every n items served, at least floor(0.2 n) were checks
    for n in range(1, len(kinds) + 1):
        assert kinds[:n].count("gold") >= int(0.2 * n + 1e-9), (n, kinds[:n])
    # and with real chance on top, still never below the quota
    other = add_role(make_user("bob"), "annotator")
    Assignment.objects.filter(annotator=user).delete()
    kinds = _judge_everything(campaign, other, random.Random(7))
    assert all(kinds[:n].count("gold") >= int(0.2 * n + 1e-9) for n in range(1, len(kinds) + 1))
