"""Online Elo over rankings with tie groups (pure Python; no Django).

A K-wise ranking is broken into its pairs; a pair in one tie group scores a
half win each. Every pair of one judgment is scored against the ratings as
they stood before that judgment, so the order of pairs inside it does not matter."""

from collections import defaultdict
from dataclasses import dataclass


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


def ranking_pairs(ranking):
    """(a, b, score of a) for every pair in a ranking of tie groups, best first."""
    for i, group in enumerate(ranking):
        for j, a in enumerate(group):
            for b in group[j + 1 :]:
                yield a, b, 0.5
        for lower in ranking[i + 1 :]:
            for a in group:
                for b in lower:
                    yield a, b, 1.0


def online_elo(rankings, k=32.0, initial=1000.0, scale=400.0, base=10.0):
    """Ratings after replaying the rankings in order; rows best first."""
    if k <= 0:
        raise ValueError(f"The Elo K-factor must be positive, got {k}.")
    rows = {}

    def row(model):
        if model not in rows:
            rows[model] = EloRow(model=model, rating=initial)
        return rows[model]

    for ranking in rankings:
        delta = defaultdict(float)
        for a, b, score in ranking_pairs(ranking):
            ra, rb = row(a), row(b)
            change = k * (score - expected_score(ra.rating, rb.rating, scale, base))
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
