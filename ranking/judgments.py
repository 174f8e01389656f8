"""Validated judgments and their sufficient statistics (pure numpy; no Django).

A judgment is a ranking of K >= 2 models with tie groups, best first:
``[["a"], ["b", "c"], ["d"]]``. Identical judgments (same ranking, same weight)
are aggregated into one row with a count, so every fit costs O(unique outcomes)
rather than O(votes), and a bootstrap resamples the count vector.
"""

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NoReturn, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")
# A ranking as model indices: tie groups (sorted tuples), best first.
Key = tuple[tuple[int, ...], ...]
FloatArray = npt.NDArray[np.float64]

# Natural-log odds -> the familiar scale: 400 points per factor of 10 in odds.
POINTS_PER_LOGIT = 400.0 / math.log(10.0)
CENTER = 1000.0


def _fail(message: str) -> NoReturn:
    raise ValueError(message)


def canonical_ranking(
    ranking: Any, index: object = None, known: Any = None, position: int | None = None
) -> tuple[tuple[str, ...], ...]:
    """Check one ranking and return it as a tuple of sorted tuples of names.

    ``known``: a set of allowed model names (unknown names are refused).
    ``position``: the ranking's index, quoted in error messages."""
    where = f"Ranking {position}" if position is not None else "A ranking"
    if isinstance(ranking, (str, bytes)) or not hasattr(ranking, "__iter__"):
        _fail(f"{where} must be a list of tie groups (lists of model names), got {type(ranking).__name__}.")
    groups: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for group in ranking:
        if isinstance(group, (str, bytes)) or not hasattr(group, "__iter__"):
            _fail(f"{where} has a tie group that is not a list of model names: {group!r}.")
        group = list(group)
        if not group:
            _fail(f"{where} has an empty tie group.")
        for name in group:
            if not isinstance(name, str) or not name:
                _fail(f"{where} names a model with a non-string or empty name: {name!r}.")
            if name in seen:
                _fail(f"{where} names model {name!r} twice; each model may appear once per ranking.")
            if known is not None and name not in known:
                _fail(f"{where} names unknown model {name!r}; known models are listed in `models`.")
            seen.add(name)
        groups.append(tuple(sorted(group)))
    if not groups:
        _fail(f"{where} is empty; a ranking needs at least two models.")
    if len(seen) < 2:
        _fail(f"{where} has fewer than two models ({sorted(seen)}); a ranking compares at least two.")
    return tuple(groups)


def _raw_key(ranking: Any) -> tuple[Any, ...]:
    if isinstance(ranking, (str, bytes)):
        raise TypeError
    return tuple(tuple(g) if not isinstance(g, (str, bytes)) else g for g in ranking)


def check_weights(weights: Any, n: int) -> FloatArray | None:
    """Weights as a float array, one positive finite number per ranking."""
    if weights is None:
        return None
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        _fail("Weights must be numbers, one per ranking.")
    if w.ndim != 1 or len(w) != n:
        _fail(
            f"Weights must be a flat list with one number per ranking: got {w.size} weights for {n} rankings."
        )
    bad = ~np.isfinite(w)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _fail(f"Weight {i} is {w[i]}; weights must be finite (no NaN or infinity).")
    bad = w <= 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _fail(f"Weight {i} is {w[i]}; weights must be positive.")
    return w


def ranking_pairs(ranking: Sequence[Sequence[T]]) -> Iterator[tuple[T, T, float]]:
    """(a, b, score of a) for every pair of a ranking of tie groups, best first (names or
    indices alike); 1 = a better, 0.5 = tie."""
    for g, group in enumerate(ranking):
        for x, a in enumerate(group):
            for b in group[x + 1 :]:
                yield a, b, 0.5
        for lower in ranking[g + 1 :]:
            for a in group:
                for b in lower:
                    yield a, b, 1.0


class Judgments:
    """Sufficient statistics of a set of judgments: unique (ranking, weight) rows with counts.

    Rankings are stored as tuples of tuples of model indices. ``models`` fixes
    the index order; models first seen in a ranking are appended unless the
    set is ``closed`` (then unknown names raise ValueError). ``keep_order=True`` also keeps
    ``sequence``: every judgment's index ranking in the order added (the order-dependent
    methods, Elo and Bayesian, and style control replay it); identical rankings share one
    tuple, so a million votes cost a list of pointers. Unweighted only."""

    def __init__(self, models: Iterable[str] | None = None, keep_order: bool = False) -> None:
        self.models: list[str] = []
        self.index: dict[str, int] = {}
        self.closed = models is not None
        for name in models or []:
            if not isinstance(name, str) or not name:
                _fail(f"Model names must be non-empty strings, got {name!r}.")
            if name in self.index:
                _fail(f"Model {name!r} is listed twice in `models`.")
            self.index[name] = len(self.models)
            self.models.append(name)
        self.counts: Counter[tuple[Key, float]] = Counter()  # (ranking idx tuple, weight) -> count
        self.sequence: list[Key] | None = [] if keep_order else None
        self._interned: dict[Key, Key] = {}  # one tuple per distinct ranking, shared by the sequence
        self._cache: dict[str, Any] | None = None

    # -- building -----------------------------------------------------------
    @classmethod
    def from_rankings(
        cls, rankings: Iterable[Any], weights: Any = None, models: Iterable[str] | None = None
    ) -> "Judgments":
        data = cls(models)
        data.extend(rankings, weights)
        return data

    def _model_id(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.models)
            self.models.append(name)
        return i

    def extend(self, rankings: Iterable[Any], weights: Any = None) -> "Judgments":
        """Add many rankings: raw rankings are counted first, validated once per unique one."""
        if isinstance(rankings, (str, bytes)):
            _fail("Rankings must be a list of rankings, got a string.")
        rankings = list(rankings)
        raw: Counter[tuple[Any, float]] | None
        w = check_weights(weights, len(rankings))
        if w is not None and self.sequence is not None:
            _fail("Judgments kept in order are unweighted; pass no weights.")
        try:
            raw_keys = [(_raw_key(r), 1.0 if w is None else float(w[i])) for i, r in enumerate(rankings)]
            raw = Counter(raw_keys)
        except TypeError:
            raw = None  # unhashable or malformed: validate one by one for a precise message
        known = self.index if self.closed else None
        if raw is None:  # unhashable or malformed input: validate one by one for a precise message
            raw_keys, raw = [], Counter()
            for i, r in enumerate(rankings):
                raw_keys.append(
                    (canonical_ranking(r, known=known, position=i), 1.0 if w is None else float(w[i]))
                )
                raw[raw_keys[-1]] += 1
        keys: dict[tuple[Any, float], Key] = {}
        for (ranking, weight), count in raw.items():
            try:
                canon = canonical_ranking(ranking, known=known)
            except ValueError as err:
                # name the first offending ranking's position for the user
                pos = next(i for i, r in enumerate(rankings) if _raw_key(r) == ranking)
                raise ValueError(str(err).replace("A ranking", f"Ranking {pos}", 1)) from None
            key: Key = tuple(tuple(sorted(self._model_id(m) for m in g)) for g in canon)
            key = self._interned.setdefault(key, key)
            self._count((key, weight), count)
            keys[(ranking, weight)] = key
        if self.sequence is not None:
            self.sequence.extend(keys[k] for k in raw_keys)
        return self

    @classmethod
    def from_pair_outcomes(
        cls, models: Sequence[str], a: Any, b: Any, outcome: Any, keep_order: bool = False
    ) -> "Judgments":
        """Pairwise battles as index arrays into ``models`` (distinct names): ``outcome`` 0 = a won,
        1 = b won, 2 = tie. Counted per (a, b, outcome) with numpy before any Python object is
        made, so a million battles cost one pass per unique outcome; ``keep_order`` keeps the
        sequence (a list of shared tuples) for the order-dependent methods and style control."""
        data = cls(keep_order=keep_order)
        for name in models:
            data._model_id(name)
        M = len(data.models)
        if len(data.index) != len(models):
            _fail("Model names must be distinct.")
        a, b, outcome = (np.asarray(x, dtype=np.int64) for x in (a, b, outcome))
        if len(a) and (
            a.min() < 0
            or b.min() < 0
            or max(a.max(), b.max()) >= M
            or (a == b).any()
            or outcome.min() < 0
            or outcome.max() > 2
        ):
            _fail("Pair outcomes need two different model indices and an outcome 0, 1 or 2 each.")
        key = (a * M + b) * 3 + outcome
        if M * M * 3 <= 4 * len(key) + 1_000_000:  # dense count table: O(battles), no sort
            counts = np.bincount(key, minlength=M * M * 3)
            uniq = np.flatnonzero(counts)
            counts = counts[uniq]
            inverse = None
            if keep_order:
                slot = np.empty(M * M * 3, dtype=np.int64)
                slot[uniq] = np.arange(len(uniq))
                inverse = slot[key]
        else:
            uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        tuples = np.empty(len(uniq), dtype=object)
        for u, (k, c) in enumerate(zip(uniq.tolist(), counts.tolist())):
            pair, o = divmod(k, 3)
            i, j = divmod(pair, M)
            ranking: Key = ((i,), (j,)) if o == 0 else ((j,), (i,)) if o == 1 else ((min(i, j), max(i, j)),)
            ranking = data._interned.setdefault(ranking, ranking)
            data._count((ranking, 1.0), c)
            tuples[u] = ranking
        if keep_order:
            data.sequence = tuples[inverse].tolist()
        return data

    def _count(self, key: tuple[Key, float], count: int) -> None:
        """Add to one outcome's count. One more vote for an outcome already seen updates the cached
        arrays in place (they keep their structure), so a live refit after it rebuilds nothing."""
        self.counts[key] += count
        if self._cache is not None:
            row = self._cache["row"].get(key)
            if row is None:
                self._cache = None
            else:
                self._cache["counts"][row] += count

    def add(self, ranking: Any, weight: float | None = 1.0, count: int = 1) -> None:
        """Add one ranking (O(size of the ranking))."""
        canon = canonical_ranking(ranking, known=self.index if self.closed else None)
        if weight is not None:
            check_weights([weight], 1)
        key: Key = tuple(tuple(sorted(self._model_id(m) for m in g)) for g in canon)
        key = self._interned.setdefault(key, key)
        weight = float(weight if weight is not None else 1.0)
        if self.sequence is not None:
            if weight != 1.0:
                _fail("Judgments kept in order are unweighted; pass no weight.")
            self.sequence.extend([key] * count)
        self._count((key, weight), count)

    def add_pair_counts(self, a: str, b: str, a_wins: int, b_wins: int, ties: int) -> None:
        """Bulk-add pairwise battles between model names a and b (counts, unweighted)."""
        if self.sequence is not None:
            _fail("Pair counts have no order; add rankings to Judgments kept in order.")
        ia, ib = self._model_id(a), self._model_id(b)
        outcomes: list[tuple[Key, int]] = [
            (((ia,), (ib,)), a_wins),
            (((ib,), (ia,)), b_wins),
            ((tuple(sorted((ia, ib))),), ties),
        ]
        for key, c in outcomes:
            if c:
                self._count((key, 1.0), int(c))

    # -- views -----------------------------------------------------------------
    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_judgments(self) -> int:
        return int(sum(self.counts.values()))

    def arrays(self) -> dict[str, Any]:
        """Cached arrays over the unique rows: keys, weights, counts, pair expansion."""
        if self._cache is not None:
            return self._cache
        keys = list(self.counts.keys())
        rankings = [k for k, _ in keys]
        weights = np.array([w for _, w in keys], dtype=float)
        counts = np.array([self.counts[k] for k in keys], dtype=float)
        M = self.n_models
        # pair outcomes: canonical pair (i<j) -> column; W: i better, L: j better, T: tie
        pair_ids: dict[tuple[int, int], int] = {}
        rows_w: list[int] = []
        cols_w: list[int] = []
        rows_l: list[int] = []
        cols_l: list[int] = []
        rows_t: list[int] = []
        cols_t: list[int] = []
        for u, ranking in enumerate(rankings):
            for a, b, s in ranking_pairs(ranking):
                i, j = (a, b) if a < b else (b, a)
                p = pair_ids.setdefault((i, j), len(pair_ids))
                if s == 0.5:
                    rows_t.append(u)
                    cols_t.append(p)
                elif a == i:
                    rows_w.append(u)
                    cols_w.append(p)
                else:
                    rows_l.append(u)
                    cols_l.append(p)
        from scipy import sparse

        P = len(pair_ids)
        pairs = np.array(list(pair_ids.keys()), dtype=np.int64).reshape(-1, 2)
        U = len(keys)

        def mat(r: list[int], c: list[int]) -> Any:
            return sparse.csr_matrix(
                (np.ones(len(r)), (np.asarray(r, int), np.asarray(c, int))), shape=(U, P)
            )

        gather = None
        rows_all = rows_w + rows_l + rows_t
        if len(rows_all) == U and len(set(rows_all)) == U:
            if all(len(set(c)) == len(c) for c in (cols_w, cols_l, cols_t)):
                gather = [
                    (np.asarray(r, int), np.asarray(c, int))
                    for r, c in ((rows_w, cols_w), (rows_l, cols_l), (rows_t, cols_t))
                ]
        members_r: list[int] = []
        members_c: list[int] = []
        for u, ranking in enumerate(rankings):
            for g in ranking:
                for m in g:
                    members_r.append(u)
                    members_c.append(m)
        self._cache = {
            "row": {k: u for u, k in enumerate(keys)},
            "gather": gather,
            "members": sparse.csr_matrix((np.ones(len(members_r)), (members_r, members_c)), shape=(U, M)),
            "rankings": rankings,
            "weights": weights,
            "counts": counts,
            "pairs": pairs,
            "A_w": mat(rows_w, cols_w),
            "A_l": mat(rows_l, cols_l),
            "A_t": mat(rows_t, cols_t),
            "M": M,
        }
        return self._cache

    def derived(self, name: str, build: Any) -> Any:
        """A structure built from the arrays (e.g. Plackett–Luce's choice sets), kept while they are:
        it must read counts through arrays()["counts"], which later votes update in place."""
        arr = self.arrays()
        if name not in arr:
            arr[name] = build()
        return arr[name]

    def pair_stats(self, counts: Any = None) -> tuple[Any, Any, Any]:
        """Weighted (W, L, T) per canonical pair for the given count vector(s) (U,) or (B, U)."""
        arr = self.arrays()
        c = arr["counts"] if counts is None else counts
        if c.ndim == 2 and arr["gather"] is not None:
            # each unique row feeds exactly one pair outcome and no two rows share one: a column gather
            out = []
            for rows, cols in arr["gather"]:
                m = np.zeros((c.shape[0], len(arr["pairs"])), dtype=c.dtype)
                m[:, cols] = c[:, rows] * arr["weights"][rows].astype(c.dtype)
                out.append(m)
            return out[0], out[1], out[2]
        cw = c * arr["weights"]
        if cw.ndim == 1:
            return arr["A_w"].T @ cw, arr["A_l"].T @ cw, arr["A_t"].T @ cw
        return (arr["A_w"].T @ cw.T).T, (arr["A_l"].T @ cw.T).T, (arr["A_t"].T @ cw.T).T

    def model_counts(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Per model: judgments involving it, and unweighted pairwise wins / ties / losses."""
        arr = self.arrays()
        M = self.n_models
        c = arr["counts"]
        n = np.rint(arr["members"].T @ c).astype(np.int64)
        w, lo, t = (np.asarray(arr[k].T @ c) for k in ("A_w", "A_l", "A_t"))
        pi, pj = arr["pairs"][:, 0], arr["pairs"][:, 1]
        wins = np.bincount(pi, w, M) + np.bincount(pj, lo, M)
        losses = np.bincount(pi, lo, M) + np.bincount(pj, w, M)
        ties = np.bincount(pi, t, M) + np.bincount(pj, t, M)
        return (
            n,
            np.rint(wins).astype(np.int64),
            np.rint(ties).astype(np.int64),
            np.rint(losses).astype(np.int64),
        )


def resample_counts(counts: Any, B: int, rng: np.random.Generator, exact: bool | None = None) -> Any:
    """B bootstrap resamples of judgments as count vectors over the unique rows, shape (B, U).

    Resampling N judgments with replacement is a multinomial draw over the unique
    rows. ``exact=True`` draws it exactly; the fast path (default for large
    problems) draws cells with fewer than 20 judgments as Poisson counts and
    larger cells from the Gaussian with the multinomial's mean and covariance
    (accurate to well under 1% of an interval's width at those counts)."""
    counts = np.asarray(counts, dtype=float)
    N = counts.sum()
    U = counts.size
    if exact is None:
        exact = B * U <= 2_000_000
    if exact:
        return rng.multinomial(int(round(N)), counts / N, size=B).astype(float)
    small = counts < 20
    if not small.any():
        return _gaussian_counts(rng, counts, N, B)
    out = np.empty((B, U), dtype=np.float32)
    big = ~small
    out[:, small] = rng.poisson(counts[small], size=(B, int(small.sum())))
    if big.any():
        out[:, big] = _gaussian_counts(rng, counts[big], N, B)
    return out


def _gaussian_counts(rng: np.random.Generator, cb: FloatArray, N: float, B: int) -> npt.NDArray[np.float32]:
    """(B, len(cb)) float32 draws with the multinomial's mean and covariance, clipped at 0 (all in float32:
    no (B, U) float64 temporaries)."""
    z = rng.standard_normal((B, cb.size), dtype=np.float32)
    z *= np.sqrt(cb).astype(np.float32)
    total = z.sum(axis=1, dtype=np.float64).astype(np.float32)
    z -= total[:, None] * (cb / N).astype(np.float32)[None, :]
    z += cb.astype(np.float32)
    np.maximum(z, 0.0, out=z)
    return z
