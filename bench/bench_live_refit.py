"""The leaderboard's live refit through the Django glue, after one more vote, at scale.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prefarena_bench_live \
        .venv/bin/python bench/bench_live_refit.py --judgments 100000

Seeds blind pairwise judgments among 20 models (bulk inserts; a second run reuses them),
then times, in one run: the full refit (every view, read from the database) as the
baseline, and the live refit after one more vote (incremental read; above
RANKING_LIVE_ALL_VIEWS_UNDER only the counted-outcome views refit). Prints both and the ratio."""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from annotation.models import Comparison, ComparisonSlot, Judgment  # noqa: E402
from inference.models import ModelEndpoint, Prompt, Response  # noqa: E402
from ranking import services  # noqa: E402

MODELS = 20


def seed(n, rng):
    have = Judgment.objects.count()
    if have >= n:
        return have
    users = max(1, n // 500)
    User = get_user_model()
    User.objects.bulk_create([User(username=f"bench-{i}") for i in range(users)], ignore_conflicts=True)
    user_ids = list(User.objects.filter(username__startswith="bench-").values_list("id", flat=True))[:users]
    endpoints = [ModelEndpoint.objects.get_or_create(name=f"bench-m{i:02d}", defaults={"path": "/none"})[0] for i in range(MODELS)]
    strength = np.linspace(-2, 2, MODELS)
    comparisons = -(-(n - have) // len(user_ids))
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "bench"}], category="general")
    for start in range(0, comparisons, 500):
        batch = min(500, comparisons - start)
        pairs = [rng.choice(MODELS, 2, replace=False) for _ in range(batch)]
        responses = Response.objects.bulk_create(
            [Response(prompt=prompt, endpoint=endpoints[m], status="done", text="x " * int(rng.integers(5, 50)))
             for pair in pairs for m in pair]
        )
        comps = Comparison.objects.bulk_create([Comparison(prompt=prompt, k=2) for _ in range(batch)])
        ComparisonSlot.objects.bulk_create(
            [ComparisonSlot(comparison=c, position=p, response=responses[2 * i + p]) for i, c in enumerate(comps) for p in (0, 1)]
        )
        judgments = []
        for c, (a, b) in zip(comps, pairs):
            p_a = 1 / (1 + np.exp(strength[b] - strength[a]))
            for uid in user_ids:
                u = rng.random()
                ranking = [[0], [1]] if u < p_a * 0.9 else ([[1], [0]] if u < 0.9 else [[0, 1]])
                judgments.append(Judgment(comparison=c, ranking=ranking, source="human", annotator_id=uid, identities_hidden=True))
        Judgment.objects.bulk_create(judgments, batch_size=5000)
        print(f"  seeded {Judgment.objects.count():,} judgments", end="\r", flush=True)
    print()
    return Judgment.objects.count()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=100_000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(0)
    total = seed(args.judgments, rng)
    t = time.perf_counter()
    services.refit(bootstrap=settings.RANKING_LIVE_BOOTSTRAP + int(time.time()) % 1000 + 1)  # force new snapshots
    t_full = time.perf_counter() - t
    services.live_refit()  # this process reads everything once (as a worker does at its first live refit)
    # One more vote, then the live refit.
    comparison = Comparison.objects.order_by("-id").first()
    voter = get_user_model().objects.create(username=f"bench-voter-{time.time_ns()}")
    Judgment.objects.create(comparison=comparison, ranking=[[1], [0]], source="human", annotator=voter, identities_hidden=True)
    t = time.perf_counter()
    written = services.live_refit()
    t_live = time.perf_counter() - t
    views = sorted({(s.method, s.style_control) for s in written if s.category == ""})
    print(f"{total:,} judgments among {MODELS} models; load average {os.getloadavg()[0]:.1f}")
    print(f"baseline: full refit of every view from the database: {t_full:.2f} s")
    print(f"live refit after one more vote: {1000 * t_live:.0f} ms (views refitted: {views}; "
          f"bootstrap {settings.RANKING_LIVE_BOOTSTRAP}); ratio {t_full / t_live:.0f}x")


if __name__ == "__main__":
    main()
