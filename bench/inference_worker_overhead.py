"""Worker overhead to first token: the generation service (claim, load from the warm cache,
stream-save to the database) against calling the backend directly, same warm model, one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prefarena_bench .venv/bin/python bench/inference_worker_overhead.py

It creates (and migrates) the database named in DATABASE_URL if needed; default: a SQLite
file in /tmp. Prints median time to first token for both and the difference."""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/prefarena-bench-overhead.sqlite3")

import django

django.setup()

from django.core.management import call_command

from inference.backends import get_backend
from inference.models import ModelEndpoint, Prompt, Response
from inference.services import generate_response

MODEL = os.environ.get("BENCH_MODEL", "var/models/smollm2-135m-instruct")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
PARAMS = {"max_new_tokens": 8, "min_new_tokens": 8, "temperature": 0}
CONVERSATION = [{"role": "user", "content": "What is the capital of France?"}]


def direct_first_token():
    backend = get_backend("transformers")
    started = time.perf_counter()
    first = []
    backend.generate(
        MODEL, CONVERSATION, PARAMS, on_text=lambda t: first or first.append(time.perf_counter() - started)
    )
    return first[0] * 1000


def service_first_token(endpoint):
    prompt = Prompt.objects.create(conversation=CONVERSATION)
    response = Response.objects.create(prompt=prompt, endpoint=endpoint, generation_params=PARAMS)
    generate_response(response.pk)  # what the Celery task runs, from its first line
    response.refresh_from_db()
    assert response.status == "done", response.error
    return response.first_token_ms


def main():
    call_command("migrate", verbosity=0, skip_checks=True)
    endpoint, _ = ModelEndpoint.objects.update_or_create(
        name="bench-overhead", defaults={"path": MODEL, "generation_params": PARAMS}
    )
    direct_first_token()  # warm the model cache
    service_first_token(endpoint)
    direct, service = [], []
    for _ in range(ROUNDS):  # interleaved, so machine noise hits both
        direct.append(direct_first_token())
        service.append(service_first_token(endpoint))
    d, s = statistics.median(direct), statistics.median(service)
    print(f"model {MODEL}, {ROUNDS} rounds, database {django.db.connection.vendor}")
    print(
        f"  backend directly: median {d:.1f} ms to first token  (all: {', '.join(f'{x:.0f}' for x in direct)})"
    )
    print(
        f"  generation service: median {s:.1f} ms to first token  (all: {', '.join(f'{x:.0f}' for x in service)})"
    )
    print(f"  worker overhead: {s - d:+.1f} ms (goal: at most 50 ms); ratio {s / d:.2f}x")


if __name__ == "__main__":
    main()
