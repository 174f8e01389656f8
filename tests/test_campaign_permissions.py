"""Every campaign page and API endpoint, for each role."""

import pytest

from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db

PAGES = ["annotate", "item", "dashboard", "import", "edit", "disagreements", "chart", "new", "rubric"]
URL = {
    "annotate": "/campaigns/perm/",
    "item": "/campaigns/perm/item/",
    "dashboard": "/campaigns/perm/dashboard/",
    "import": "/campaigns/perm/import/",
    "edit": "/campaigns/perm/edit/",
    "disagreements": "/campaigns/perm/disagreements/",
    "chart": "/campaigns/perm/dashboard/progress.png",
    "new": "/campaigns/new/",
    "rubric": "/campaigns/rubrics/new/",
}
# role → expected status per page
EXPECTED = {
    "annotator": dict(
        annotate=200,
        item=200,
        dashboard=404,
        import_=404,
        edit=404,
        disagreements=404,
        chart=404,
        new=403,
        rubric=403,
    ),
    "outsider": dict(
        annotate=404,
        item=404,
        dashboard=404,
        import_=404,
        edit=404,
        disagreements=404,
        chart=404,
        new=403,
        rubric=403,
    ),
    # a campaign's own researchers and admins may annotate it (they try the rubric as annotators see it)
    "researcher": dict(
        annotate=200,
        item=200,
        dashboard=200,
        import_=200,
        edit=200,
        disagreements=200,
        chart=200,
        new=200,
        rubric=200,
    ),
    "other_researcher": dict(
        annotate=404,
        item=404,
        dashboard=404,
        import_=404,
        edit=404,
        disagreements=404,
        chart=404,
        new=200,
        rubric=200,
    ),
    "admin": dict(
        annotate=200,
        item=200,
        dashboard=200,
        import_=200,
        edit=200,
        disagreements=200,
        chart=200,
        new=200,
        rubric=200,
    ),
}
API = {  # role → (next, agreement, import without a file)
    "annotator": (200, 404, 404),
    "outsider": (404, 404, 404),
    "researcher": (200, 200, 400),
    "other_researcher": (404, 404, 404),
    "admin": (200, 200, 400),
}


@pytest.fixture
def campaign(people):
    return make_campaign(people["researcher"], slug="perm", groups=[people["experts"]], n_items=2)


@pytest.mark.parametrize("role", list(EXPECTED))
def test_pages_per_role(client, people, campaign, role):
    client.force_login(people[role])
    for page in PAGES:
        status = client.get(URL[page]).status_code
        want = EXPECTED[role]["import_" if page == "import" else page]
        assert status == want, f"{role} GET {URL[page]}: {status}, wanted {want}"
    listing = client.get("/campaigns/").content.decode()
    assert ('data-campaign="perm"' in listing) == (role in ("annotator", "researcher", "admin"))
    assert ('href="/campaigns/perm/">Annotate' in listing) == (role in ("annotator", "researcher", "admin"))


@pytest.mark.parametrize("role", list(API))
def test_api_per_role(client, people, campaign, role):
    client.force_login(people[role])
    got = (
        client.post("/api/campaigns/perm/next/").status_code,
        client.get("/api/campaigns/perm/agreement/").status_code,
        client.post("/api/campaigns/perm/import/").status_code,
    )
    assert got == API[role]


def test_anonymous_is_sent_to_log_in(client, campaign):
    for page in PAGES:
        response = client.get(URL[page])
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post("/api/campaigns/perm/next/").status_code in (401, 403)


def test_an_annotator_only_sees_their_own_assignment(client, people, campaign, make_user):
    other = make_user("peer")
    other.groups.add(*people["annotator"].groups.all())
    client.force_login(other)
    held = client.post("/api/campaigns/perm/next/").json()["assignment"]
    client.force_login(people["annotator"])
    response = client.post(
        f"/api/campaigns/perm/assignments/{held}/skip/",
        {"reason": "mine now"},
        content_type="application/json",
    )
    assert response.status_code == 403
    response = client.post(f"/campaigns/perm/a/{held}/submit/", {"ranking": "[[0],[1]]"})
    assert response.status_code == 403
