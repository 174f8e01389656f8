"""`python manage.py judge_comparisons`: have AI judges judge comparisons, with a progress bar."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.judges import JudgeError, active_judges, judge_comparison
from annotation.models import Comparison


class Command(BaseCommand):
    help = "Run AI judges (all enabled ones, or --judge NAME) over comparisons whose answers are all done."

    def add_arguments(self, parser):
        parser.add_argument(
            "--judge", action="append", help="judge endpoint name (repeatable; default: every enabled judge)"
        )
        parser.add_argument(
            "--comparison", type=int, action="append", help="comparison id (repeatable; default: all)"
        )
        parser.add_argument(
            "--limit", type=int, default=None, help="at most this many comparisons (newest first)"
        )

    def handle(self, *args, judge=None, comparison=None, limit=None, verbosity=1, **options):
        judges = active_judges()
        if judge:
            judges = judges.filter(name__in=judge)
            missing = set(judge) - set(judges.values_list("name", flat=True))
            if missing:
                raise CommandError(
                    f"No enabled judge named {', '.join(sorted(missing))}; set a judge method in the admin."
                )
        judges = list(judges)
        if not judges:
            raise CommandError("No enabled AI judge: set an endpoint's judge method in the admin first.")
        comparisons = Comparison.objects.exclude(slots__response__status__in=["pending", "running", "failed"])
        if comparison:
            comparisons = comparisons.filter(pk__in=comparison)
        comparisons = list(comparisons.distinct()[:limit] if limit else comparisons.distinct())
        made = existing = failed = 0
        with tqdm(total=len(comparisons) * len(judges), disable=verbosity < 1, unit="verdict") as bar:
            for item in comparisons:
                for endpoint in judges:
                    try:
                        _, created = judge_comparison(item, endpoint)
                        made, existing = made + created, existing + (not created)
                    except JudgeError as exc:
                        failed += 1
                        tqdm.write(f"comparison {item.pk}, {endpoint.name}: {exc}")
                    bar.update()
        self.stdout.write(f"{made} new verdicts, {existing} already there, {failed} could not be made.")
