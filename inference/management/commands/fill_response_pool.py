"""`python manage.py fill_response_pool NAME [--workers] [--chunk-size 8] [--retry-failed]`:
answer a response pool's prompts × models ahead of time. Answers already in the cache
(same model, prompt and parameters) are never generated again."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inference.models import ResponsePool
from inference.services import fill_pool, pool_progress, pool_responses, queue_pool


class Command(BaseCommand):
    help = "Generate the missing answers of a response pool (here, with a progress bar, or on the workers)."

    def add_arguments(self, parser):
        parser.add_argument("pool", help="the pool's name")
        parser.add_argument("--chunk-size", type=int, default=8, help="answers generated together (batched)")
        parser.add_argument(
            "--workers", action="store_true", help="queue chunks on the inference workers instead"
        )
        parser.add_argument("--retry-failed", action="store_true", help="try failed answers again")

    def handle(self, *args, pool, chunk_size, workers, retry_failed, verbosity=1, **options):
        try:
            pool = ResponsePool.objects.get(name=pool)
        except ResponsePool.DoesNotExist:
            names = ", ".join(ResponsePool.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No response pool is named {pool!r}; pools: {names}.") from None
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        if workers:
            queued = queue_pool(pool, chunk_size=chunk_size, retry_failed=retry_failed)
            self.stdout.write(f"Queued {queued} answers on the inference workers.")
            return
        pending = pool_responses(pool).filter(status="pending").count() + (
            pool_responses(pool).filter(status="failed").count() if retry_failed else 0
        )
        done, failed, total = pool_progress(pool)
        with tqdm(total=total, initial=total - pending, unit="answer", disable=verbosity < 1) as bar:
            done, failed, total = fill_pool(
                pool, chunk_size=chunk_size, retry_failed=retry_failed, on_progress=bar.update
            )
        self.stdout.write(f"{pool.name}: {done} of {total} answers done, {failed} failed.")
