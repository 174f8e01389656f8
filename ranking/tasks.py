import logging
import threading

from celery import shared_task
from celery.signals import worker_ready
from django.db import connections

from . import services
from .glue import refits

log = logging.getLogger(__name__)


@shared_task(name="ranking.live_refit", acks_late=True, time_limit=300)
def live_refit():
    refits.live_refit()


@shared_task(name="ranking.full_refit", acks_late=True, time_limit=1800)
def full_refit():
    refits.full_refit()


@shared_task(name="ranking.repair_live_board", acks_late=True, time_limit=120)
def repair_live_board():
    """Beat's sweeper: queue a live refit when the board misses votes (a refit lost with its worker)."""
    return services.repair_live_board()


@worker_ready.connect(dispatch_uid="ranking-warm-up")
def warm_up_ranking_ledger(sender=None, **kwargs):
    """A worker that runs ranking tasks in its own process (the thread or solo pool, as every
    documented command does) reads the votes into its ledger at start, on a side thread, so the
    leaderboard's first live refit is as fast as the next. Prefork children each keep their own
    ledger, and warming the parent would not reach them."""
    consumed = sender.app.amqp.queues.consume_from if sender is not None else None
    pool = type(getattr(sender, "pool", None)).__module__
    if (consumed and "ranking" not in consumed) or not pool.endswith(("thread", "solo")):
        return
    threading.Thread(target=_warm_up, name="ranking-warm-up", daemon=True).start()


def _warm_up():
    try:
        refits.warm_up()
    except Exception:
        log.exception("Warming the ranking ledger failed")
    finally:
        connections.close_all()  # this thread's own connection
