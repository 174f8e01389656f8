"""Convergence benchmark: votes until Kendall tau >= 0.9 (and stays) on synthetic arenas, per method × policy × K.

Run:  .venv/bin/python bench/bench_convergence.py [--votes 4000] [--seeds 3]
Writes bench/results/convergence.png and convergence.json; prints the ratios the issue asks for,
all against baselines simulated in the same run (BT with uniform random pairs; online Elo).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ranking.__main__ import plot_curves  # noqa: E402
from ranking.simulate import simulate  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--votes", type=int, default=4000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--noise", type=float, default=1.0)
    args = ap.parse_args()
    kw = dict(n_models=args.models, votes=args.votes, seeds=args.seeds, every=args.every, noise=args.noise)
    results = simulate(methods=("elo", "bt", "pl", "bayes"), policies=("uniform", "adaptive"), ks=(2, 4), **kw)
    OUT.mkdir(exist_ok=True)
    (OUT / "convergence.json").write_text(json.dumps({"settings": vars(args), "results": results}, indent=1))
    plot_curves(results, OUT / "convergence.png")
    get = {(r["method"], r["policy"], r["k"]): r["median_votes_to_converge"] for r in results}
    print(f"# {args.models} models, {args.votes} votes, {args.seeds} arenas; median votes until tau >= 0.9 and stays")
    for (m, p, k), v in sorted(get.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        print(f"K={k} {m:5s} {p:8s}: {'never' if v is None else int(v)}")
    base = get[("bt", "uniform", 2)]
    elo = get[("elo", "uniform", 2)]
    for m in ("pl", "bayes"):
        v = get[(m, "adaptive", 4)]
        if v is not None and base is not None:
            print(f"ratio: BT uniform K=2 / {m} adaptive K=4 = {base / v:.1f}x fewer votes")
        if v is not None:
            print(f"ratio: online Elo K=2 / {m} adaptive K=4 = {'never converged' if elo is None else f'{elo / v:.1f}x'}")
    for m in ("bt", "bayes"):
        v = get[(m, "adaptive", 2)]
        u = get[(m, "uniform", 2)]
        print(f"K=2 {m}: adaptive {v} vs uniform {u} votes")


if __name__ == "__main__":
    main()
