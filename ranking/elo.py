"""Online Elo over rankings with tie groups (pure Python; no Django).

A K-wise ranking is broken into its pairs; a pair in one tie group scores a
half win each. Every pair of one judgment is scored against the ratings as
they stood before that judgment, so the order of pairs inside it does not matter."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .judgments import Key, ranking_pairs


@dataclass
class EloRow:
    model: str
    rating: float
    battles: int = 0
    wins: int = 0
    ties: int = 0
    losses: int = 0

    @property
    def win_rate(self) -> float | None:
        """Share of pairwise outcomes won, ties counted half."""
        return (self.wins + 0.5 * self.ties) / self.battles if self.battles else None


def expected_score(rating_a: float, rating_b: float, scale: float = 400.0, base: float = 10.0) -> float:
    return float(1.0 / (1.0 + base ** ((rating_b - rating_a) / scale)))


def online_elo(
    rankings: Sequence[Sequence[Sequence[str]]],
    k: float = 32.0,
    initial: float = 1000.0,
    scale: float = 400.0,
    base: float = 10.0,
    weights: Any = None,
) -> list[EloRow]:
    """Ratings after replaying the rankings in order; rows best first.

    ``weights`` (optional, one per ranking) scale that judgment's K-factor."""
    if not k > 0 or k != k or k == float("inf"):
        raise ValueError(f"The Elo K-factor must be positive, got {k}.")
    rows: dict[str, EloRow] = {}

    def row(model: str) -> EloRow:
        if model not in rows:
            rows[model] = EloRow(model=model, rating=initial)
        return rows[model]

    for t, ranking in enumerate(rankings):
        kt = k if weights is None else k * weights[t]
        delta: defaultdict[str, float] = defaultdict(float)
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


def elo_bootstrap(
    rankings_idx: Sequence[Key],
    n_models: int,
    B: int,
    rng: Any,
    k: float = 4.0,
    weights: Any = None,
    scale: float = 400.0,
    base: float = 10.0,
    initial: float = 1000.0,
    chunk: int = 1024,
) -> Any:
    """Online Elo on B bootstrap resamples at once (each a resample of the judgments, in random order).

    ``rankings_idx``: rankings as tuples of tuples of model indices. Returns (B, n_models).
    Elo is sequential, so the replay loops over the N judgments once, each step updating all B
    resamples together; draws and their gathers are made a chunk of steps at a time (a (B, N)
    draw matrix would need 8 GB at a million judgments), and when every judgment is one pair
    the step is a plain gather and scatter (no np.add.at)."""
    import numpy as np

    N = len(rankings_idx)
    R = np.full(B * n_models, float(initial))
    if N == 0 or B == 0:
        return R.reshape(B, n_models)
    distinct: dict[Key, int] = {}
    kid = np.fromiter((distinct.setdefault(r, len(distinct)) for r in rankings_idx), np.int64, N)
    pair_lists = [list(ranking_pairs(r)) for r in distinct]
    P = max(len(p) for p in pair_lists)
    U = len(pair_lists)
    pa = np.zeros((U, P), dtype=np.int64)
    pb = np.zeros((U, P), dtype=np.int64)
    ps = np.zeros((U, P))
    pm = np.zeros((U, P))
    for u, pl in enumerate(pair_lists):
        for x, (a, b, s) in enumerate(pl):
            pa[u, x], pb[u, x], ps[u, x], pm[u, x] = a, b, s, 1.0
    w = None if weights is None else np.asarray(weights, dtype=float)
    offset = (np.arange(B) * n_models)[:, None]  # (B, 1): row starts in the flat ratings
    c = np.log(base) / scale
    for start in range(0, N, chunk):
        n = min(chunk, N - start)
        draws = rng.integers(0, N, size=(n, B))
        kk = kid[draws]
        KW = k * (pm[kk] if w is None else pm[kk] * w[draws][..., None])  # (n, B, P)
        IA = pa[kk] + offset[None]
        IB = pb[kk] + offset[None]
        S = ps[kk]
        if P == 1:
            IA, IB, S, KW = IA[..., 0], IB[..., 0], S[..., 0], KW[..., 0]
            for t in range(n):
                ia, ib = IA[t], IB[t]
                ea = 1.0 / (1.0 + np.exp(c * (R[ib] - R[ia])))
                change = KW[t] * (S[t] - ea)
                R[ia] += change  # one pair per resample: no index repeats, a plain scatter is exact
                R[ib] -= change
        else:
            for t in range(n):
                ia, ib = IA[t].reshape(-1), IB[t].reshape(-1)
                ea = 1.0 / (1.0 + np.exp(c * (R[ib] - R[ia])))
                change = KW[t].reshape(-1) * (S[t].reshape(-1) - ea)
                np.add.at(R, ia, change)
                np.add.at(R, ib, -change)
    return R.reshape(B, n_models)
