"""Convergence benchmark: votes until Kendall tau >= 0.9 (and stays) on synthetic arenas, per method × policy × K.

Run:  OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_convergence.py [--votes 4000] [--seeds 8] [--jobs 2]
      ... bench_convergence.py --gains 20,30 --noisy 0.05,0.1,0.15 --replicates 3 --floor   (issue 15, section 3)
Writes bench/results/convergence.png and convergence.json; prints the ratios the issue asks for,
all against baselines simulated in the same run (BT with uniform random pairs; online Elo).
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from ranking.__main__ import plot_curves
from ranking.simulate import simulate

OUT = Path(__file__).resolve().parent / "results"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--votes", type=int, default=4000)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2, help="arenas simulated in parallel processes")
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--noise", type=float, default=1.0)
    ap.add_argument(
        "--gains",
        help="comma-separated arena sizes: print per-arena gains of adaptive matchmaking "
        "(bt, pl, bayes at K=2 and 4) over BT with random pairs, with their spread",
    )
    ap.add_argument(
        "--noisy",
        default="0",
        help="with --gains: comma-separated shares of noisy voters (random rankings); every share is "
        "its own set of arenas",
    )
    ap.add_argument("--replicates", type=int, default=1, help="with --gains: independent plays per arena")
    ap.add_argument(
        "--floor", action="store_true", help="with --gains: also measure the baseline's noise floor"
    )
    ap.add_argument("--methods", default="bt,pl,bayes", help="with --gains: adaptive methods to measure")
    ap.add_argument("--ks", default="2,4", help="with --gains: K of the adaptive arms")
    ap.add_argument("--verbose", action="store_true", help="with --gains: print every arena's figures")
    args = ap.parse_args()
    args.noisy = [float(x) for x in args.noisy.split(",")]
    args.methods = tuple(args.methods.split(","))
    args.ks = tuple(int(x) for x in args.ks.split(","))
    if args.gains:
        return gains([int(x) for x in args.gains.split(",")], args)
    kw = dict(n_models=args.models, votes=args.votes, seeds=args.seeds, every=args.every, noise=args.noise)
    t0 = time.perf_counter()
    results = simulate(
        methods=("elo", "bt", "pl", "bayes"),
        policies=("uniform", "adaptive"),
        ks=(2, 4),
        jobs=args.jobs,
        **kw,
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "convergence.json").write_text(json.dumps({"settings": vars(args), "results": results}, indent=1))
    plot_curves(results, OUT / "convergence.png")
    get = {(r["method"], r["policy"], r["k"]): r["median_votes_to_converge"] for r in results}
    per_seed = {(r["method"], r["policy"], r["k"]): r["converged_at"] for r in results}
    print(
        f"# {args.models} models, {args.votes} votes, {args.seeds} arenas; median votes until tau >= 0.9 and stays "
        f"({time.perf_counter() - t0:.0f} s with {args.jobs} processes)"
    )
    for (m, p, k), v in sorted(get.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        seeds = ", ".join("never" if c is None else str(c) for c in per_seed[(m, p, k)])
        print(f"K={k} {m:5s} {p:8s}: {'never' if v is None else int(v)}   (per arena: {seeds})")
    base = get[("bt", "uniform", 2)]
    elo = get[("elo", "uniform", 2)]
    for m in ("pl", "bayes"):
        v = get[(m, "adaptive", 4)]
        if v is not None and base is not None:
            print(f"ratio: BT uniform K=2 / {m} adaptive K=4 = {base / v:.1f}x fewer votes")
        ratios = [
            (b if b is not None else float("inf")) / a
            for a, b in zip(per_seed[(m, "adaptive", 4)], per_seed[("bt", "uniform", 2)])
            if a is not None
        ]
        if ratios:
            print(
                f"  per arena: median of (BT uniform K=2 / {m} adaptive K=4) = {np.median(ratios):.1f}x "
                f"over {len(ratios)} arenas where {m} settled (an arena where BT never settles counts as infinite)"
            )
        if v is not None:
            print(
                f"ratio: online Elo K=2 / {m} adaptive K=4 = {'never converged' if elo is None else f'{elo / v:.1f}x'}"
            )
    for m in ("bt", "bayes"):
        v = get[(m, "adaptive", 2)]
        u = get[(m, "uniform", 2)]
        print(f"K=2 {m}: adaptive {v} vs uniform {u} votes")


def _arms(args, size, noisy, replicate):
    """Per arena of this size and noise: votes to settle, per (method, policy, K, replicate)."""
    kw = dict(
        n_models=size,
        votes=args.votes,
        seeds=args.seeds,
        every=args.every,
        noise=args.noise,
        noisy=noisy,
        jobs=args.jobs,
        replicate=replicate,
    )
    runs = simulate(methods=("bt",), policies=("uniform",), ks=(2,), **kw)
    if replicate < args.replicates:
        runs += simulate(methods=args.methods, policies=("adaptive",), ks=args.ks, **kw)
    return runs


def _median(values, votes):
    """Median over replicates; a replicate that never settled counts as the run's length."""
    return float(np.median([v or votes for v in values]))


def gains(sizes, args):
    """Votes to tau >= 0.9 of BT with uniform random pairs at K=2 over those of each adaptive
    configuration, arena by arena (same seed, size and share of noisy voters): geometric mean, spread,
    arenas that never settled (counted at the run's length, so a gain against such an arena is a lower
    bound). With --replicates R each arena is played R times with independent votes and matchups and
    the median is used. The noise floor plays the baseline R more times and divides one set of
    medians by the other: the spread a policy with no gain at all would show."""
    t0 = time.perf_counter()
    load0 = open("/proc/loadavg").read().split()[0]
    per = {}  # (method, policy, k) -> list over arenas of list over replicates
    for size in sizes:
        for noisy in args.noisy:
            block = {}
            for rep in range(2 * args.replicates if args.floor else args.replicates):
                for r in _arms(args, size, noisy, rep):
                    key = (r["method"], r["policy"], r["k"])
                    if key == ("bt", "uniform", 2) and rep >= args.replicates:
                        key = ("floor", "uniform", 2)
                    block.setdefault(key, []).append(r["converged_at"])
            for key, reps in block.items():  # reps: replicates x seeds -> seeds x replicates
                per.setdefault(key, []).extend(zip(*reps))
    base = [_median(b, args.votes) for b in per.pop(("bt", "uniform", 2))]
    if args.verbose:
        print({k: v for k, v in per.items()}, base)
    print(
        f"# sizes {sizes}, noisy voters {args.noisy}, {args.seeds} arenas each, {args.replicates} replicate(s) "
        f"per arena, {args.votes} votes, noise {args.noise}; {time.perf_counter() - t0:.0f} s; load average "
        f"{load0} -> {open('/proc/loadavg').read().split()[0]}"
    )
    print(
        f"BT uniform K=2 (baseline): median votes {np.median(base):.0f}, hit the {args.votes}-vote limit in "
        f"{sum(b >= args.votes for b in base)} of {len(base)} arenas"
    )
    for key, conv in sorted(per.items(), key=lambda kv: (kv[0][0] != "floor", kv[0][2], kv[0][0])):
        ratios = [b / _median(c, args.votes) for b, c in zip(base, conv)]
        geo = float(np.exp(np.mean(np.log(ratios))))
        label = (
            "noise floor (BT uniform K=2 again)" if key[0] == "floor" else f"K={key[2]} {key[0]:5s} {key[1]}"
        )
        print(
            f"{label}: geometric-mean gain {geo:.2f}x, spread {min(ratios):.2f}x to {max(ratios):.2f}x "
            f"(10th-90th percentile {np.percentile(ratios, 10):.2f}x to {np.percentile(ratios, 90):.2f}x), "
            f"below 1x in {sum(r < 1 for r in ratios)} of {len(ratios)}, hit the limit in "
            f"{sum(_median(c, args.votes) >= args.votes for c in conv)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
