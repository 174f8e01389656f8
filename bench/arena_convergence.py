"""Votes to a settled board through the live arena path: K=4 adaptive battles against pairwise random ones.

    createdb -h 127.0.0.1 -U postgres prefarena_bench_arena
    redis-server --daemonize yes --bind 127.0.0.1 --port 6414 --save "" --appendonly no   # its own cache
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prefarena_bench_arena CACHE_URL=redis://127.0.0.1:6414/0 \
    CELERY_BROKER_URL=redis://127.0.0.1:6414/0 .venv/bin/python bench/arena_convergence.py --seeds 5 --time-limit 1200

The bench empties its database and its cache (use neither for anything else).

Each run empties the bench database, registers --models models with hidden Plackett–Luce strengths
(evenly spaced over --spread logits), gives every model a pooled answer to a few prompts (so battles
open at once, without a worker), and lets simulated voters play battles through the arena's own
services: ``start_battle`` (the arena's matchmaking draws the K models, adaptive from the live
board's estimates), then ``cast_vote`` (a ranking sampled from the hidden strengths; one Judgment).
Every --refit-every votes the live refit runs, as the ranking worker does after a burst of votes,
and the Bradley–Terry board's order is scored by Kendall's tau against the hidden order.

Votes to reach tau >= 0.9: the first checkpoint from which tau stays >= 0.9 for --hold more votes.
Arms (same seeds): K=4 with the adaptive policy against K=2 with the uniform policy (pairwise
random battles, the baseline). Prints each run, the medians, the ratio and the load average.
A run that does not settle within --max-votes counts as --max-votes (a lower bound, flagged '>')."""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Live refits fit every view (the adaptive policy reads the Bayesian one), with fast intervals.
os.environ.setdefault("RANKING_LIVE_ALL_VIEWS_UNDER", "1000000")
os.environ.setdefault("RANKING_LIVE_BOOTSTRAP", "0")

import django

django.setup()

import numpy as np
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from scipy.stats import kendalltau

from arena import services as arena_services
from arena.models import Arena
from inference.models import ModelEndpoint, Prompt, Response
from ranking.glue import refits
from ranking.selectors import latest_snapshot

PROMPTS = ["Name a colour.", "Say hello.", "Count to three.", "Pick a fruit."]


def fresh_arena(models, k, policy):
    """An empty database with one arena of `models` models, each with a pooled answer to every prompt."""
    call_command("flush", interactive=False, verbosity=0)
    cache.clear()
    refits.reset_process_state()
    endpoints = [ModelEndpoint.objects.create(name=f"sim-{i:02d}", path="/none") for i in range(models)]
    for text in PROMPTS:
        prompt = Prompt.objects.create(conversation=[{"role": "user", "content": text}])
        Response.objects.bulk_create(
            Response(prompt=prompt, endpoint=e, status="done", pooled=True, text=f"answer {j}")
            for j, e in enumerate(endpoints)
        )
    arena = Arena.objects.create(name="Bench", slug="bench", k=k, matchmaking=policy)
    arena.endpoints.add(*endpoints)
    return arena


def run(models, spread, k, policy, seed, max_votes, refit_every, hold, deadline):
    """Votes until tau >= 0.9 holds for `hold` votes (or max_votes / the deadline); returns (votes, reached, seconds)."""
    rng = np.random.default_rng(seed)
    arena = fresh_arena(models, k, policy)
    voter = get_user_model().objects.create_user("sim-voter")
    strength = dict(
        zip((f"sim-{i:02d}" for i in range(models)), np.linspace(spread / 2, -spread / 2, models))
    )
    truth = list(strength)  # best first

    # The bench runs the live refit itself, every refit_every votes, as the worker would after a burst;
    # the queued flag stays set so cast_vote enqueues nothing.
    def hold_flag():
        cache.set(refits.REFIT_QUEUED_KEY, 1, timeout=None)

    hold_flag()
    started = time.perf_counter()
    first_ok = None
    votes = 0
    while votes < max_votes and time.monotonic() < deadline:
        battle = arena_services.start_battle(arena, voter, PROMPTS[votes % len(PROMPTS)])
        shown = [
            s.response.endpoint.name
            for s in battle.comparison.slots.select_related("response__endpoint").order_by("position")
        ]
        utility = np.array([strength[name] for name in shown]) + rng.gumbel(size=len(shown))
        ranking = [[int(p)] for p in np.argsort(-utility)]  # a Plackett–Luce draw over the shown positions
        arena_services.cast_vote(battle, voter, ranking=ranking)
        votes += 1
        if votes % refit_every == 0:
            refits.live_refit()
            hold_flag()
            rows = latest_snapshot("bt").rows
            order = [r["model"] for r in rows]
            ok = False
            if len(order) == models:
                tau = kendalltau([truth.index(m) for m in order], range(models)).statistic
                ok = tau >= 0.9
            if ok and first_ok is None:
                first_ok = votes
            elif not ok:
                first_ok = None
            if first_ok is not None and votes - first_ok >= hold:
                return first_ok, True, time.perf_counter() - started
    return votes, False, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument(
        "--spread", type=float, default=3.0, help="logit gap between the best and the worst model"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-votes", type=int, default=3000)
    parser.add_argument("--refit-every", type=int, default=10)
    parser.add_argument("--hold", type=int, default=100, help="votes tau must stay >= 0.9 for")
    parser.add_argument("--time-limit", type=float, default=900, help="seconds for the whole bench")
    parser.add_argument(
        "--all-arms",
        action="store_true",
        help="also K=4 uniform and K=2 adaptive, to tell the K from the policy",
    )
    args = parser.parse_args()
    if "bench" not in os.environ.get("DATABASE_URL", ""):
        sys.exit(
            "Point DATABASE_URL at a bench database (its name must contain 'bench'): each run empties it."
        )
    call_command("migrate", verbosity=0)
    deadline = time.monotonic() + args.time_limit
    arms = [("K=4 adaptive", 4, "adaptive"), ("K=2 uniform (baseline)", 2, "uniform")]
    if args.all_arms:
        arms += [("K=4 uniform", 4, "uniform"), ("K=2 adaptive", 2, "adaptive")]
    results = {name: [] for name, _, _ in arms}
    for seed in range(args.seeds):
        for name, k, policy in arms:
            per_arm = max(30.0, (deadline - time.monotonic()) / len(arms))
            votes, reached, seconds = run(
                args.models,
                args.spread,
                k,
                policy,
                seed,
                args.max_votes,
                args.refit_every,
                args.hold,
                time.monotonic() + per_arm,
            )
            results[name].append((votes, reached))
            print(
                f"seed {seed} {name:24s} votes to tau>=0.9: {'' if reached else '>'}{votes:5d}  ({seconds:.0f} s)",
                flush=True,
            )
        if time.monotonic() > deadline:
            print("time limit reached; stopping after this seed", flush=True)
            break
    medians = {name: float(np.median([v for v, _ in runs])) for name, runs in results.items()}
    for name, runs in results.items():
        flag = "" if all(r for _, r in runs) else " (some runs did not settle: a lower bound)"
        print(f"median {name:24s} {medians[name]:.0f} votes{flag}")
    pairwise = medians[arms[1][0]]
    for name, _, _ in arms[:1] + arms[2:]:
        print(
            f"ratio pairwise random / {name}: {pairwise / medians[name]:.2f}x"
            + (" (goal >= 5x)" if name == arms[0][0] else "")
        )
    print("load average:", open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
