"""Convergence benchmark: votes until Kendall tau >= 0.9 (and stays) on synthetic arenas, per method × policy × K.

Run:  OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_convergence.py [--votes 4000] [--seeds 8] [--jobs 2]
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
    args = ap.parse_args()
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


def gains(sizes, args):
    """Votes to tau >= 0.9 of BT with uniform random pairs at K=2 over those of each adaptive
    configuration, arena by arena (same seed and size): geometric mean, spread, arenas that never
    settled (counted at the run's length, so a gain against such an arena is a lower bound)."""
    t0 = time.perf_counter()
    per = {}
    for size in sizes:
        kw = dict(
            n_models=size,
            votes=args.votes,
            seeds=args.seeds,
            every=args.every,
            noise=args.noise,
            jobs=args.jobs,
        )
        for r in simulate(methods=("bt",), policies=("uniform",), ks=(2,), **kw) + simulate(
            methods=("bt", "pl", "bayes"), policies=("adaptive",), ks=(2, 4), **kw
        ):
            per.setdefault((r["method"], r["policy"], r["k"]), []).extend(r["converged_at"])
    base = per[("bt", "uniform", 2)]
    print(
        f"# sizes {sizes}, {args.seeds} arenas each, {args.votes} votes, noise {args.noise}; "
        f"{time.perf_counter() - t0:.0f} s; load average {open('/proc/loadavg').read().split()[0]}"
    )
    print(f"BT uniform K=2: never settled in {sum(b is None for b in base)} of {len(base)} arenas")
    for key, conv in sorted(per.items(), key=lambda kv: (kv[0][2], kv[0][0])):
        if key == ("bt", "uniform", 2):
            continue
        ratios = [(b or args.votes) / (c or args.votes) for b, c in zip(base, conv)]
        geo = float(np.exp(np.mean(np.log(ratios))))
        print(
            f"K={key[2]} {key[0]:5s} {key[1]}: geometric-mean gain {geo:.1f}x, spread {min(ratios):.1f}x to "
            f"{max(ratios):.1f}x, below 1x in {sum(r < 1 for r in ratios)}, never settled in "
            f"{sum(c is None for c in conv)} of {len(conv)}"
        )


if __name__ == "__main__":
    main()
