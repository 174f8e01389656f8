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
