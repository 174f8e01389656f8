"""The multipref rubric's strength question at K=4: how much better the first choice is than the second,
asked whenever one response stands alone in first place (it used to vanish silently for K > 2)."""

import pytest

from annotation import queues
from annotation.models import Judgment
from annotation.rubrics import SubmissionInvalid, template_spec
from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db


def _campaign(people):
    return make_campaign(people["researcher"], slug="mp4", k=4, n_items=1, spec=template_spec("multipref"))


def _answer(campaign, **extra):
    aspects = {
        a["key"]: ({"ranking": [[0], [1], [2], [3]]} if a["kind"] == "ranking" else {"ratings": [3, 3, 3, 3]})
        for a in campaign.rubric.spec["aspects"]
    }
    return {"aspects": aspects, "confidence": 1, **extra}


def test_k4_asks_how_much_better_the_first_is_than_the_second(people, client):
    campaign = _campaign(people)
    user = people["annotator"]
    client.force_login(user)
    html = client.get("/campaigns/mp4/item/", HTTP_HX_REQUEST="true").content.decode()
    assert "How much better is your first choice than your second?" in html
    a = queues.next_assignment(campaign, user)
    with pytest.raises(SubmissionInvalid, match="Say how much better"):
        queues.submit(campaign, user, a.pk, _answer(campaign, ranking=[[2], [0, 1], [3]]))
    with pytest.raises(SubmissionInvalid, match="first, alone"):
        queues.submit(campaign, user, a.pk, _answer(campaign, ranking=[[2, 0], [1], [3]], strength=2))
    queues.submit(campaign, user, a.pk, _answer(campaign, ranking=[[2], [0, 1], [3]], strength=2))
    assert Judgment.objects.get().strength == 2
