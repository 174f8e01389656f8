"""Leaderboard diagnostics: win-rate and battle matrices, intransitive cycles, votes to flip a rank (no Django).

- ``win_rate[i][j]``: share of i's pairwise outcomes against j that i won, ties half (None if never met).
- ``battles[i][j]``: number of pairwise outcomes between i and j (a K-wise judgment counts each of its pairs).
- ``cycles``: triples [a, b, c] with a > b > c > a by head-to-head win rate (each cycle once, first
  listed in display order), at most ``max_cycles``.
- ``flip_votes``: for each adjacent pair of the display order, an estimate of how many more votes of
  "lower beats upper" would put lower above upper in a Bradley–Terry refit: the rating gap divided
  by how much one such vote moves the gap (the linearised refit, d gap / d vote =
  (1 - p) * var(theta_lower - theta_upper) from the inverse Hessian). 0 if lower is already ahead.
"""

import math
from typing import Any

import numpy as np

from .bt import DEFAULT_REG, fit_pairs
from .judgments import Judgments


def diagnostics(
    rankings: Any, order: list[str] | None = None, max_cycles: int = 100, weights: Any = None
) -> dict[str, Any]:
    """``rankings``: a list of rankings, or their counted outcomes (a ``Judgments``)."""
    data = (
        rankings
        if isinstance(rankings, Judgments) and weights is None
        else Judgments.from_rankings(rankings, weights)
    )
    if data.n_judgments == 0:
        raise ValueError("No judgments to diagnose: pass at least one ranking.")
    arr = data.arrays()
    pairs = arr["pairs"]
    M = data.n_models
    W, L, T = data.pair_stats()
    # unweighted counts for battles
    cw, cl, ct = (
        np.asarray(x)
        for x in (arr["A_w"].T @ arr["counts"], arr["A_l"].T @ arr["counts"], arr["A_t"].T @ arr["counts"])
    )
    theta, _, H, _ = fit_pairs(pairs, M, W, L, T, reg=DEFAULT_REG)
    if order is None:
        order = sorted(data.models, key=lambda m: (-theta[data.index[m]], m))
    else:
        order = list(order)
        unknown = [m for m in order if m not in data.index]
        if unknown:
            raise ValueError(f"order names models without judgments: {unknown}.")
        if len(set(order)) != len(order):
            raise ValueError("order lists a model twice.")
        order += sorted(m for m in data.models if m not in set(order))
    pos = np.array([data.index[m] for m in order])
    inv = np.empty(M, dtype=int)
    inv[pos] = np.arange(M)
    pi, pj = inv[pairs[:, 0]], inv[pairs[:, 1]]
    battles = np.zeros((M, M), dtype=np.int64)
    won = np.zeros((M, M))
    battles[pi, pj] = battles[pj, pi] = np.rint(cw + cl + ct).astype(np.int64)
    won[pi, pj] = cw + 0.5 * ct
    won[pj, pi] = cl + 0.5 * ct
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(battles > 0, won / np.maximum(battles, 1), np.nan)
    win_rate = [[None if math.isnan(v) else round(float(v), 6) for v in row] for row in rate]
    # cycles: a beats b, b beats c, c beats a (strictly, head to head)
    beats = np.nan_to_num(rate, nan=0.5) > 0.5
    cycles = []
    for a in range(M):
        bs = np.flatnonzero(beats[a])
        for b in bs[bs > a]:
            cs = np.flatnonzero(beats[b] & beats[:, a])
            for c in cs[cs > a]:
                cycles.append([order[a], order[b], order[c]])
                if len(cycles) >= max_cycles:
                    break
            if len(cycles) >= max_cycles:
                break
        if len(cycles) >= max_cycles:
            break
    # votes to flip each adjacent pair
    cov = np.linalg.inv(-H)
    flips = []
    for r in range(M - 1):
        votes: int | None
        u, low = pos[r], pos[r + 1]
        gap = theta[u] - theta[low]
        if gap <= 0:
            votes = 0
        else:
            e = np.zeros(M)
            e[low], e[u] = 1.0, -1.0
            var = float(e @ cov @ e)
            p_lower = 1.0 / (1.0 + math.exp(gap))
            # one Newton step of the refit with v extra votes (rank-one Hessian update, Sherman–Morrison):
            # gap change = v (1-p) s / (1 + v p (1-p) s); solve for the v that closes the gap
            denom = (1.0 - p_lower) * var * (1.0 - gap * p_lower)
            votes = (
                int(math.ceil(gap / denom))
                if denom > 0
                else _flip_by_refit(pairs, M, W, L, T, low, u, gap, var)
            )
        flips.append({"upper": order[r], "lower": order[r + 1], "votes": votes})
    return {
        "models": order,
        "win_rate": win_rate,
        "battles": battles.tolist(),
        "cycles": cycles,
        "flip_votes": flips,
    }


def _flip_by_refit(
    pairs: Any, M: int, W: Any, L: Any, T: Any, lower: int, upper: int, gap: float, var: float
) -> int | None:
    """Votes to flip by exact refits (doubling, then bisection) when the one-step estimate does not apply."""
    key = (min(lower, upper), max(lower, upper))
    p = next(i for i, pr in enumerate(map(tuple, pairs)) if pr == key)

    def flipped(v: int) -> bool:
        W2, L2 = W.copy(), L.copy()
        if lower < upper:
            W2[p] += v
        else:
            L2[p] += v
        th, _, _, _ = fit_pairs(pairs, M, W2, L2, T)
        return bool(th[lower] >= th[upper])

    hi = max(1, int(gap / max(var, 1e-12)))
    while not flipped(hi):
        hi *= 2
        if hi > 1e9:
            return None
    lo = 0
    while hi - lo > max(1, hi // 100):
        mid = (lo + hi) // 2
        if flipped(mid):
            hi = mid
        else:
            lo = mid
    return hi
