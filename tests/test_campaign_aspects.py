"""Per-aspect strength, confidence, reason tags and written reason (MultiPref keeps these per aspect)."""

import pytest

from annotation import campaigns as campaign_services
from annotation.models import Assignment, Judgment
from annotation.rubrics import template_spec, validate_spec
from tests.test_campaign_fixtures import make_campaign

pytestmark = pytest.mark.django_db

SPEC = {
    "aspects": [
        {
            "key": "helpful",
            "kind": "ranking",
            "strength": {"labels": ["slightly", "clearly"]},
            "confidence": {"labels": ["low", "high"]},
            "reason_tags": ["complete", "clear"],
            "rationale": "required",
        },
        {
            "key": "style",
            "kind": "rating",
            "min": 1,
            "max": 3,
            "confidence": {"labels": ["low", "mid", "high"]},
            "reason_tags": ["tone"],
        },
        {"key": "plain", "kind": "rating", "min": 1, "max": 3},
    ],
}


def test_spec_follow_ups_are_validated_and_kept():
    spec = validate_spec(SPEC)
    helpful, style, plain = spec["aspects"]
    assert helpful["strength"] == {"labels": ["slightly", "clearly"]} and helpful["rationale"] == "required"
    assert style["confidence"]["labels"] == ["low", "mid", "high"] and "rationale" not in style
    assert set(plain) == {"key", "label", "kind", "min", "max"}
    assert validate_spec(spec) == spec  # stored specs stay stable
    assert all(a["strength"] for a in validate_spec(template_spec("multipref_per_aspect"))["aspects"])


@pytest.mark.parametrize(
    "aspect, sentence",
    [
        (
            {"key": "x", "kind": "rating", "strength": {"labels": ["a", "b"]}},
            "strength only fits a ranking aspect",
        ),
        ({"key": "x", "kind": "ranking", "confidence": {"labels": ["only one"]}}, "with 2 to 7 labels"),
        (
            {"key": "x", "kind": "ranking", "reason_tags": ["a", "a"]},
            "reason_tags must be a list of distinct",
        ),
        (
            {"key": "x", "kind": "ranking", "rationale": "maybe"},
            'rationale must be "required", "optional" or "off"',
        ),
        ({"key": "x", "kind": "ranking", "colour": "red"}, "Aspect 'x' has unknown settings: colour."),
    ],
)
def test_bad_aspect_settings_are_refused(client, people, aspect, sentence):
    with pytest.raises(ValueError, match=sentence.replace("(", r"\(").replace(")", r"\)")):
        validate_spec({"aspects": [aspect]})
    client.force_login(people["researcher"])
    import json

    response = client.post(
        "/campaigns/rubrics/new/", {"family": "bad", "spec": json.dumps({"aspects": [aspect]})}
    )
    assert response.status_code == 400 and "Aspect &#x27;x&#x27;" in response.content.decode()
    assert not campaign_services.Rubric.objects.filter(family="bad").exists()


def good(**helpful):
    return {
        "ranking": [[0], [1]],
        "aspects": {
            "helpful": {
                "ranking": [[1], [0]],
                "strength": 2,
                "confidence": 1,
                "reason_tags": ["clear"],
                "rationale": "B explains it",
                **helpful,
            },
            "style": {"ratings": [3, 1], "confidence": 3, "reason_tags": ["tone"]},
            "plain": {"ratings": [2, 2]},
        },
    }


@pytest.fixture
def leased(people, client):
    make_campaign(people["researcher"], slug="asp", n_items=2, spec=SPEC, groups=[people["experts"]])
    client.force_login(people["annotator"])
    item = client.post("/api/campaigns/asp/next/").json()
    return item, client


def test_api_stores_follow_ups_inside_judgment_aspects(leased):
    item, client = leased
    response = client.post(item["submit_url"], good(), content_type="application/json")
    assert response.status_code == 201, response.content
    order = Assignment.objects.get(pk=item["assignment"]).display_order
    j = Judgment.objects.get()
    assert j.aspects["helpful"] == {
        "kind": "ranking",
        "ranking": [[order[1]], [order[0]]],
        "strength": 2,
        "confidence": 1,
        "reason_tags": ["clear"],
        "rationale": "B explains it",
    }
    ratings = [None, None]
    ratings[order[0]], ratings[order[1]] = 3, 1
    assert j.aspects["style"] == {
        "kind": "rating",
        "ratings": ratings,
        "confidence": 3,
        "reason_tags": ["tone"],
    }
    assert j.aspects["plain"] == {
        "kind": "rating",
        "ratings": [2, 2],
    }  # asks nothing more, stores nothing more


@pytest.mark.parametrize(
    "helpful, other, sentence",
    [
        ({"strength": None}, {}, "Say how much better the preferred response is on Helpful."),
        ({"strength": 3}, {}, "The Helpful strength must be between 1 and 2."),
        (
            {"ranking": [[0, 1]]},
            {},
            "Helpful: strength only applies when one response is first on it, alone (not a tie).",
        ),
        ({"confidence": None}, {}, "Say how confident you are about Helpful."),
        ({"confidence": 7}, {}, "The Helpful confidence must be between 1 and 2."),
        ({"reason_tags": ["vibes"]}, {}, "'vibes' is not one of the reasons for Helpful."),
        ({"reason_tags": "clear"}, {}, "The Helpful reasons must be a list"),
        ({"rationale": "  "}, {}, "Write a reason for Helpful: this rubric requires one."),
        (
            {},
            {"plain": {"ratings": [2, 2], "confidence": 1}},
            "This rubric does not ask for confidence on Plain.",
        ),
        (
            {},
            {"plain": {"ratings": [2, 2], "rationale": "why not"}},
            "does not ask for a written reason on Plain.",
        ),
        (
            {},
            {"plain": {"ratings": [2, 2], "reason_tags": ["tone"]}},
            "'tone' is not one of the reasons for Plain.",
        ),
    ],
)
def test_bad_follow_ups_are_refused_and_nothing_written(leased, helpful, other, sentence):
    item, client = leased
    payload = good(**helpful)
    payload["aspects"].update(other)
    response = client.post(item["submit_url"], payload, content_type="application/json")
    assert response.status_code == 400 and sentence in response.json()["detail"]
    assert Judgment.objects.count() == 0 and Assignment.objects.get(pk=item["assignment"]).status == "leased"


def test_page_renders_controls_and_form_submission_is_stored(leased):
    item, client = leased
    html = client.get("/campaigns/asp/item/", HTTP_HX_REQUEST="true").content.decode()
    for name in (
        'name="aspect-helpful-strength"',
        'name="aspect-helpful-confidence"',
        'name="aspect-helpful-reason_tags"',
        'name="aspect-helpful-rationale"',
        'name="aspect-style-confidence"',
        'name="aspect-style-reason_tags"',
    ):
        assert name in html
    assert 'name="aspect-plain-confidence"' not in html and 'name="aspect-style-strength"' not in html
    form = {
        "ranking": "[[0],[1]]",
        "aspect-helpful": "[[1],[0]]",
        "aspect-helpful-strength": "1",
        "aspect-helpful-confidence": "2",
        "aspect-helpful-reason_tags": ["complete", "clear"],
        "aspect-helpful-rationale": "B is fuller",
        "rating-style-0": "2",
        "rating-style-1": "3",
        "aspect-style-confidence": "1",
        "rating-plain-0": "1",
        "rating-plain-1": "3",
    }
    bad = client.post(
        f"/campaigns/asp/a/{item['assignment']}/submit/",
        {**form, "aspect-helpful-confidence": "9"},
        HTTP_HX_REQUEST="true",
    )
    assert (
        bad.status_code == 400 and "The Helpful confidence must be between 1 and 2." in bad.content.decode()
    )
    assert Judgment.objects.count() == 0
    ok = client.post(f"/campaigns/asp/a/{item['assignment']}/submit/", form, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200, ok.content.decode()[:500]
    helpful = Judgment.objects.get().aspects["helpful"]
    assert (helpful["strength"], helpful["confidence"], helpful["reason_tags"], helpful["rationale"]) == (
        1,
        2,
        ["complete", "clear"],
        "B is fuller",
    )
    assert Judgment.objects.get().aspects["style"]["confidence"] == 1
