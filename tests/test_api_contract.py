"""The API keeps its word: every input checked by a serializer (a 400 with a sentence, never a 500),
every error an operation gives documented with the {"detail": …} shape, a wrong token answered 401
with a challenge, and unknown /api/ paths answered with JSON."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db


def test_a_wrong_token_is_401_with_a_challenge(client):
    response = client.get("/api/battles/x/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Token'
    assert response.json()["detail"] == "Invalid token."
    # no credentials at all: also 401 with the challenge, so a client knows how to sign in
    anonymous = client.post("/api/battles/", {"prompt": "hi"}, content_type="application/json")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"
    # a wrong token is refused even on the public leaderboard (never silently read as anonymous)
    assert client.get("/api/leaderboard/", HTTP_AUTHORIZATION="Token nope").status_code == 401


def test_unknown_api_paths_answer_json_404(client):
    for path in ("/api/nope/", "/api/battles/x/y/z/", "/api/exports/x/files/"):
        response = client.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path
        assert "no API endpoint" in response.json()["detail"]
    missing_slash = client.post("/api/leaderboard")
    assert (
        missing_slash.status_code == 404
        and missing_slash.json()["detail"] == "Add the trailing slash: /api/leaderboard/"
    )
    # pages outside /api/ keep the HTML 404
    assert "text/html" in client.get("/nope/")["Content-Type"]


@pytest.mark.parametrize("query", ["method=", "method=nope", "style_control=", "style_control=maybe"])
def test_leaderboard_refuses_what_the_schema_forbids(client, query):
    response = client.get(f"/api/leaderboard/?{query}")
    assert response.status_code == 400 and response.json()["detail"].split(":")[0] in query


def test_leaderboard_defaults_still_apply_when_a_parameter_is_left_out(client):
    assert client.get("/api/leaderboard/").json()["method"] == "bt"
    assert client.get("/api/leaderboard/?method=elo&category=").json()["method"] == "elo"


def test_campaign_submissions_and_skips_are_type_checked(people):
    make_campaign(people["researcher"], slug="typed", groups=[people["experts"]])
    api = APIClient()
    api.force_authenticate(people["annotator"])
    submit = api.post("/api/campaigns/typed/next/").json()["submit_url"]
    for body, sentence in [
        ({"ranking": "A"}, "ranking: Expected a list of items"),
        ({"ranking": [[0], ["x"]]}, "ranking, item 2, item 1: A valid integer is required."),
        ({"ranking": [[0], [1]], "reason_tags": "clear"}, "reason_tags: Expected a list of items"),
        ({"ranking": [[0], [1]], "aspects": {"x": 1}}, "aspects, x: Expected a dictionary"),
        ([[0], [1]], "Expected a dictionary"),
    ]:
        response = api.post(submit, body, format="json")
        assert response.status_code == 400 and sentence in response.json()["detail"], (body, response.json())
    skip = submit.replace("/submit/", "/skip/")
    assert "reason: Say why you skip this item." in api.post(skip, {}, format="json").json()["detail"]
    assert api.post(skip, {"reason": ["a"]}, format="json").status_code == 400
    assert api.post(submit, {"ranking": [[0], [1]]}, format="json").status_code == 201


def test_import_is_checked_by_its_serializer(people):
    make_campaign(people["researcher"], slug="imp", n_items=0)
    api = APIClient()
    api.force_authenticate(people["researcher"])
    assert (
        "file: No file was submitted."
        in api.post("/api/campaigns/imp/import/", {}, format="multipart").json()["detail"]
    )
    upload = SimpleUploadedFile("items.xml", b"<items/>")
    response = api.post("/api/campaigns/imp/import/", {"file": upload, "format": "xml"}, format="multipart")
    assert response.status_code == 400 and "format" in response.json()["detail"]
    assert api.post("/api/campaigns/imp/import/", {"file": "x"}, format="json").status_code == 415


def test_the_schema_documents_every_error_with_the_detail_shape(client):
    schema = client.get("/api/schema/?format=json").json()
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    operations = {(path, method): op for path, item in schema["paths"].items() for method, op in item.items()}
    assert len(operations) >= 15
    for (path, method), op in operations.items():
        codes = set(op["responses"])
        assert {"401", "429"} <= codes, (path, method, codes)
        if "{" in path:
            assert "404" in codes, (path, method)
        if method == "post":
            assert {"400", "403"} <= codes, (path, method)
        for code in codes - {"200", "201", "202", "204"}:
            ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/Error"), (path, method, code)
    build = operations[("/api/campaigns/{slug}/build-items/", "post")]
    assert "409" not in build["responses"]
    assert "409" in operations[("/api/battles/{public_id}/vote/", "post")]["responses"]
    fields = schema["components"]["schemas"]["BuildItems"]["properties"]
    assert fields["pool"]["type"] == "string" and fields["prompts"]["items"]["type"] == "integer"


def test_token_header_is_read_before_the_session(client, make_user):
    """A script with a token that also carries a session cookie acts as the token's user."""
    token_user, session_user = make_user("tok"), make_user("ses")
    token = Token.objects.create(user=token_user)
    client.force_login(session_user)
    response = client.get("/api/exports/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 403 and "researchers" in response.json()["detail"]


def test_malformed_requests_get_json_400s(client):
    many = "&".join(f"f{i}=1" for i in range(1200))  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = client.get(f"/api/leaderboard/?{many}")
    assert response.status_code == 400 and "malformed" in response.json()["detail"]
    weird = client.post("/api/campaigns/a%0Ab/next/")
    assert weird.status_code == 404 and weird.json()["detail"]
