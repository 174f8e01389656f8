"""Rating engine benchmarks: correctness against an independent reference, speed, live refresh.

Run:  .venv/bin/python bench/bench_rating.py [--battles 1000000] [--models 100] [--bootstrap 1000]

Every figure is printed with its baseline measured in the same run (the machine is
shared and noisy; timings are the best of --repeat runs). Nothing here is a test.
"""

import os

# Small dense linear algebra (100 x 100) is much slower with BLAS threads on a loaded shared machine;
# the Celery worker should run with the same setting. Set before numpy loads; override from the shell.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ranking import OnlineRanker
from ranking.bt import DEFAULT_REG
from ranking.judgments import POINTS_PER_LOGIT, Judgments
from ranking.leaderboard import fit_leaderboard
from ranking.style import StyleProblem, zscore


def best_of(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), times, out


def synth_battles(n, M, seed=0, tie_rate=0.1):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1.0, M)
    a = rng.integers(0, M, n)
    b = (a + rng.integers(1, M, n)) % M
    p = 1 / (1 + np.exp(-(theta[a] - theta[b])))
    u = rng.random(n)
    tie = u < tie_rate
    win = (~tie) & (rng.random(n) < p)
    y = np.where(tie, 0.5, np.where(win, 1.0, 0.0))
    la = rng.integers(20, 1200, n)
    lb = rng.integers(20, 1200, n)
    return theta, a, b, y, la, lb


def reference_bt(a, b, y, M, reg):
    """Independent reference: per-battle logistic regression (scipy L-BFGS) on the expanded battles;
    a tie is one row with target 1/2 (same as a half win and a half loss)."""

    def f(th):
        z = th[a] - th[b]
        ll = y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z)
        p = 1 / (1 + np.exp(-z))
        r = y - p
        g = np.bincount(a, r, M) - np.bincount(b, r, M) - reg * th
        return -(ll.sum() - 0.5 * reg * th @ th), -g

    res = minimize(
        f, np.zeros(M), jac=True, method="L-BFGS-B", options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-15}
    )
    return res.x


def to_rankings(a, b, y, names):
    out = []
    for i, j, s in zip(a.tolist(), b.tolist(), y.tolist()):
        out.append(
            [[names[i], names[j]]]
            if s == 0.5
            else ([[names[i]], [names[j]]] if s == 1 else [[names[j]], [names[i]]])
        )
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--battles", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument(
        "--baseline-rounds", type=int, default=3, help="per-battle bootstrap rounds timed, then scaled"
    )
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    N, M, B = args.battles, args.models, args.bootstrap
    names = [f"model-{i:03d}" for i in range(M)]
    theta, a, b, y, la, lb = synth_battles(N, M)
    print(
        f"# {N:,} battles, {M} models, {B} bootstrap rounds; best of {args.repeat} (shared 2-core machine); "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    )

    # -- loading: rankings -> sufficient statistics (reported, excluded from the fit figure) -------------
    rankings = to_rankings(a, b, y, names)
    t_agg, _, data = best_of(lambda: Judgments.from_rankings(rankings), 1)
    print(
        f"aggregate {N:,} rankings into {len(data.counts):,} unique outcomes: {t_agg:.2f} s (loading; excluded)"
    )

    # -- correctness -------------------------------------------------------------------------------------
    res = fit_leaderboard(data, method="bt")
    ours = np.array([res.strengths[m] for m in names])
    t_ref, _, ref = best_of(lambda: reference_bt(a, b, y, M, DEFAULT_REG), 1)
    ours_pts = POINTS_PER_LOGIT * (ours - ours.mean())
    ref_pts = POINTS_PER_LOGIT * (ref - ref.mean())
    print(
        f"correctness: max |BT - reference logistic regression| = {np.abs(ours_pts - ref_pts).max():.4f} rating points "
        f"(target <= 0.1)"
    )
    small = rankings[:20000]
    bt = {r["model"]: r["rating"] for r in fit_leaderboard(small, method="bt").rows}
    pl = {r["model"]: r["rating"] for r in fit_leaderboard(small, method="pl").rows}
    print(
        f"correctness: max |PL - BT| at K=2 (20,000 battles, ties) = {max(abs(bt[m] - pl[m]) for m in bt):.2e} points"
    )
    bay = fit_leaderboard(rankings[:200000], method="bayes")
    btl = fit_leaderboard(rankings[:200000], method="bt")
    from scipy.stats import kendalltau

    order_b = {r["model"]: i for i, r in enumerate(bay.rows)}
    order_t = [r["model"] for r in btl.rows]
    tau = kendalltau(range(M), [order_b[m] for m in order_t]).statistic
    print(f"correctness: Kendall tau(Bayesian posterior order, BT order) on 200,000 battles = {tau:.3f}")

    # -- evalica (Rust core) as a baseline: BT point estimate from the raw battle arrays, no intervals --
    try:
        import evalica
    except ImportError:
        print("evalica not installed: skipped (pip install evalica==0.4.2)")
    else:
        xs, ys = np.array(names)[a], np.array(names)[b]
        lookup = {1.0: evalica.Winner.X, 0.0: evalica.Winner.Y, 0.5: evalica.Winner.Draw}
        winners = [lookup[v] for v in y.tolist()]
        t_ev, times_ev, ev = best_of(lambda: evalica.bradley_terry(xs, ys, winners), args.repeat)
        outcome = np.where(y == 1, 0, np.where(y == 0, 1, 2))

        def ours_raw():
            counted = Judgments.from_pair_outcomes(names, a, b, outcome)
            return fit_leaderboard(counted, method="bt", ties="half", reg=1e-8)

        t_ours, times_ours, mine = best_of(ours_raw, args.repeat)
        ev_scores = np.log(np.asarray(ev.scores.reindex(names), dtype=float))
        ev_pts = POINTS_PER_LOGIT * (ev_scores - ev_scores.mean())
        mine_pts = np.array([mine.strengths[m] for m in names])
        mine_pts = POINTS_PER_LOGIT * (mine_pts - mine_pts.mean())
        print(
            f"evalica {evalica.__version__} bradley_terry from the raw arrays: {t_ev:.2f} s (runs "
            f"{', '.join(f'{x:.2f}' for x in times_ev)}); ours from the same arrays (count, fit, Laplace "
            f"intervals): {t_ours:.2f} s; ratio {t_ev / t_ours:.1f}x; max |difference| "
            f"{np.abs(ev_pts - mine_pts).max():.3f} points (same data, no prior)"
        )

    # -- speed: BT + bootstrap -----------------------------------------------------------------------
    t_fast, times, fast = best_of(
        lambda: fit_leaderboard(data, method="bt", bootstrap=B, seed=0), args.repeat
    )
    print(
        f"speed: BT + {B} bootstrap on sufficient statistics: {t_fast:.2f} s (runs {', '.join(f'{x:.2f}' for x in times)})"
    )
    rng = np.random.default_rng(1)

    def per_battle_round():
        idx = rng.integers(0, N, N)
        return reference_bt(a[idx], b[idx], y[idx], M, DEFAULT_REG)

    t_one, _, _ = best_of(lambda: reference_bt(a, b, y, M, DEFAULT_REG), 1)
    t_rounds, _, _ = best_of(lambda: [per_battle_round() for _ in range(args.baseline_rounds)], 1)
    t_base = t_one + t_rounds / args.baseline_rounds * B
    print(
        f"baseline: per-battle fit ({t_one:.2f} s) + {B} per-battle bootstrap refits "
        f"({t_rounds / args.baseline_rounds:.2f} s each, {args.baseline_rounds} timed) = {t_base:.0f} s (extrapolated)"
    )
    print(f"speed ratio: {t_base / t_fast:.0f}x faster than the per-battle implementation")
    widths = [r["ci_high"] - r["ci_low"] for r in fast.rows]
    print(f"  (mean 95% interval width {np.mean(widths):.1f} points)")

    # -- style control -------------------------------------------------------------------------------
    X = ((la - lb) / (la + lb + 1.0))[:, None] * np.ones((1, 4)) * np.array([1.0, 0.5, 0.3, 0.2])
    X = X + np.random.default_rng(2).normal(0, 0.05, (N, 4))
    w = np.ones(N)

    def styled():
        Xz, _, _ = zscore(X, w)
        prob = StyleProblem(a, b, y, w, Xz, M)
        x0 = np.zeros(M + 4)
        x0[:M] = ours  # warm start from the plain BT fit
        return prob.solve(x0)

    t_style, times, _ = best_of(styled, args.repeat)

    def styled_baseline():
        Xz, _, _ = zscore(X, w)

        def f(x):
            z = x[a] - x[b] + Xz @ x[M:]
            ll = y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z)
            r = y - 1 / (1 + np.exp(-z))
            g = np.r_[
                np.bincount(a, r, M) - np.bincount(b, r, M) - DEFAULT_REG * x[:M], Xz.T @ r - 0.5 * x[M:]
            ]
            return -(ll.sum() - 0.5 * DEFAULT_REG * x[:M] @ x[:M] - 0.25 * x[M:] @ x[M:]), -g

        return minimize(
            f, np.zeros(M + 4), jac=True, method="L-BFGS-B", options={"maxiter": 1000, "gtol": 1e-8}
        )

    t_style_base, _, _ = best_of(styled_baseline, 1)
    print(
        f"speed: style-controlled BT fit (Newton, warm-started): {t_style:.2f} s (runs {', '.join(f'{x:.2f}' for x in times)});"
        f" per-battle L-BFGS baseline {t_style_base:.2f} s; ratio {t_style_base / t_style:.1f}x"
    )

    # -- live refresh ----------------------------------------------------------------------------------
    ranker = OnlineRanker(names, method="bt")
    W = np.zeros((M, M))
    T = np.zeros((M, M))
    np.add.at(W, (a[y == 1], b[y == 1]), 1)
    np.add.at(W, (b[y == 0], a[y == 0]), 1)
    ti, tj = np.minimum(a[y == 0.5], b[y == 0.5]), np.maximum(a[y == 0.5], b[y == 0.5])
    np.add.at(T, (ti, tj), 1)
    ranker.stats.W, ranker.stats.T = W, T  # a million votes already observed
    ranker.n[:] = np.bincount(a, minlength=M) + np.bincount(b, minlength=M)
    ranker.observed = N
    ranker.leaderboard()  # the standing leaderboard before the new vote
    votes = [[[names[i]], [names[j]]] for i, j in np.random.default_rng(5).integers(0, M, (20, 2)) if i != j]
    lat = []
    for v in votes:
        t = time.perf_counter()
        ranker.observe(v)
        ranker.leaderboard()
        lat.append(time.perf_counter() - t)
    t_cold, _, _ = best_of(lambda: fit_leaderboard(data, method="bt"), 1)
    print(
        f"live refresh: one more vote at {N:,} votes -> new leaderboard in median {1000 * np.median(lat):.1f} ms "
        f"(max {1000 * max(lat):.1f} ms over {len(lat)} votes); full refit from the aggregated data {1000 * t_cold:.0f} ms; "
        f"from the raw votes {1000 * (t_agg + t_cold):.0f} ms; ratio {(t_agg + t_cold) / np.median(lat):.0f}x"
    )


if __name__ == "__main__":
    main()
