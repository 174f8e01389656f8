"""Undo takes back the latest action (a submission or a skip) and gives the answer back; an identical
repeated submit is idempotent; annotators revise their judgments while the campaign allows it, and every
earlier version is kept."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import queues
from annotation.campaigns import CampaignForbidden
from annotation.models import Assignment, Judgment, JudgmentRevision
from annotation.views import form_values
from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db

RATED = {
    "aspects": [{"key": "helpful", "kind": "rating", "min": 1, "max": 5}],
    "rationale": "optional",
    "reason_tags": ["accurate", "concise"],
}


def test_undo_after_a_skip_takes_back_the_skip_not_the_submission_before_it(people):
    campaign = make_campaign(people["researcher"], slug="u", n_items=3)
    user = people["annotator"]
    a = queues.next_assignment(campaign, user)
    queues.submit(campaign, user, a.pk, {"ranking": [[1], [0]]})
    b = queues.next_assignment(campaign, user)
    queues.skip(campaign, user, b.pk, "I cannot decide")

    undone = queues.undo_last(campaign, user)
    assert undone.pk == b.pk and undone.status == "leased" and undone.skip_reason == ""
    assert undone.undone == {
        "action": "skip",
        "answer": None,
        "edited_answer": "",
        "skip_reason": "I cannot decide",
    }
    assert Assignment.objects.get(pk=a.pk).status == "submitted" and Judgment.objects.count() == 1
    assert queues.next_assignment(campaign, user).pk == b.pk

    # a second undo reaches the submission, and gives its answer back
    again = queues.undo_last(campaign, user)
    assert again.pk == a.pk and again.undone["action"] == "submission" and Judgment.objects.count() == 0
    order = a.display_order
    assert again.undone["answer"]["ranking"] == [[order[1]], [order[0]]]


def test_undo_gives_back_every_answer_in_the_form_the_annotator_saw(people):
    campaign = make_campaign(people["researcher"], slug="r", k=3, n_items=1, spec=RATED)
    user = people["annotator"]
    a = queues.next_assignment(campaign, user)
    payload = {
        "ranking": [[2], [0, 1]],
        "aspects": {"helpful": {"ratings": [4, 2, 5]}},
        "rationale": "C is exact.",
        "reason_tags": ["concise"],
    }
    queues.submit(campaign, user, a.pk, payload)
    undone = queues.undo_last(campaign, user)
    values = form_values(undone.undone["answer"], undone.display_order, undone.undone["edited_answer"])
    assert values == {
        "ranking": "[[2],[0,1]]",
        "rating-helpful-0": "4",
        "rating-helpful-1": "2",
        "rating-helpful-2": "5",
        "rationale": "C is exact.",
        "reason_tags": ["concise"],
    }


def test_a_repeated_identical_submit_is_idempotent_and_a_different_one_conflicts(people):
    campaign = make_campaign(people["researcher"], slug="i", n_items=2)
    user = people["annotator"]
    a = queues.next_assignment(campaign, user)
    queues.submit(campaign, user, a.pk, {"ranking": [[0], [1]], "rationale": "A"})
    again = queues.submit(campaign, user, a.pk, {"ranking": [[0], [1]], "rationale": "A"})
    assert again.pk == a.pk and Judgment.objects.count() == 1
    with pytest.raises(queues.AssignmentGone, match="already submitted"):
        queues.submit(campaign, user, a.pk, {"ranking": [[1], [0]], "rationale": "A"})


def test_a_repeated_submit_over_http_answers_200(client, people):
    campaign = make_campaign(people["researcher"], slug="h", n_items=2)
    client.force_login(people["annotator"])
    a = queues.next_assignment(campaign, people["annotator"])
    url = f"/campaigns/h/a/{a.pk}/submit/"
    first = client.post(url, {"ranking": "[[0],[1]]"}, HTTP_HX_REQUEST="true")
    second = client.post(url, {"ranking": "[[0],[1]]"}, HTTP_HX_REQUEST="true")
    assert first.status_code == 200 and second.status_code == 200 and Judgment.objects.count() == 1
    assert client.post(url, {"ranking": "[[1],[0]]"}, HTTP_HX_REQUEST="true").status_code == 409


def test_revising_keeps_every_earlier_version(people):
    campaign = make_campaign(people["researcher"], slug="v", n_items=1, spec=RATED)
    user = people["annotator"]
    a = queues.next_assignment(campaign, user)
    queues.submit(campaign, user, a.pk, {"ranking": [[0], [1]], "aspects": {"helpful": {"ratings": [5, 1]}}})
    judgment = Judgment.objects.get()
    first_answer = queues.answer_of(judgment)

    _, changed = queues.revise(
        campaign, user, a.pk, {"ranking": [[0], [1]], "aspects": {"helpful": {"ratings": [5, 1]}}}
    )
    assert not changed and not JudgmentRevision.objects.exists()  # the same answer writes nothing
    queues.revise(
        campaign,
        user,
        a.pk,
        {
            "ranking": [[1], [0]],
            "aspects": {"helpful": {"ratings": [2, 4]}},
            "rationale": "B is right after all.",
        },
    )
    queues.revise(campaign, user, a.pk, {"ranking": [[0, 1]], "aspects": {"helpful": {"ratings": [3, 3]}}})

    judgment.refresh_from_db()
    order = a.display_order
    assert judgment.ranking == [sorted(order)] and Judgment.objects.count() == 1
    v1, v2 = JudgmentRevision.objects.filter(judgment=judgment).order_by("version")
    assert (v1.version, v2.version) == (1, 2)
    assert {"ranking": v1.ranking, **v1.answer} == first_answer and v1.made_at == judgment.created_at
    assert v2.ranking == [[order[1]], [order[0]]] and v2.answer["rationale"] == "B is right after all."
    assert v2.made_at == v1.replaced_at


def test_revising_is_refused_when_the_campaign_does_not_allow_it_or_is_closed(people):
    campaign = make_campaign(people["researcher"], slug="n", n_items=1, allow_revisions=False)
    user = people["annotator"]
    a = queues.next_assignment(campaign, user)
    queues.submit(campaign, user, a.pk, {"ranking": [[0], [1]]})
    with pytest.raises(CampaignForbidden, match="does not let annotators revise"):
        queues.revise(campaign, user, a.pk, {"ranking": [[1], [0]]})
    campaign.allow_revisions = True
    campaign.save()
    with pytest.raises(queues.NotAssigned):
        queues.revise(campaign, people["outsider"], a.pk, {"ranking": [[1], [0]]})
    campaign.status = "closed"
    campaign.save()
    with pytest.raises(queues.CampaignNotOpen):
        queues.revise(campaign, user, a.pk, {"ranking": [[1], [0]]})
    assert not JudgmentRevision.objects.exists()


def test_an_old_skip_is_past_the_undo_window(people):
    campaign = make_campaign(people["researcher"], slug="o", n_items=2, undo_seconds=10)
    user = people["annotator"]
    a = queues.next_assignment(campaign, user)
    queues.skip(campaign, user, a.pk, "I cannot decide")
    Assignment.objects.filter(pk=a.pk).update(skipped_at=timezone.now() - timedelta(seconds=11))
    with pytest.raises(ValueError, match="no submission or skip from the last 10 seconds"):
        queues.undo_last(campaign, user)


def test_my_judgments_page_lists_and_revises(client, people):
    campaign = make_campaign(people["researcher"], slug="m", n_items=2)
    user = people["annotator"]
    a = queues.next_assignment(campaign, user)
    queues.submit(campaign, user, a.pk, {"ranking": [[1], [0]]})
    client.force_login(user)
    page = client.get("/campaigns/m/mine/").content.decode()
    assert "B › A" in page and f"/campaigns/m/mine/{a.pk}/" in page
    form = client.get(f"/campaigns/m/mine/{a.pk}/").content.decode()
    assert 'id="restore-answer"' in form and "[[1],[0]]" in form
    response = client.post(f"/campaigns/m/mine/{a.pk}/", {"ranking": "[[0],[1]]"})
    assert response.status_code == 302 and JudgmentRevision.objects.count() == 1
    assert "A › B" in client.get("/campaigns/m/mine/").content.decode()
    history = client.get(f"/campaigns/m/mine/{a.pk}/").content.decode()
    assert 'id="earlier-versions"' in history and ": B › A</li>" in history


def test_the_page_names_a_missing_ranking_in_annotators_words(client, people):
    campaign = make_campaign(people["researcher"], slug="w", n_items=1)
    client.force_login(people["annotator"])
    a = queues.next_assignment(campaign, people["annotator"])
    response = client.post(f"/campaigns/w/a/{a.pk}/submit/", {"rationale": "x"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 400 and "Rank the responses first" in body and "tie groups" not in body
