from celery import shared_task

from . import services


@shared_task(name="ranking.update_ratings", acks_late=True, time_limit=300)
def update_ratings():
    services.rebuild_elo_snapshot()
