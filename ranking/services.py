"""Glue: what other apps call when votes change, to keep the leaderboard current.

``request_refit`` queues one coalesced live refit after a vote; ``judgments_changed`` says a
counted judgment was edited or deleted; ``repair_live_board`` is beat's sweeper for a lost refit.
The refits themselves are ``ranking.glue.refits`` (run by ``ranking.tasks``)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from annotation.selectors import rated_judgments

from .glue.refits import EPOCH_KEY, REFIT_QUEUED_KEY
from .models import RatingSnapshot

log = logging.getLogger(__name__)


def request_refit() -> None:
    """Queue one live refit unless one is already queued: a burst of votes costs a few refits, not one each.

    The task clears the flag before it reads the judgments, so a vote that lands
    during a refit queues the next one and is never missed."""
    try:
        queue = cache.add(REFIT_QUEUED_KEY, 1, timeout=60)
    except (RedisError, OSError) as exc:  # the cache is down: the vote still stands
        log.warning("could not flag a live refit (the sweeper will refit): %s", exc)
        return
    if queue:
        transaction.on_commit(_queue_live_refit)


def _queue_live_refit() -> bool:
    """Send a live refit; with the broker down the vote still stands and the sweeper refits later."""
    try:
        # No countdown: a worker holding an unacknowledged ETA message when Redis restarts can
        # exit (kombu fails to restore it on the closed connection; seen in tests/test_faults.py).
        current_app.send_task("ranking.live_refit")  # by name: services never import tasks
    except (OperationalError, RedisError, OSError) as exc:
        log.warning("could not queue a live refit (the sweeper will): %s", exc)
        return False
    return True


def repair_live_board() -> bool:
    """The sweeper's part for the leaderboard (beat, every SWEEP_STRANDED_SECONDS): when the
    overall board misses a rated vote older than one sweep (its live refit was lost with a
    worker, or its message with a broker restart), queue a live refit. Returns whether it did."""
    newest = rated_judgments().order_by("-id").values_list("id", "created_at").first()
    if newest is None or newest[1] > timezone.now() - timedelta(seconds=settings.SWEEP_STRANDED_SECONDS):
        return False  # no votes, or a live refit is most likely still on its way
    latest = RatingSnapshot.objects.filter(method="bt", style_control=False, category="").first()
    if latest is not None and (latest.last_judgment_id or 0) >= newest[0]:
        return False
    log.warning("the leaderboard misses votes up to %s; queueing a live refit", newest[0])
    return _queue_live_refit()


def judgments_changed() -> None:
    """A rated judgment was edited or deleted (or its comparison left the arena): a count
    extended vote by vote can no longer be trusted, so the next live refit reads all again."""
    cache.add(EPOCH_KEY, 0, timeout=None)
    cache.incr(EPOCH_KEY)
    request_refit()
