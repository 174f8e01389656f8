"""Signs of life from long tasks: while a worker runs one, a side thread stamps its rows every
INFERENCE_HEARTBEAT_SECONDS, so the sweeper can tell a slow worker from a dead one (a SIGKILLed
worker stops stamping; its broker message would come back only after the visibility timeout)."""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone

log = logging.getLogger(__name__)


def stale_before(seconds=None):
    """The time before which a heartbeat is stale: its worker is taken for dead."""
    return timezone.now() - timedelta(seconds=seconds or settings.WORKER_STALE_AFTER_SECONDS)


class Heartbeat:
    """``with Heartbeat(stamp): ...`` calls ``stamp()`` every interval on a side thread until the block ends.

    The thread has its own database connection (Django's are per thread) and closes it at the end."""

    def __init__(self, stamp, interval=None):
        self.stamp = stamp
        self.interval = interval or settings.WORKER_HEARTBEAT_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    def _run(self):
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.stamp()
                except Exception:
                    log.warning("heartbeat stamp failed", exc_info=True)
                    connections["default"].close()
        finally:
            connections.close_all()
