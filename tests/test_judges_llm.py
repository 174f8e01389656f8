"""The LLM judge: every rotation judged, position consistency recorded, verbal or likelihood
confidence, any backend. Scripted judges are real HTTP servers on loopback whose "model"
follows a fixed policy, so the platform's measurement can be checked exactly."""

import pytest

from annotation.judges import JudgeError, judge_comparison, parse_verdict, queue_judging, rotations
from annotation.models import Judgment
from inference.models import ModelEndpoint
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db


def test_rotations_show_each_answer_in_each_place():
    assert rotations(2) == [[0, 1], [1, 0]]
    assert sorted(tuple(r) for r in rotations(3)) == [(0, 1, 2), (1, 2, 0), (2, 0, 1)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Best: B\nReason: clearer.\nConfidence: 4", (1, 4, "clearer.")),
        ("**Best answer:** A\nConfidence: 2", (0, 2, "**Best answer:** A\nConfidence: 2")),
        ("I think answer B is better.", (1, None, "I think answer B is better.")),
        ("Best: Z", (None, None, "Best: Z")),
    ],
)
def test_verdicts_are_read_from_the_judges_words(text, expected):
    assert parse_verdict(text, 2) == expected


def test_a_judge_that_follows_the_order_is_caught_and_its_verdict_is_a_tie(scripted_judge, make_comparison):
    comparison = make_comparison(["Blue.", "The sky is usually blue on a clear day."])
    judgment, created = judge_comparison(comparison, scripted_judge("first"))
    assert created and judgment.source == "ai" and judgment.identities_hidden
    assert judgment.ranking == [[0, 1]]
    assert "position-flip" in judgment.reason_tags and judgment.confidence == 1
    assert judgment.judge_prompt_version == "pairwise-v1+verbal"
    assert "Shown as A B: chose A" in judgment.rationale and "Shown as B A: chose B" in judgment.rationale


def test_a_consistent_judge_gets_a_strict_verdict_with_its_confidence(scripted_judge, make_comparison):
    comparison = make_comparison(["The sky is usually blue on a clear day.", "Blue."])
    judgment, _ = judge_comparison(comparison, scripted_judge("longest"))
    assert judgment.ranking == [[0], [1]]
    assert judgment.reason_tags == ["position-consistent"] and judgment.confidence == 4
    assert "policy longest" in judgment.rationale


def test_k_answers_are_judged_in_every_rotation(scripted_judge, make_comparison):
    comparison = make_comparison(["Blue.", "It is blue, mostly, by day.", "Grey."])
    judgment, _ = judge_comparison(comparison, scripted_judge("longest"))
    assert judgment.ranking == [[1], [0, 2]]
    assert judgment.rationale.count("Shown as") == 3
    biased, _ = judge_comparison(
        make_comparison(["Blue.", "It is blue, mostly, by day.", "Grey."]), scripted_judge("first")
    )
    assert "position-flip" in biased.reason_tags and biased.ranking == [[0, 1, 2]]


def test_judging_twice_records_one_judgment(scripted_judge, make_comparison):
    comparison = make_comparison(["Blue.", "Green."])
    judge = scripted_judge("longest")
    first, created = judge_comparison(comparison, judge)
    again, created_again = judge_comparison(comparison, judge)
    assert created and not created_again and first.pk == again.pk
    assert Judgment.objects.filter(comparison=comparison).count() == 1


def test_a_local_model_judges_by_likelihood(tiny_model_dirs, make_comparison):
    judge = ModelEndpoint.objects.create(
        name="tiny-judge",
        path=str(tiny_model_dirs[1]),
        judge_method="llm",
        judge_settings={"confidence": "likelihood"},
    )
    judgment, _ = judge_comparison(make_comparison(["the sun is warm", "the moon is cold"]), judge)
    assert judgment.judge_prompt_version == "pairwise-v1+likelihood"
    assert 1 <= judgment.confidence <= 5
    assert judgment.reason_tags[0] in ("position-consistent", "position-flip")
    assert judgment.rationale.count("P(best)") == 2


def test_what_cannot_be_judged_says_why(scripted_judge, make_comparison, tiny_model_dirs):
    comparison = make_comparison(["Blue.", "Green."])
    comparison.slots.first().response.__class__.objects.filter(
        pk=comparison.slots.first().response_id
    ).update(status="pending")
    with pytest.raises(JudgeError, match="1 answer\\(s\\) not finished"):
        judge_comparison(comparison, scripted_judge("first"))
    plain = ModelEndpoint.objects.create(name="not-a-judge", path=str(tiny_model_dirs[0]))
    with pytest.raises(JudgeError, match="not a judge"):
        judge_comparison(comparison, plain)


@pytest.mark.django_db(transaction=True)
def test_judges_run_on_the_inference_workers(tiny_model_dirs, make_comparison, celery_worker_process):
    from django.db import transaction

    judge = ModelEndpoint.objects.create(
        name="worker-judge",
        path=str(tiny_model_dirs[1]),
        judge_method="llm",
        judge_settings={"confidence": "likelihood"},
    )
    comparison = make_comparison(["the sun is warm", "the moon is cold"])
    with transaction.atomic():
        assert queue_judging([comparison], [judge]) == 1
    judgment = wait_for(
        lambda: Judgment.objects.filter(comparison=comparison, judge=judge).first(), what="the AI judgment"
    )
    assert judgment.source == "ai"
