"""Exit 0 when beat's sweeper ran recently, 1 otherwise: a health check for beat (it proves beat,
the broker and a worker on the default queue all work), e.g. in docker/compose.yaml."""

import time

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError

from inference.services import LAST_SWEEP_KEY


class Command(BaseCommand):
    help = "Say when the stranded-work sweeper last ran; fail if that is longer ago than --max-age seconds."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-age", type=float, default=None, help="Seconds (default: 4 sweep intervals, at least 60)."
        )

    def handle(self, *args, max_age=None, **options):
        max_age = max_age or max(60.0, 4 * settings.SWEEP_STRANDED_SECONDS)
        last = cache.get(LAST_SWEEP_KEY)
        if last is None:
            raise CommandError(
                "The sweeper has not run yet: is beat running, with a worker on the default queue?"
            )
        age = time.time() - last
        if age > max_age:
            raise CommandError(
                f"The sweeper last ran {age:.0f} s ago (limit {max_age:.0f} s): check beat and "
                "the default-queue worker."
            )
        self.stdout.write(f"The sweeper ran {age:.0f} s ago.")
