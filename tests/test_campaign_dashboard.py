"""Researcher dashboard, reviewer adjudication and the opt-in profile."""

import pytest

from annotation import queues
from annotation.models import Adjudication, AnnotatorProfile, Judgment
from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db


def test_dashboard_disagreements_adjudication_and_profile(client, people, make_user):
    spec = {
        "aspects": [{"key": "helpful", "kind": "rating", "min": 1, "max": 5}],
        "strength": {"labels": ["slightly", "clearly"]},
    }
    campaign = make_campaign(
        people["researcher"], slug="dash", overlap=2, n_items=1, spec=spec, profile_fields=["country"]
    )
    u1, u2 = people["annotator"], make_user("second")
    u2.groups.add(*u1.groups.all())
    for user, ranking, ratings in [(u1, [[0], [1]], [1, 5]), (u2, [[1], [0]], [2, 4])]:
        a = queues.next_assignment(campaign, user)
        order = a.display_order
        queues.submit(
            campaign,
            user,
            a.pk,
            {
                "ranking": [[order.index(p) for p in g] for g in ranking],
                "strength": 2,
                "aspects": {"helpful": {"ratings": [ratings[order[s]] for s in range(2)]}},
            },
        )
    client.force_login(u1)
    response = client.post(
        "/campaigns/profile/",
        {"opted_in": "on", "expertise": "chemistry", "languages": "en, de", "field-country": "DE"},
    )
    assert response.status_code == 200 and AnnotatorProfile.objects.get(user=u1).demographics == {
        "country": "DE"
    }

    client.force_login(people["researcher"])
    html = client.get("/campaigns/dash/dashboard/").content.decode()
    assert "2 of 2 judgments" in html and "clearly: 2" in html
    assert (
        "ann on item" in html and "rated B higher on Helpful" in html
    )  # u1 ranked 0 over 1 but rated 1 higher
    assert "chemistry" in html and "country: DE" in html
    png = client.get("/campaigns/dash/dashboard/strength.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    page = client.get("/campaigns/dash/disagreements/").content.decode()
    item_id = campaign.items.get().pk
    assert f'id="item-{item_id}"' in page
    bad = client.post(
        f"/campaigns/dash/disagreements/{item_id}/adjudicate/", {"ranking": "[[0]]"}, HTTP_HX_REQUEST="true"
    )
    assert (
        bad.status_code == 400
        and "missing positions" in bad.content.decode()
        and not Adjudication.objects.exists()
    )
    ok = client.post(
        f"/campaigns/dash/disagreements/{item_id}/adjudicate/",
        {"ranking": "[[1], [0]]", "note": "B is right"},
    )
    assert ok.status_code == 200 and Adjudication.objects.get().ranking == [[1], [0]]
    assert Judgment.objects.count() == 2  # judgments untouched

    client.force_login(people["other_researcher"])
    assert "chemistry" not in client.get("/campaigns/dash/dashboard/").content.decode()
