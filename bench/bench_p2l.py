"""P2L-lite (issue 15, section 4): held-out log-loss of per-category boards shrunk to the global one.

Run:  OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_p2l.py [--seeds 3]

20 models with global strengths ~ N(0, 1) logits and per-category deviations ~ N(0, dev^2) in 5
categories; votes on uniformly random pairs in random categories, 10% ties (half a win). Fitted on
the training votes, scored on 5,000 held-out votes (mean cross-entropy per pair; lower is better).
Baselines in the same run: the global Bradley–Terry board (fit_leaderboard, what the arena shows)
and one independent board per category (no shrinkage)."""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from ranking.leaderboard import fit_leaderboard
from ranking.p2l import CategoryBoard, fit_category_board


def votes(rng, theta, delta, n):
    M, C = len(theta), len(delta)
    a = rng.integers(0, M, n)
    b = (a + rng.integers(1, M, n)) % M
    c = rng.integers(0, C, n)
    p = 1 / (1 + np.exp(-(theta[a] - theta[b] + delta[c, a] - delta[c, b])))
    u = rng.random(n)
    tie = u < 0.1
    win = rng.random(n) < p
    rankings = [
        [[f"m{x}", f"m{y}"]] if t else [[f"m{x}"], [f"m{y}"]] if w else [[f"m{y}"], [f"m{x}"]]
        for x, y, t, w in zip(a, b, tie, win)
    ]
    return rankings, [f"c{k}" for k in c]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    print(f"load average {open('/proc/loadavg').read().split()[0]}")
    print("| category sd | training votes | global BT | one board per category | P2L-lite (shrink chosen) |")
    print("|---|---|---|---|---|")
    t0 = time.perf_counter()
    for dev in (0.0, 0.3, 0.6):
        for n in (1000, 5000, 20000):
            res = {"global": [], "separate": [], "p2l": []}
            chosen = []
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                theta = rng.normal(0, 1, 20)
                delta = rng.normal(0, dev, (5, 20))
                train, ctrain = votes(rng, theta, delta, n)
                test, ctest = votes(rng, theta, delta, 5000)
                glob = fit_leaderboard(train, method="bt", ties="half")
                names = sorted(glob.strengths)
                flat = CategoryBoard(
                    names, [], np.array([glob.strengths[m] for m in names]), np.zeros((0, 20)), None
                )
                res["global"].append(flat.log_loss(test, ctest))
                res["separate"].append(fit_category_board(train, ctrain, shrink=1e-3).log_loss(test, ctest))
                board = fit_category_board(train, ctrain)
                chosen.append(board.shrink)
                res["p2l"].append(board.log_loss(test, ctest))
            m = {k: np.mean(v) for k, v in res.items()}
            print(
                f"| {dev} | {n:,} | {m['global']:.4f} | {m['separate']:.4f} | **{m['p2l']:.4f}** "
                f"(shrink {', '.join(f'{s:g}' for s in chosen)}) |",
                flush=True,
            )
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
