import time

from celery import shared_task
from django.core.cache import cache

from . import services


@shared_task(
    name=services.GENERATE_RESPONSE,
    acks_late=True,
    soft_time_limit=services.GENERATION_TIME_LIMIT_S,
    time_limit=services.GENERATION_TIME_LIMIT_S + 30,
)
def generate_response(response_id):
    services.generate_response(response_id)


@shared_task(
    bind=True,
    name=services.GENERATE_RESPONSES_TOGETHER,
    acks_late=True,
    soft_time_limit=services.GENERATION_TIME_LIMIT_S,
    time_limit=services.GENERATION_TIME_LIMIT_S + 30,
)
def generate_responses_together(self, response_ids, background=False):
    """A batch (a comparison's K answers, a pool chunk); idempotent: only pending answers are claimed.

    A background chunk (a pool filled ahead of time) steps aside while live answers are waiting:
    it goes back to the queue, behind them, and frees the worker thread."""
    if background and services.live_answers_waiting():
        raise self.retry(countdown=services.BACKGROUND_RETRY_S, max_retries=None)
    return services.generate_responses_together(response_ids)


@shared_task(name="inference.requeue_stranded_responses", acks_late=True, time_limit=120)
def requeue_stranded_responses():
    """Beat's sweeper for answers whose worker died (routed to the default queue, so a busy
    inference queue cannot delay it). It leaves the time it ran for `manage.py sweeper_status`."""
    requeued = services.requeue_stranded_responses()
    cache.set(services.LAST_SWEEP_KEY, time.time(), timeout=None)
    return len(requeued)
