"""Coverage of the 95% intervals in simulation (issue 15): methods x votes, tie handling, prior.

Run:  OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_calibration.py [--reps 200]

12 models with true strengths ~ N(0, spread^2) logits, uniformly random pairs (K=4 sets for pl),
10% ties; each line prints the share of intervals that hold the true centred rating, its binomial
standard error, the mean width in rating points and the number of zero-width intervals. The
baseline in the same run is the previous engine's setting (ridge 0.01 = a N(0, 10^2) prior, raw
bootstrap percentiles).
See ranking/calibration.py for the tie models."""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ranking.calibration import coverage


def line(label, **kw):
    t = time.perf_counter()
    r = coverage(**kw)
    print(
        f"{label:<58} {r['coverage']:.3f} ± {r['se']:.3f}  width {r['mean_width']:6.0f}  zero-width "
        f"{r['zero_width']}  ({r['intervals']} intervals, {time.perf_counter() - t:.0f} s)",
        flush=True,
    )
    return r


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    reps = {30: args.reps, 300: args.reps, 3000: max(20, args.reps // 4)}
    print(f"load average {open('/proc/loadavg').read().split()[0]}")
    print("\n# methods (ties simulated the way each models them)")
    cases = [
        ("bt, Davidson ties (ties=auto)", dict(method="bt", tie_model="davidson", ties="auto")),
        (
            "bt + 200 bootstrap, Davidson ties",
            dict(method="bt", tie_model="davidson", ties="auto", bootstrap=200),
        ),
        ("pl, K=4, half ties", dict(method="pl", k=4, tie_model="half")),
        ("bayes, K=2, half ties", dict(method="bayes", tie_model="half")),
        ("bayes, K=4, half ties", dict(method="bayes", k=4, tie_model="half")),
        (
            "baseline: previous engine, bt ridge 0.01, 200 bootstrap",
            dict(method="bt", tie_model="half", ties="half", reg=0.01, bootstrap=200, interval_floor=False),
        ),
    ]
    for votes in (30, 300, 3000):
        for label, kw in cases:
            line(f"{votes:>5} votes  {label}", votes=votes, reps=reps[votes], seed=votes, **kw)
    print("\n# tie handling at 3,000 votes: rows = how ties arise, columns = how they are fitted (bt)")
    for tie_model in ("flat", "davidson", "half"):
        for ties in ("half", "davidson"):
            line(
                f"ties arise {tie_model:<8}, fitted {ties}",
                method="bt",
                votes=3000,
                reps=reps[3000],
                seed=7,
                tie_model=tie_model,
                ties=ties,
            )
    print("\n# the prior N(0, 1) against other true spreads (bt, Davidson ties, 30 and 300 votes)")
    for spread in (0.5, 2.0):
        for votes in (30, 300):
            line(
                f"true spread {spread} logits, {votes} votes",
                method="bt",
                votes=votes,
                reps=reps[votes],
                seed=3,
                tie_model="davidson",
                ties="auto",
                spread=spread,
            )


if __name__ == "__main__":
    main()
