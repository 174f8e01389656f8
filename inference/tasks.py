from celery import shared_task

from . import services


@shared_task(name="inference.generate_response", acks_late=True, soft_time_limit=600, time_limit=660)
def generate_response(response_id):
    services.generate_response(response_id)
