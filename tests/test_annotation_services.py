"""The record of truth: rankings are validated in the service and constrained in the database."""

import pytest
from django.db import IntegrityError, transaction

from annotation.models import Comparison, ComparisonSlot, Judgment
from annotation.rankings import validate_ranking
from annotation.services import JudgmentConflict, create_comparison, record_judgment
from inference.models import ModelEndpoint, Prompt, Response

pytestmark = pytest.mark.django_db


@pytest.fixture
def comparison():
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "hi"}])
    responses = [
        Response.objects.create(
            prompt=prompt, endpoint=ModelEndpoint.objects.create(name=f"m{i}", path="/x"), status="done"
        )
        for i in range(4)
    ]
    return create_comparison(prompt, responses)


@pytest.mark.parametrize(
    "ranking, k, expected",
    [
        ([[0], [1]], 2, [[0], [1]]),
        ([[1, 0]], 2, [[0, 1]]),
        ([[2], [0, 3], [1]], 4, [[2], [0, 3], [1]]),
    ],
)
def test_valid_rankings_are_normalised(ranking, k, expected):
    assert validate_ranking(ranking, k) == expected


@pytest.mark.parametrize(
    "ranking, message",
    [
        ([], "non-empty list of tie groups"),
        ("[[0],[1]]", "non-empty list of tie groups"),
        ([[0], []], "non-empty list of positions"),
        ([[0], [2]], "Position 2 is not one of the shown positions 0..1"),
        ([[0], [-1]], "Position -1"),
        ([[0], [True]], "Position True"),
        ([[0], ["1"]], "Position '1'"),
        ([[0], [0]], "more than once"),
        ([[0]], "missing positions: [1]"),
    ],
)
def test_invalid_rankings_say_what_is_wrong(ranking, message):
    with pytest.raises(ValueError) as excinfo:
        validate_ranking(ranking, 2)
    assert message in str(excinfo.value)


def test_comparison_keeps_the_shown_order(comparison):
    assert comparison.k == 4
    assert [s.response.endpoint.name for s in comparison.slots.order_by("position")] == [
        "m0",
        "m1",
        "m2",
        "m3",
    ]


def test_comparison_inputs_are_checked(comparison):
    prompt = comparison.prompt
    response = comparison.slots.first().response
    other_prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "other"}])
    foreign = Response.objects.create(prompt=other_prompt, endpoint=response.endpoint)
    with pytest.raises(ValueError, match="at least two"):
        create_comparison(prompt, [response])
    with pytest.raises(ValueError, match="same response twice"):
        create_comparison(prompt, [response, response])
    with pytest.raises(ValueError, match="same prompt"):
        create_comparison(prompt, [response, foreign])
    assert Comparison.objects.count() == 1


def test_k_wise_judgment_with_ties_and_all_fields(comparison, django_user_model):
    user = django_user_model.objects.create(username="u")
    judgment, created = record_judgment(
        comparison,
        [[2], [0, 3], [1]],
        annotator=user,
        identities_hidden=True,
        strength=2,
        confidence=3,
        aspects={"helpfulness": [[2], [0, 1, 3]]},
        reason_tags=["accurate"],
        rationale="C is right",
        time_spent_ms=4200,
    )
    assert created and judgment.source == Judgment.Source.HUMAN
    judgment.refresh_from_db()
    assert judgment.ranking == [[2], [0, 3], [1]] and judgment.aspects["helpfulness"][0] == [2]


def test_retry_is_idempotent_and_a_change_is_a_conflict(comparison, django_user_model):
    user = django_user_model.objects.create(username="u")
    first, created = record_judgment(comparison, [[0], [1, 2, 3]], annotator=user, identities_hidden=True)
    again, created_again = record_judgment(
        comparison, [[0], [1, 2, 3]], annotator=user, identities_hidden=True
    )
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(JudgmentConflict, match="already voted"):
        record_judgment(comparison, [[1], [0, 2, 3]], annotator=user, identities_hidden=True)
    assert Judgment.objects.count() == 1


def test_ai_judgments_are_one_per_judge_and_prompt_version(comparison):
    judge = ModelEndpoint.objects.create(name="judge", path="/j")
    _, created = record_judgment(
        comparison, [[0, 1, 2, 3]], judge=judge, judge_prompt_version="v1", identities_hidden=True
    )
    _, created_v2 = record_judgment(
        comparison, [[0], [1, 2, 3]], judge=judge, judge_prompt_version="v2", identities_hidden=True
    )
    assert created and created_v2
    assert set(Judgment.objects.values_list("source", flat=True)) == {"ai"}


def test_exactly_one_author(comparison, django_user_model):
    with pytest.raises(ValueError, match="exactly one author"):
        record_judgment(comparison, [[0], [1, 2, 3]], identities_hidden=True)


def test_the_database_itself_refuses_broken_rows(comparison, django_user_model):
    user = django_user_model.objects.create(username="u")
    Judgment.objects.create(
        comparison=comparison, ranking=[[0, 1, 2, 3]], source="human", annotator=user, identities_hidden=True
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Judgment.objects.create(
            comparison=comparison,
            ranking=[[0, 1, 2, 3]],
            source="human",
            annotator=user,
            identities_hidden=True,
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # a human judgment without an annotator
        Judgment.objects.create(
            comparison=comparison, ranking=[[0, 1, 2, 3]], source="human", identities_hidden=True
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Comparison.objects.create(prompt=comparison.prompt, k=1)
    slot = comparison.slots.first()
    with pytest.raises(IntegrityError), transaction.atomic():  # the same position twice
        ComparisonSlot.objects.create(
            comparison=comparison,
            position=slot.position,
            response=Response.objects.create(prompt=comparison.prompt, endpoint=slot.response.endpoint),
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # the same response twice
        ComparisonSlot.objects.create(comparison=comparison, position=9, response=slot.response)
