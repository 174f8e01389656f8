"""Thin, idempotent tasks for AI judges (routed to the inference queue: they run models)."""

import logging

from celery import shared_task

from inference.backends import GenerationError
from inference.models import ModelEndpoint
from inference.services import BACKGROUND_RETRY_S, live_answers_waiting

from . import judges
from .models import Comparison
from .services import JudgmentConflict

log = logging.getLogger(__name__)
JUDGE_TIME_LIMIT_S = 900


@shared_task(
    bind=True,
    name=judges.JUDGE_COMPARISON,
    acks_late=True,
    soft_time_limit=JUDGE_TIME_LIMIT_S,
    time_limit=JUDGE_TIME_LIMIT_S + 30,
)
def judge_comparison(self, comparison_id, judge_id):
    # AI judges run models on the same workers as battles: they step aside while a voter waits.
    if live_answers_waiting():
        judges.judging_deferred(comparison_id, judge_id)  # a sign of life: the sweeper leaves it be
        raise self.retry(countdown=BACKGROUND_RETRY_S, max_retries=None)
    attempt = judges.claim_judging(comparison_id, judge_id)
    if attempt is False:
        return None  # a live worker is judging it (this is a late copy)
    comparison = Comparison.objects.filter(pk=comparison_id).first()
    judge = ModelEndpoint.objects.filter(pk=judge_id).first()
    if comparison is None or judge is None:
        return None  # deleted since: nothing to do
    try:
        with judges.judging_heartbeat(comparison_id, judge_id, attempt):
            judgment, _ = judges.judge_comparison(comparison, judge)
    except (judges.JudgeError, GenerationError) as exc:
        log.warning("judge %s could not judge comparison %s: %s", judge.name, comparison_id, exc)
        judges.finish_judging(comparison_id, judge_id)
        return str(exc)
    except JudgmentConflict:
        # A copy that the sweeper queued judged it first (both ran): its verdict stands, alone.
        judges.finish_judging(comparison_id, judge_id)
        return None
    judges.finish_judging(comparison_id, judge_id)
    return judgment.pk


@shared_task(name="annotation.requeue_stranded_judging")
def requeue_stranded_judging():
    return len(judges.requeue_stranded_judging())


@shared_task(name=judges.TRAIN_REWARD_JUDGE, acks_late=True, soft_time_limit=3600, time_limit=3630)
def train_reward_judge(name="reward-minilm"):
    endpoint, report = judges.train_reward_judge(name)
    return {"endpoint": endpoint.pk, **report}
