from celery import shared_task

from . import services


@shared_task(
    name="inference.generate_response",
    acks_late=True,
    soft_time_limit=services.GENERATION_TIME_LIMIT_S,
    time_limit=services.GENERATION_TIME_LIMIT_S + 30,
)
def generate_response(response_id):
    services.generate_response(response_id)


@shared_task(
    name="inference.generate_responses_together",
    acks_late=True,
    soft_time_limit=services.GENERATION_TIME_LIMIT_S,
    time_limit=services.GENERATION_TIME_LIMIT_S + 30,
)
def generate_responses_together(response_ids):
    """A batch (a comparison's K answers, a pool chunk); idempotent: only pending answers are claimed."""
    return services.generate_responses_together(response_ids)
