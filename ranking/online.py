"""OnlineRanker: observe judgments one at a time, draw matchups, read a live leaderboard (no Django).

Sufficient statistics are updated in O(K^2) per judgment; the leaderboard is
refitted lazily (only when read) and warm-started from the previous fit, so one
more vote on top of a million costs a couple of Newton steps over the unique
pair outcomes, not a pass over the votes. Intervals here are fast ones:
Laplace (inverse Hessian) for bt/pl, the posterior for bayes, and
2/sqrt(pairs) logits for elo; ``fit_leaderboard`` gives bootstrap intervals.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import bt as bt_mod
from . import pl as pl_mod
from .bayes import WengLin
from .judgments import CENTER, POINTS_PER_LOGIT, canonical_ranking, check_weights, ranking_pairs
from .leaderboard import DEFAULT_K_FACTOR, METHODS, centered_se, rank_upper_bounds
from .matchmaking import POLICIES, choose_matchup

Z95 = 1.959963984540054
Floats = npt.NDArray[np.float64]
Ranking = tuple[tuple[int, ...], ...]  # tie groups of model indices, best first


class PairCounts:
    """Weighted pairwise sufficient statistics in dense M x M matrices: W[i, j] = i beat j; T[i, j] = ties (i < j)."""

    def __init__(self, M: int) -> None:
        self.W = np.zeros((M, M))
        self.T = np.zeros((M, M))

    def add(self, ranking: Ranking, weight: float = 1.0) -> None:
        for a, b, s in ranking_pairs(ranking):
            if s == 0.5:
                i, j = (a, b) if a < b else (b, a)
                self.T[i, j] += weight
            else:
                self.W[a, b] += weight

    def arrays(self) -> tuple[npt.NDArray[np.intp], Floats, Floats, Floats]:
        upper = np.triu(self.W + self.W.T + self.T, 1)
        rows, cols = np.nonzero(upper)
        pairs = np.stack([rows, cols], axis=1)
        return pairs, self.W[rows, cols], self.W[cols, rows], self.T[rows, cols]


class PLCounts:
    """Incremental Plackett–Luce sufficient statistics: linear vector + coefficient per choice set."""

    def __init__(self, M: int) -> None:
        self.M = M
        self.linear = np.zeros(M)
        self.sets: dict[frozenset[int], float] = {}
        self._keys: list[frozenset[int]] = []
        self._data: Any = None

    def add(self, ranking: Ranking, weight: float = 1.0) -> None:
        linear, sets = pl_mod.ranking_terms(ranking)
        for x, v in linear.items():
            self.linear[x] += weight * v
        for key, v in sets.items():
            if key not in self.sets:
                self._data = None
            self.sets[key] = self.sets.get(key, 0.0) + weight * v

    def problem(self, reg: float) -> pl_mod.PLProblem:
        if self._data is None:
            self._keys = list(self.sets)
            d = pl_mod.PLData.__new__(pl_mod.PLData)
            d.M = self.M
            groups: list[Any] = []
            by_size: dict[int, list[int]] = {}
            for s, key in enumerate(self._keys):
                by_size.setdefault(len(key), []).append(s)
            from scipy import sparse

            for size, id_list in sorted(by_size.items()):
                ids = np.array(id_list, dtype=np.int64)
                members = np.array([sorted(self._keys[s]) for s in ids], dtype=np.int64)
                n = len(ids)
                scatter = sparse.csr_matrix(
                    (np.ones(n * size), (np.arange(n * size), members.reshape(-1))), shape=(n * size, self.M)
                )
                groups.append((ids, members, scatter))
            d.groups = groups
            self._data = d
        coef = np.array([self.sets[k] for k in self._keys])
        return pl_mod.PLProblem(self._data, self.linear[None, :], coef[None, :], reg=reg)


class OnlineRanker:
    """``OnlineRanker(models, method="bt", policy="uniform", k=2, seed=None)``.

    ``.next_matchup()`` -> k distinct model names; ``.observe(ranking, weight=1.0)``;
    ``.leaderboard()`` -> rows best first with model, score, rating (= score),
    ci_low, ci_high, rank_ub, n, sigma, preliminary. Extra keyword options:
    ``weights`` (for policy "weighted"; a weight 0 also excludes a model from
    "adaptive"), ``ties`` ("half" or "davidson", bt), ``k_factor`` (elo),
    ``min_votes``, ``refresh_every`` (adaptive matchmaking refits at most every this many votes)."""

    def __init__(
        self,
        models: Iterable[str],
        method: str = "bt",
        policy: str = "uniform",
        k: int = 2,
        seed: int | Sequence[int] | None = None,
        *,
        weights: Mapping[str, Any] | None = None,
        ties: str = "half",
        k_factor: float = DEFAULT_K_FACTOR,
        min_votes: int = 10,
        reg: float = bt_mod.DEFAULT_REG,
        refresh_every: int = 1,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"Unknown rating method {method!r}; choose one of {', '.join(METHODS)}.")
        if policy not in POLICIES:
            raise ValueError(f"Unknown matchmaking policy {policy!r}; choose one of {', '.join(POLICIES)}.")
        if ties not in ("half", "davidson") or (ties == "davidson" and method != "bt"):
            raise ValueError(f"Tie handling {ties!r} is not available for method {method!r}.")
        models = list(models)
        if len(models) < 2:
            raise ValueError("An OnlineRanker needs at least two models.")
        if len(set(models)) != len(models) or not all(isinstance(m, str) and m for m in models):
            raise ValueError("Models must be distinct non-empty strings.")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= len(models):
            raise ValueError(
                f"k must be a whole number between 2 and the number of models ({len(models)}), got {k!r}."
            )
        self.models = models
        self.index = {m: i for i, m in enumerate(models)}
        self.method, self.policy, self.k, self.ties = method, policy, int(k), ties
        self.weights = weights
        if weights is not None:
            choose_matchup(
                models, k=self.k, policy="weighted", weights=weights, rng=0
            )  # validates the weights
        self.k_factor, self.min_votes, self.reg = float(k_factor), min_votes, reg
        self.rng = np.random.default_rng(seed)
        M = len(models)
        self.n = np.zeros(M, dtype=np.int64)
        self.pairs_played = np.zeros(M)
        self.observed = 0
        self._x: Floats | None = None  # warm start
        self._cache: tuple[Floats, Floats] | None = None
        self._match_stats: dict[str, dict[str, Any]] | None = None
        self._match_at = -1
        self.refresh_every = max(1, int(refresh_every))
        self.stats: Any = None  # PairCounts (bt) or PLCounts (pl)
        if method in ("bt",):
            self.stats = PairCounts(M)
        elif method == "pl":
            self.stats = PLCounts(M)
        elif method == "bayes":
            self.rater = WengLin(M)
        else:
            self.elo = np.full(M, CENTER)

    # -- input -------------------------------------------------------------------------
    def observe(self, ranking: Sequence[Any], weight: float = 1.0) -> None:
        canon = canonical_ranking(ranking, known=self.index)
        check_weights([weight], 1)
        weight = float(weight)
        r = tuple(tuple(sorted(self.index[m] for m in g)) for g in canon)
        for g in r:
            for m in g:
                self.n[m] += 1
                self.pairs_played[m] += sum(len(h) for h in r) - 1
        if self.method in ("bt", "pl"):
            self.stats.add(r, weight)
        elif self.method == "bayes":
            self.rater.update(r, weight)
        else:
            delta = np.zeros(len(self.models))
            for a, b, s in ranking_pairs(r):
                e = 1.0 / (1.0 + 10 ** ((self.elo[b] - self.elo[a]) / 400.0))
                ch = self.k_factor * weight * (s - e)
                delta[a] += ch
                delta[b] -= ch
            self.elo += delta
        self.observed += 1
        self._cache = None

    def observe_many(self, rankings: Sequence[Sequence[Any]], weights: Sequence[float] | None = None) -> None:
        w = check_weights(weights, len(rankings)) if weights is not None else None
        for t, r in enumerate(rankings):
            self.observe(r, 1.0 if w is None else w[t])

    # -- estimates ---------------------------------------------------------------------
    def _estimate(self) -> tuple[Floats, Floats]:
        """(score points (M,), sigma points (M,)) over all models; cached until the next vote."""
        if self._cache is not None:
            return self._cache
        M = len(self.models)
        active = self.n > 0
        if not active.any():
            self._cache = (np.full(M, CENTER), np.full(M, np.inf))
            return self._cache
        if self.method in ("bt", "pl"):
            if self.method == "bt":
                pairs, W, L, T = self.stats.arrays()
                prob = bt_mod.PairProblem(pairs, M, W, L, T, ties=self.ties, reg=self.reg)
            else:
                prob = self.stats.problem(self.reg)
            x0 = self._x if self._x is not None and self._x.size == prob.dim else np.zeros(prob.dim)
            if self._x is None and prob.dim > M:
                x0[M] = -1.0
            x, _, _ = bt_mod.newton(prob, x0[None, :])
            _, H = prob.derivatives(x)
            assert H is not None  # derivatives() with the Hessian asked for (its default)
            self._x = x[0]
            theta = x[0][:M]
            se = centered_se(H[0], active)
        elif self.method == "bayes":
            theta, se = self.rater.mu, self.rater.sigma
        else:
            theta = (self.elo - CENTER) / POINTS_PER_LOGIT
            se = 2.0 / np.sqrt(np.maximum(self.pairs_played, 1.0))
        theta = theta - theta[active].mean()
        score = CENTER + POINTS_PER_LOGIT * theta
        sigma = POINTS_PER_LOGIT * se
        sigma[~active] = np.inf
        self._cache = (score, sigma)
        return self._cache

    def matchmaking_stats(self) -> dict[str, dict[str, Any]]:
        score, sigma = self._estimate()
        return {
            m: {
                "score": float(score[i]),
                "sigma": float(sigma[i]) if math.isfinite(sigma[i]) else None,
                "n": int(self.n[i]),
            }
            for i, m in enumerate(self.models)
        }

    def next_matchup(self) -> list[str]:
        stats = None
        if self.policy == "adaptive":
            # matchmaking may use estimates up to refresh_every votes old (saves refits in simulations)
            if self._match_stats is None or self.observed - self._match_at >= self.refresh_every:
                self._match_stats = self.matchmaking_stats()
                self._match_at = self.observed
            stats = self._match_stats
        return choose_matchup(
            self.models, k=self.k, policy=self.policy, weights=self.weights, stats=stats, rng=self.rng
        )

    def leaderboard(self) -> list[dict[str, Any]]:
        score, sigma = self._estimate()
        active = self.n > 0
        lo = np.where(active, score - Z95 * sigma, -np.inf)
        hi = np.where(active, score + Z95 * sigma, np.inf)
        idx = np.flatnonzero(active)
        rub = np.zeros(len(self.models), dtype=int)
        rub[idx] = rank_upper_bounds(lo[idx], hi[idx])
        order = sorted(range(len(self.models)), key=lambda i: (not active[i], -score[i], self.models[i]))
        rows: list[dict[str, Any]] = []
        for i in order:
            if active[i]:
                rows.append(
                    {
                        "model": self.models[i],
                        "score": float(score[i]),
                        "rating": float(score[i]),
                        "ci_low": float(lo[i]),
                        "ci_high": float(hi[i]),
                        "rank_ub": int(rub[i]),
                        "n": int(self.n[i]),
                        "sigma": float(sigma[i]),
                        "preliminary": bool(self.n[i] < self.min_votes),
                    }
                )
            else:
                rows.append(
                    {
                        "model": self.models[i],
                        "score": None,
                        "rating": None,
                        "ci_low": None,
                        "ci_high": None,
                        "rank_ub": None,
                        "n": 0,
                        "sigma": None,
                        "preliminary": True,
                    }
                )
        return rows
