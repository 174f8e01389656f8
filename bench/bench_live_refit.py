"""The leaderboard's full refit and its live refit after one more vote, through the Django glue, at scale.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prefarena_h3_bench1m \
        .venv/bin/python bench/bench_live_refit.py --judgments 1000000

Seeds blind pairwise arena votes among 20 models by COPY (one vote per comparison, as battles
are; four prompt categories; answers whose markdown habits depend on the model; a second run
reuses them), then times, in one run: the full refit (every view and category read from the
database, RANKING_FULL_BOOTSTRAP resamples) twice, the second as the baseline (the first in a
fresh process also loads, or the first time computes, the answers' style features), and the
live refit after each of --votes more votes (incremental read; above
RANKING_LIVE_ALL_VIEWS_UNDER only the counted-outcome views refit, with Laplace intervals).
Prints both, the ratio, and the load average. BENCH_VERBOSE=1 lists every live refit."""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import django

django.setup()

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from annotation.models import Comparison, Judgment
from inference.models import ModelEndpoint
from ranking.glue import refits
from ranking.models import RatingSnapshot

MODELS = 20
CATEGORIES = ("general", "coding", "math", "creative")
PROMPTS = 2000


def _answer(rng_int, model):
    """A short answer whose markdown habits depend on the model (so style control has signal)."""
    words = 10 + rng_int % 60 + 2 * model
    text = (
        ("## Answer\n" if model % 3 == 0 else "") + ("- point\n" * (model % 4)) + ("**key** " * (model % 2))
    )
    return text + "word " * words


def seed(n, rng):
    """Grow the database to n blind pairwise arena votes (one per comparison, as battles are), by COPY."""
    from bench.seeding import copy_rows, finish

    have = Judgment.objects.count()
    if have >= n:
        return have
    started = time.perf_counter()
    voter = get_user_model().objects.get_or_create(username="bench-voter")[0]
    endpoints = [
        ModelEndpoint.objects.get_or_create(name=f"bench-m{i:02d}", defaults={"path": "/none"})[0].pk
        for i in range(MODELS)
    ]
    strength = np.linspace(-2, 2, MODELS)
    new = n - have
    a = rng.integers(0, MODELS, new)
    b = (a + rng.integers(1, MODELS, new)) % MODELS
    u = rng.random(new)
    p_a = 1 / (1 + np.exp(strength[b] - strength[a]))
    outcome = np.where(u < 0.9 * p_a, 0, np.where(u < 0.9, 1, 2))  # A wins, B wins, tie (10%)
    rankings = ("[[0], [1]]", "[[1], [0]]", "[[0, 1]]")
    noise = rng.integers(0, 1000, 2 * new)
    with connection.cursor() as cursor:
        raw = cursor.connection
        p0, c0, r0, s0, j0 = (
            raw.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {t}").fetchone()[0]
            for t in (
                "inference_prompt",
                "annotation_comparison",
                "inference_response",
                "annotation_comparisonslot",
                "annotation_judgment",
            )
        )
        stamp = "2026-01-01T00:00:00Z"
        with raw.cursor() as cur:
            copy_rows(
                cur,
                "inference_prompt",
                ("id", "conversation", "category", "created_at"),
                (
                    (
                        p0 + i,
                        json.dumps([{"role": "user", "content": f"bench {i}"}]),
                        CATEGORIES[i % 4],
                        stamp,
                    )
                    for i in range(PROMPTS)
                ),
            )
            copy_rows(
                cur,
                "inference_response",
                ("id", "prompt_id", "endpoint_id", "status", "text", "created_at"),
                (
                    (
                        r0 + 2 * c + s,
                        p0 + c % PROMPTS,
                        endpoints[m],
                        "done",
                        _answer(int(noise[2 * c + s]), m),
                        stamp,
                    )
                    for c in range(new)
                    for s, m in ((0, int(a[c])), (1, int(b[c])))
                ),
            )
            copy_rows(
                cur,
                "annotation_comparison",
                ("id", "prompt_id", "k", "created_at"),
                ((c0 + c, p0 + c % PROMPTS, 2, stamp) for c in range(new)),
            )
            copy_rows(
                cur,
                "annotation_comparisonslot",
                ("id", "comparison_id", "position", "response_id"),
                ((s0 + 2 * c + s, c0 + c, s, r0 + 2 * c + s) for c in range(new) for s in (0, 1)),
            )
            copy_rows(
                cur,
                "annotation_judgment",
                (
                    "id",
                    "comparison_id",
                    "ranking",
                    "none_acceptable",
                    "source",
                    "annotator_id",
                    "identities_hidden",
                    "created_at",
                ),
                (
                    (j0 + c, c0 + c, rankings[outcome[c]], False, "human", voter.pk, True, stamp)
                    for c in range(new)
                ),
            )
        finish(raw)
    total = Judgment.objects.count()
    print(f"seeded {new:,} judgments by COPY in {time.perf_counter() - started:.1f} s", flush=True)
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=5, help="live refits timed, one more vote before each")
    parser.add_argument("--seed-only", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(0)
    total = seed(args.judgments, rng)
    if args.seed_only:
        return
    fulls = []
    for _ in range(2):  # the first may compute style features of answers not seen before (once per answer)
        RatingSnapshot.objects.all().delete()  # a bench database: every view is written again
        t = time.perf_counter()
        written = refits.full_refit()
        fulls.append(time.perf_counter() - t)
    assert {(s.method, s.style_control) for s in written} == set(refits.VIEWS)
    lives = []
    comparison = Comparison.objects.order_by("-id").first()
    for _ in range(args.votes):
        voter = get_user_model().objects.create(username=f"bench-voter-{time.time_ns()}")
        Judgment.objects.create(
            comparison=comparison, ranking=[[1], [0]], source="human", annotator=voter, identities_hidden=True
        )
        t = time.perf_counter()
        written = refits.live_refit()
        lives.append(time.perf_counter() - t)
    views = sorted({(s.method, s.style_control) for s in written if s.category == ""})
    live = float(np.median(lives))
    if os.environ.get("BENCH_VERBOSE"):
        print("live refits (ms):", [round(1000 * x, 1) for x in lives])
    print(f"{total:,} judgments among {MODELS} models; load average {os.getloadavg()[0]:.1f}")
    print(
        f"baseline: full refit of every view and category from the database, {settings.RANKING_FULL_BOOTSTRAP} "
        f"bootstrap resamples: {fulls[1]:.1f} s (first in this process: {fulls[0]:.1f} s)"
    )
    print(
        f"live refit after one more vote: {1000 * live:.1f} ms median of {len(lives)} "
        f"(max {1000 * max(lives):.1f} ms; views refitted: {views}; intervals: "
        f"{written[0].params['interval']}); ratio {fulls[1] / live:.0f}x"
    )


if __name__ == "__main__":
    main()
