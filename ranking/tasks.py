from celery import shared_task

from . import services


@shared_task(name="ranking.live_refit", acks_late=True, time_limit=300)
def live_refit():
    services.live_refit()


@shared_task(name="ranking.full_refit", acks_late=True, time_limit=1800)
def full_refit():
    services.full_refit()
