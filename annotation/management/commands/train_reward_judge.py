"""`python manage.py train_reward_judge`: fit the reward-model judge on the platform's human judgments."""

import json

from django.core.management.base import BaseCommand, CommandError

from annotation.judges import JudgeError, train_reward_judge


class Command(BaseCommand):
    help = "Train a Bradley–Terry head on all-MiniLM-L6-v2 from human judgments and register it as a judge."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="reward-minilm")
        parser.add_argument("--steps", type=int, default=300)
        parser.add_argument("--heldout-fraction", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, name, steps, heldout_fraction, seed, **options):
        if not 0 < heldout_fraction < 1:
            raise CommandError("--heldout-fraction must be between 0 and 1.")
        try:
            endpoint, report = train_reward_judge(
                name=name, heldout_fraction=heldout_fraction, seed=seed, steps=steps
            )
        except JudgeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Registered judge {endpoint.name} ({endpoint.path})")
        self.stdout.write(json.dumps(report, indent=2, default=str))
