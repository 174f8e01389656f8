"""Self-consistency repeats (stored apart from judgments, never counted twice) and re-offering skipped items."""

import random

import pytest

from annotation import agreement, quality, queues
from annotation import campaigns as campaign_services
from annotation.models import Assignment, Judgment, RepeatCheck
from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db


def screen(assignment, ranking):
    """A ranking in comparison positions as the annotator would enter it in screen slots."""
    return [[assignment.display_order.index(p) for p in group] for group in ranking]


def judge(campaign, user, ranking=((0,), (1,))):
    a = queues.next_assignment(campaign, user)
    queues.submit(campaign, user, a.pk, {"ranking": screen(a, [list(g) for g in ranking])})
    return a


def test_repeat_served_later_in_new_order_and_never_counted_twice(people):
    campaign = make_campaign(
        people["researcher"],
        slug="rep",
        n_items=5,
        overlap=1,
        repeat_rate=1.0,
        repeat_after=2,
        groups=[people["experts"]],
    )
    user = people["annotator"]
    first = judge(campaign, user)
    second = judge(campaign, user)  # first has only 1 later submission: no repeat yet
    assert not second.is_repeat and second.item_id != first.item_id
    judge(campaign, user)
    progress_before = queues.progress(campaign, user)
    units_before = agreement.campaign_units(campaign)["overall"][1]
    repeat = queues.next_assignment(campaign, user)
    assert repeat.is_repeat and repeat.item_id == first.item_id and repeat.original_id == first.pk
    assert repeat.display_order != first.display_order  # a new random order
    assert queues.next_assignment(campaign, user) == repeat  # held like a lease
    queues.submit_repeat(campaign, user, repeat.pk, {"ranking": screen(repeat, [[0], [1]])})
    # the one-judgment constraint is untouched: no second Judgment, no second Assignment
    assert Judgment.objects.count() == 3 and Assignment.objects.count() == 3
    assert queues.progress(campaign, user) == progress_before
    assert agreement.campaign_units(campaign)["overall"][1] == units_before
    stored = RepeatCheck.objects.get()
    assert stored.ranking == [[0], [1]] and stored.status == "submitted" and stored.time_spent_ms is not None
    assert quality.self_consistency(user, campaign) == {"repeats": 1, "same_top": 1.0, "same_pairs": 1.0}
    # second has only one later submission yet: a regular item comes first, then the repeat of second
    assert not judge(campaign, user).is_repeat
    nxt = queues.next_assignment(campaign, user)
    assert nxt.is_repeat and nxt.original_id == second.pk
    queues.submit_repeat(campaign, user, nxt.pk, {"ranking": screen(nxt, [[1], [0]])})
    assert quality.self_consistency(user, campaign) == {"repeats": 2, "same_top": 0.5, "same_pairs": 0.5}
    assert quality.self_consistency(people["admin"], campaign) == {
        "repeats": 0,
        "same_top": None,
        "same_pairs": None,
    }


def test_kwise_pair_consistency_and_undo_of_a_repeat(people):
    campaign = make_campaign(
        people["researcher"],
        slug="rk",
        k=3,
        n_items=3,
        overlap=1,
        repeat_rate=0.5,
        repeat_after=1,
        groups=[people["experts"]],
    )
    user = people["annotator"]
    rng = random.Random(0)
    a = queues.next_assignment(campaign, user, rng=type("Never", (), {"random": lambda self: 0.99})())
    queues.submit(campaign, user, a.pk, {"ranking": screen(a, [[0], [1], [2]])})
    b = queues.next_assignment(campaign, user, rng=type("Never", (), {"random": lambda self: 0.99})())
    assert not b.is_repeat
    queues.submit(campaign, user, b.pk, {"ranking": screen(b, [[0], [1], [2]])})
    always = type("Always", (), {"random": lambda self: 0.0, "choice": lambda self, xs: rng.choice(xs)})()
    repeat = queues.next_assignment(campaign, user, rng=always)
    assert repeat.is_repeat and repeat.original_id == a.pk  # only a has a later submission
    # same top, but 1 and 2 tied: pairs (0,1) (0,2) kept, (1,2) changed
    queues.submit_repeat(campaign, user, repeat.pk, {"ranking": screen(repeat, [[0], [1, 2]])})
    assert quality.self_consistency(user, campaign) == {
        "repeats": 1,
        "same_top": 1.0,
        "same_pairs": pytest.approx(2 / 3),
    }
    undone = queues.undo_last(campaign, user)
    assert undone.is_repeat and undone.pk == repeat.pk and RepeatCheck.objects.get().status == "leased"
    assert Judgment.objects.count() == 2  # the undo took back the repeat, not a judgment
    assert queues.next_assignment(campaign, user).pk == repeat.pk


def test_repeat_bad_input_api_and_dashboard(client, people):
    spec = {"rationale": "required", "rationale_min_length": 5}
    make_campaign(
        people["researcher"],
        slug="ra",
        n_items=3,
        overlap=1,
        repeat_rate=1.0,
        repeat_after=1,
        spec=spec,
        groups=[people["experts"]],
    )
    user = people["annotator"]
    client.force_login(user)
    for _ in range(2):
        item = client.post("/api/campaigns/ra/next/").json()
        assert "/assignments/" in item["submit_url"]
        ok = client.post(
            item["submit_url"],
            {"ranking": [[0], [1]], "rationale": "plain enough"},
            content_type="application/json",
        )
        assert ok.status_code == 201
    item = client.post("/api/campaigns/ra/next/").json()
    assert "/repeats/" in item["submit_url"]
    repeat = RepeatCheck.objects.get()
    for body, sentence in [
        ({"ranking": [[0]]}, "missing positions"),
        ({"ranking": [[0], [1]]}, "requires one"),
        ({"ranking": [[0], [1]], "rationale": "no"}, "write at least 5"),
    ]:
        response = client.post(item["submit_url"], body, content_type="application/json")
        assert response.status_code == 400 and sentence in response.json()["detail"]
        repeat.refresh_from_db()
        assert repeat.status == "leased" and repeat.ranking is None
    # another annotator's repeat, and a repeat id that is not theirs
    client.force_login(people["admin"])
    assert client.post(
        item["submit_url"], {"ranking": [[0], [1]]}, content_type="application/json"
    ).status_code in (403, 404)
    client.force_login(user)
    skip = client.post(item["skip_url"], {"reason": ""}, content_type="application/json")
    assert skip.status_code == 400 and "Say why" in skip.json()["detail"]
    # the htmx page posts to the repeat route too, and a good answer is stored on the repeat only
    html = client.get("/campaigns/ra/item/", HTTP_HX_REQUEST="true").content.decode()
    assert f'hx-post="/campaigns/ra/r/{repeat.pk}/submit/"' in html
    repeat.refresh_from_db()
    original = repeat.original.judgment.ranking  # answer the same as the first time, in the new screen order
    response = client.post(
        f"/campaigns/ra/r/{repeat.pk}/submit/",
        {"ranking": str(screen(repeat, original)), "rationale": "same again"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and Judgment.objects.count() == 2
    assert RepeatCheck.objects.get().ranking == original
    client.force_login(people["researcher"])
    html = client.get("/campaigns/ra/dashboard/").content.decode()
    assert "top 1.00, pairs 1.00 (1 repeats)" in html


def test_repeat_rate_is_validated(client, people):
    rubric = campaign_services.create_rubric("rr", {}, user=people["researcher"])
    with pytest.raises(ValueError, match="repeat rate must be between 0 and 1"):
        campaign_services.create_campaign(
            user=people["researcher"], name="R", slug="rr", rubric=rubric, repeat_rate=1.5
        )
    client.force_login(people["researcher"])
    form = {
        "name": "R",
        "slug": "rr",
        "k": 2,
        "layout": "stacked",
        "rubric": rubric.pk,
        "overlap": 2,
        "status": "open",
        "lease_seconds": 600,
        "undo_seconds": 30,
        "gold_rate": 0,
        "gold_min_checks": 3,
        "gold_warn_below": 0.8,
        "gold_pause_below": 0.6,
        "profile_fields": "[]",
        "repeat_rate": "1.5",
    }
    response = client.post("/campaigns/new/", form)
    assert response.status_code == 400 and "repeat rate must be between 0 and 1" in response.content.decode()
    assert not campaign_services.Campaign.objects.filter(slug="rr").exists()
    response = client.post("/campaigns/new/", {**form, "repeat_rate": "0.1", "reoffer_skipped": "on"})
    assert response.status_code == 302
    made = campaign_services.Campaign.objects.get(slug="rr")
    assert made.repeat_rate == 0.1 and made.reoffer_skipped and made.repeat_after == 3


def test_skipped_items_come_back_only_when_the_campaign_allows(people):
    user = people["annotator"]
    strict = make_campaign(people["researcher"], slug="sk1", n_items=2, overlap=1)
    a = queues.next_assignment(strict, user)
    queues.skip(strict, user, a.pk, "I cannot decide")
    b = queues.next_assignment(strict, user)
    assert b.item_id != a.item_id
    queues.submit(strict, user, b.pk, {"ranking": [[0], [1]]})
    with pytest.raises(queues.QueueEmpty):
        queues.next_assignment(strict, user)  # the skipped item never comes back

    lenient = make_campaign(people["researcher"], slug="sk2", n_items=2, overlap=1, reoffer_skipped=True)
    a = queues.next_assignment(lenient, user)
    queues.skip(lenient, user, a.pk, "I cannot decide")
    b = queues.next_assignment(lenient, user)
    assert b.item_id != a.item_id  # unseen items first
    queues.submit(lenient, user, b.pk, {"ranking": [[0], [1]]})
    again = queues.next_assignment(lenient, user)
    assert again.pk == a.pk and again.status == "leased" and again.display_order == a.display_order
    queues.submit(lenient, user, again.pk, {"ranking": [[1], [0]]})
    assert Assignment.objects.get(pk=a.pk).skip_reason == "I cannot decide"  # the skip stays on record
    with pytest.raises(queues.QueueEmpty):
        queues.next_assignment(lenient, user)
