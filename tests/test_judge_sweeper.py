"""AI judging stranded by a dead worker is queued again by the sweeper (beat), and a (comparison,
judge) still gets one verdict however many copies of its task run. The dead worker is simulated
deterministically: its claim is made and then left to go stale, as a SIGKILLed worker leaves it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import judges
from annotation.models import JudgingTask, Judgment
from annotation.tasks import judge_comparison

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """What the sweeper sends to the broker, kept here to be run in order."""
    sent = []
    monkeypatch.setattr(judges, "enqueue", lambda task, *args: sent.append(args))
    return sent


def _age(seconds):
    JudgingTask.objects.update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def test_judging_stranded_by_a_dead_worker_is_queued_again_and_judged_once(
    scripted_judge, make_comparison, queued, settings
):
    comparison, judge = make_comparison(["Blue.", "The sky is blue by day."]), scripted_judge("longest")
    assert judges.queue_judging([comparison], [judge]) == 1
    assert JudgingTask.objects.get().status == "pending"
    # A worker claims it and is killed mid-verdict: the claim stays "running" and stops being stamped.
    assert judges.claim_judging(comparison.pk, judge.pk) == 1
    # While the claim looks alive, neither the sweeper nor a copy of the message touches it.
    assert judges.requeue_stranded_judging() == []
    assert judge_comparison.apply(args=(comparison.pk, judge.pk)).get() is None
    assert not Judgment.objects.filter(judge=judge).exists()

    _age(settings.WORKER_STALE_AFTER_SECONDS + 1)
    assert judges.requeue_stranded_judging() == [(comparison.pk, judge.pk)] and queued == [
        (comparison.pk, judge.pk)
    ]
    assert JudgingTask.objects.get().status == "pending"
    assert judges.requeue_stranded_judging() == []  # queued once, not on every sweep

    verdict = judge_comparison.apply(args=queued[0]).get()  # the re-queued copy, on a live worker
    assert Judgment.objects.get(judge=judge, comparison=comparison).pk == verdict
    assert not JudgingTask.objects.exists()  # nothing left in flight
    # The dead worker's own message comes back after the broker's visibility timeout: still one verdict.
    assert judge_comparison.apply(args=(comparison.pk, judge.pk)).get() == verdict
    assert Judgment.objects.filter(judge=judge, comparison=comparison).count() == 1
    assert judges.requeue_stranded_judging() == []


def test_judging_whose_message_was_lost_is_queued_again_after_the_pending_wait(
    scripted_judge, make_comparison, queued, settings
):
    judge = scripted_judge("first")
    fresh, lost = make_comparison(["a", "b"]), make_comparison(["c", "d"])
    judges.queue_judging([lost], [judge])
    _age(settings.INFERENCE_REQUEUE_PENDING_SECONDS + 1)
    judges.queue_judging([fresh], [judge])  # queued just now: its message is most likely on its way
    assert judges.requeue_stranded_judging() == [(lost.pk, judge.pk)]
    assert judge_comparison.apply(args=queued[0]).get() == Judgment.objects.get(comparison=lost).pk
    assert list(JudgingTask.objects.values_list("comparison", flat=True)) == [fresh.pk]
    # A task that steps aside while voters wait for live answers is alive, not lost: no second copy.
    _age(settings.INFERENCE_REQUEUE_PENDING_SECONDS + 1)
    judges.judging_deferred(fresh.pk, judge.pk)
    assert judges.requeue_stranded_judging() == []


def test_a_refused_judging_is_not_retried_forever(make_comparison, queued, tiny_model_dirs):
    from inference.models import ModelEndpoint

    not_a_judge = ModelEndpoint.objects.create(name="plain", path=str(tiny_model_dirs[0]))
    comparison = make_comparison(["a", "b"])
    judges.queue_judging([comparison], [not_a_judge])
    assert "not a judge" in judge_comparison.apply(args=(comparison.pk, not_a_judge.pk)).get()
    assert not JudgingTask.objects.exists() and judges.requeue_stranded_judging() == []
