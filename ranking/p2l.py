"""Prompt-conditioned ratings, P2L-lite: per-category strengths shrunk toward the global board (no Django).

Each vote carries a category (a prompt category, or a prompt cluster's label). A model's strength
in category c is theta_m + delta_cm, with theta the global board (prior N(0, 1), as every fit here)
and delta_c ~ N(0, 1 / shrink) per model and category:

    logit P(a beats b | c) = theta_a - theta_b + delta_ca - delta_cb,   ties half a win.

``shrink`` large pulls every category onto the global board; 0 fits each category alone. By
default it is chosen by K-fold cross-validated log-loss on the training votes (``SHRINK_GRID``).
This is the count-based core of Prompt-to-Leaderboard (Frick et al., 2025) without the prompt
encoder: a category's board borrows strength from the others where it has few votes.
"""

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .bt import DEFAULT_REG, Arr
from .judgments import CENTER, POINTS_PER_LOGIT, canonical_ranking, ranking_pairs

SHRINK_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


class CategoryBoard:
    """A fitted P2L-lite board: ``rating(model, category=None)``, ``predict(a, b, category)``,
    ``log_loss(rankings, categories)``; ``shrink`` as chosen."""

    def __init__(
        self, models: list[str], categories: list[Any], theta: Arr, delta: Arr, shrink: float
    ) -> None:
        self.models, self.categories = models, categories
        self.index = {m: i for i, m in enumerate(models)}
        self.cindex = {c: i for i, c in enumerate(categories)}
        self.theta, self.delta, self.shrink = theta, delta, shrink

    def strength(self, model: str, category: Any = None) -> float:
        i = self.index[model]
        extra = self.delta[self.cindex[category], i] if category in self.cindex else 0.0
        return float(self.theta[i] + extra)

    def rating(self, model: str, category: Any = None) -> float:
        """Points on the usual scale, centred on the global board's mean."""
        return float(CENTER + POINTS_PER_LOGIT * (self.strength(model, category) - self.theta.mean()))

    def predict(self, a: str, b: str, category: Any = None) -> float:
        """P(a beats b) in the category (an unknown model counts as average, an unknown category as global)."""
        sa = self.strength(a, category) if a in self.index else self.theta.mean()
        sb = self.strength(b, category) if b in self.index else self.theta.mean()
        return float(1.0 / (1.0 + np.exp(-(sa - sb))))

    def log_loss(self, rankings: Iterable[Any], categories: Iterable[Any]) -> float:
        """Mean cross-entropy per pair (a tie scores half each way)."""
        total, n = 0.0, 0
        for ranking, c in zip(rankings, categories):
            for a, b, s in ranking_pairs(canonical_ranking(ranking)):
                p = min(max(self.predict(a, b, c), 1e-12), 1 - 1e-12)
                total -= s * np.log(p) + (1 - s) * np.log(1 - p)
                n += 1
        return float(total / max(n, 1))


def _pairs(
    rankings: Sequence[Any], categories: Sequence[Any], models: list[str], cats: list[Any]
) -> tuple[Arr, Arr, Arr]:
    index = {m: i for i, m in enumerate(models)}
    cindex = {c: i for i, c in enumerate(cats)}
    cells: dict[tuple[int, int, int], tuple[float, int]] = {}
    for t, (ranking, c) in enumerate(zip(rankings, categories)):
        for a, b, s in ranking_pairs(canonical_ranking(ranking, position=t)):
            i, j = index[a], index[b]
            if i > j:
                i, j, s = j, i, 1.0 - s
            key = (i, j, cindex[c])
            w, n = cells.get(key, (0.0, 0))
            cells[key] = (w + s, n + 1)
    keys = np.array(list(cells), dtype=np.int64).reshape(-1, 3)
    won = np.array([v[0] for v in cells.values()])
    total = np.array([v[1] for v in cells.values()], dtype=float)
    return keys, won, total


def _solve(
    keys: Arr,
    won: Arr,
    total: Arr,
    M: int,
    C: int,
    reg: float,
    shrink: float,
    iterations: int = 50,
    tol: float = 1e-8,
) -> tuple[Arr, Arr]:
    """Newton on x = [theta (M), delta (C x M)] with a dense Hessian (M (C + 1) is small)."""
    D = M * (C + 1)
    P = len(keys)
    rows = np.repeat(np.arange(P), 4)
    i, j, c = keys[:, 0], keys[:, 1], keys[:, 2]
    cols = np.stack([i, j, M + c * M + i, M + c * M + j], axis=1).reshape(-1)
    vals = np.tile([1.0, -1.0, 1.0, -1.0], P)
    X = np.zeros((P, D))
    np.add.at(X, (rows, cols), vals)
    prec = np.r_[np.full(M, reg), np.full(C * M, shrink if shrink > 0 else 1e-6)]
    x = np.zeros(D)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(X @ x)))
        g = X.T @ (won - total * p) - prec * x
        H = (X * (total * p * (1 - p))[:, None]).T @ X + np.diag(prec)
        step = np.linalg.solve(H, g)
        x += step
        if np.abs(step).max() < tol:
            break
    return x[:M], x[M:].reshape(C, M)


def fit_category_board(
    rankings: Iterable[Any],
    categories: Iterable[Any],
    shrink: float | None = None,
    reg: float = DEFAULT_REG,
    folds: int = 3,
    seed: int = 0,
) -> CategoryBoard:
    """Fit P2L-lite; ``shrink=None`` picks it from SHRINK_GRID by ``folds``-fold cross-validation."""
    rankings, categories = list(rankings), list(categories)
    if len(rankings) != len(categories):
        raise ValueError(f"Give one category per ranking: {len(categories)} for {len(rankings)} rankings.")
    if not rankings:
        raise ValueError("No judgments to rate: pass at least one ranking.")
    models = sorted({m for r in rankings for g in r for m in g})
    cats = sorted(set(categories), key=str)
    M, C = len(models), len(cats)
    if shrink is None:
        rng = np.random.default_rng(seed)
        fold = rng.integers(0, folds, len(rankings))
        scores = []
        for s in SHRINK_GRID:
            loss = 0.0
            for f in range(folds):
                train = [t for t in range(len(rankings)) if fold[t] != f]
                test = [t for t in range(len(rankings)) if fold[t] == f]
                keys, won, total = _pairs(
                    [rankings[t] for t in train], [categories[t] for t in train], models, cats
                )
                theta, delta = _solve(keys, won, total, M, C, reg, s)
                board = CategoryBoard(models, cats, theta, delta, s)
                loss += board.log_loss([rankings[t] for t in test], [categories[t] for t in test]) * len(test)
            scores.append(loss / len(rankings))
        shrink = SHRINK_GRID[int(np.argmin(scores))]
    keys, won, total = _pairs(rankings, categories, models, cats)
    theta, delta = _solve(keys, won, total, M, C, reg, shrink)
    return CategoryBoard(models, cats, theta, delta, shrink)
