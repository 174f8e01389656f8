"""`python manage.py seed_demo`: the demo arena with the two demo models and demo users. Safe to rerun."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from annotation.demo import seed_demo_campaigns
from arena.demo import DEMO_USERS, queue_sample_answers, seed_demo
from inference.demo_models import DEMO_MODELS, demo_backend, gguf_path


class Command(BaseCommand):
    help = "Create (or refresh) the demo arena, its two models, the demo users and the demo campaigns."

    def add_arguments(self, parser):
        parser.add_argument("--models-dir", type=Path, default=None, help="default: settings.MODELS_DIR")

    def handle(self, *args, models_dir=None, **options):
        models_dir = (models_dir or settings.MODELS_DIR).resolve()
        backend = demo_backend()  # llama.cpp when installed (./prefarena setup --llama): answers in seconds
        arena = seed_demo(
            [
                {
                    "name": m.name,
                    "display_name": m.display_name,
                    "backend": backend,
                    "path": gguf_path(models_dir, m.name) if backend == "llama_cpp" else models_dir / m.name,
                    "license": m.license,
                    "generation_params": m.generation_params,
                }
                for m in DEMO_MODELS
            ]
        )
        judge = "smollm2-135m-instruct"  # the judge runs on the models' backend: one model format to load
        judge_path = gguf_path(models_dir, judge) if backend == "llama_cpp" else models_dir / judge
        campaigns = seed_demo_campaigns(judge_path, judge_backend=backend)
        queued = queue_sample_answers(arena)
        self.stdout.write(
            f"Arena {arena.name!r} with {arena.endpoints.count()} models ({backend}); campaigns: "
            + ", ".join(c.slug for c in campaigns)
            + "; users: "
            + ", ".join(u[0] for u in DEMO_USERS)
            + (f"; {queued} answers to the sample prompts queued for the worker" if queued else "")
        )
