"""Online Elo over rankings with tie groups (pure Python; no Django).

A K-wise ranking is broken into its pairs; a pair in one tie group scores a
half win each. Every pair of one judgment is scored against the ratings as
they stood before that judgment, so the order of pairs inside it does not matter."""

from collections import defaultdict
from dataclasses import dataclass

from .judgments import ranking_pairs


@dataclass
class EloRow:
    model: str
    rating: float
    battles: int = 0
    wins: int = 0
    ties: int = 0
    losses: int = 0

    @property
    def win_rate(self):
        """Share of pairwise outcomes won, ties counted half."""
        return (self.wins + 0.5 * self.ties) / self.battles if self.battles else None


def expected_score(rating_a, rating_b, scale=400.0, base=10.0):
    return 1.0 / (1.0 + base ** ((rating_b - rating_a) / scale))


def online_elo(rankings, k=32.0, initial=1000.0, scale=400.0, base=10.0, weights=None):
    """Ratings after replaying the rankings in order; rows best first.

    ``weights`` (optional, one per ranking) scale that judgment's K-factor."""
    if not k > 0 or k != k or k == float("inf"):
        raise ValueError(f"The Elo K-factor must be positive, got {k}.")
    rows = {}

    def row(model):
        if model not in rows:
            rows[model] = EloRow(model=model, rating=initial)
        return rows[model]

    for t, ranking in enumerate(rankings):
        kt = k if weights is None else k * weights[t]
        delta = defaultdict(float)
        for a, b, score in ranking_pairs(ranking):
            ra, rb = row(a), row(b)
            change = kt * (score - expected_score(ra.rating, rb.rating, scale, base))
            delta[a] += change
            delta[b] -= change
            ra.battles += 1
            rb.battles += 1
            if score == 0.5:
                ra.ties += 1
                rb.ties += 1
            else:
                ra.wins += 1
                rb.losses += 1
        for model, change in delta.items():
            rows[model].rating += change
    return sorted(rows.values(), key=lambda r: (-r.rating, r.model))


def elo_bootstrap(rankings_idx, n_models, B, rng, k=4.0, weights=None, scale=400.0, base=10.0, initial=1000.0):
    """Online Elo on B bootstrap resamples at once (each a resample of the judgments, in random order).

    ``rankings_idx``: rankings as tuples of tuples of model indices. Returns (B, n_models)."""
    import numpy as np

    N = len(rankings_idx)
    pair_lists = [list(ranking_pairs(r)) for r in rankings_idx]
    P = max((len(p) for p in pair_lists), default=1)
    pa = np.zeros((N, P), dtype=np.int64)
    pb = np.zeros((N, P), dtype=np.int64)
    ps = np.zeros((N, P))
    pm = np.zeros((N, P))
    for t, pl in enumerate(pair_lists):
        for x, (a, b, s) in enumerate(pl):
            pa[t, x], pb[t, x], ps[t, x], pm[t, x] = a, b, s, 1.0
    w = np.ones(N) if weights is None else np.asarray(weights, dtype=float)
    R = np.full((B, n_models), float(initial))
    rows = np.arange(B)[:, None]
    draws = rng.integers(0, N, size=(B, N))
    for t in range(N):
        j = draws[:, t]
        A, Bm, S, Mk = pa[j], pb[j], ps[j], pm[j] * (k * w[j])[:, None]
        ea = 1.0 / (1.0 + base ** ((R[rows, Bm] - R[rows, A]) / scale))
        change = Mk * (S - ea)
        flat = R.reshape(-1)
        np.add.at(flat, (rows * n_models + A).reshape(-1), change.reshape(-1))
        np.add.at(flat, (rows * n_models + Bm).reshape(-1), -change.reshape(-1))
    return R
