"""Leaderboards from judgments: Elo, Bradley–Terry, Plackett–Luce, Bayesian; intervals, rank bounds, style control.

Pure library (numpy/scipy; no Django). Scores are on the familiar scale: 400
points per factor of 10 in odds, 1000 at the mean of the rated models unless
anchored.

``fit_leaderboard`` runs three steps, each usable alone (choix / scikit-learn style):
one fit per method (``fit_elo``, ``fit_bt`` with half-win or Davidson ties, ``fit_pl``,
``fit_bayes``, ``fit_style`` for style control) returns a ``MethodFit``: ratings and their
uncertainty (Laplace or sandwich standard errors from the covariance, and bootstrap or posterior
draws); ``intervals`` turns that into interval bounds; ``rows`` makes the ``LeaderboardRow``s.
"""

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from . import bt as bt_mod
from . import pl as pl_mod
from .elo import elo_bootstrap, online_elo
from .judgments import (
    CENTER,
    POINTS_PER_LOGIT,
    Judgments,
    Key,
    canonical_ranking,
    check_weights,
    resample_counts,
)
from .style import FEATURES, STYLE_REG, StyleProblem, style_pairs, style_pairs_flat, zscore

Array = npt.NDArray[Any]
Ranking = Sequence[Sequence[str]]
Params = dict[str, Any]

METHODS = ("elo", "bt", "pl", "bayes")
TIES = ("half", "davidson", "auto")
INTERVALS = ("bootstrap", "laplace")
# Style-control intervals by size (pairs): up to 20,000 a bootstrap of refits; up to 100,000 a
# bootstrap of two fixed-Hessian steps per resample (about 1% of a resample's move off a refit at
# 30,000 pairs); above, the sandwich covariance those resamples converge to (bootstrap > 0 asks for
# it). A bootstrap over a million pairs evaluates every pair per resample: minutes for 1,000.
STYLE_LINEAR_BOOTSTRAP_ABOVE = 20_000
STYLE_SANDWICH_ABOVE = 100_000
DEFAULT_K_FACTOR = 4.0  # Chatbot Arena's online Elo K


@dataclass(frozen=True)
class LeaderboardRow:
    """One model on a board. ``rating``, the interval and ``rank_ub`` are None for a known model
    without a vote. Stored and served as ``as_dict()`` (the snapshot's JSON); ``row["rating"]``
    reads a field as that dict would."""

    model: str
    rating: float | None
    ci_low: float | None
    ci_high: float | None
    rank_ub: int | None
    n: int
    wins: int
    ties: int
    losses: int
    win_rate: float | None
    preliminary: bool

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _ROW_FIELDS}

    def __getitem__(self, name: str) -> Any:
        if name not in _ROW_FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def with_counts(self, n: int, wins: int, ties: int, losses: int, min_votes: int) -> "LeaderboardRow":
        """The row with other vote counts (and the win rate and preliminary flag that follow)."""
        played = wins + ties + losses
        return replace(
            self,
            n=n,
            wins=wins,
            ties=ties,
            losses=losses,
            win_rate=(wins + 0.5 * ties) / played if played else None,
            preliminary=n < min_votes,
        )


_ROW_FIELDS = tuple(f.name for f in fields(LeaderboardRow))


@dataclass
class LeaderboardResult:
    rows: list[LeaderboardRow]
    style_coefficients: dict[str, float] | None = None
    method: str = "bt"
    params: Params = field(default_factory=dict)
    # internal, for warm starts and diagnostics: natural-log strengths per model (bt/pl)
    strengths: dict[str, float] = field(default_factory=dict, repr=False)

    def row_dicts(self) -> list[dict[str, Any]]:
        return [row.as_dict() for row in self.rows]

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "params": self.params,
            "style_coefficients": self.style_coefficients,
            "rows": self.row_dicts(),
        }


@dataclass
class MethodFit:
    """What one method's fit knows: ratings in points (1000 at the mean of the active models, not
    yet anchored) and their uncertainty, as centred standard errors in logits (Laplace, or sandwich
    when ``sandwich``) and/or draws in points (bootstrap resamples, or importance-weighted posterior
    draws when ``draw_weights`` is set)."""

    rating: Array
    active: npt.NDArray[np.bool_]  # models with a vote: the ones rated
    se: Array | None = None
    draws: Array | None = None
    draw_weights: Array | None = None
    sandwich: bool = False
    strengths: dict[str, float] = field(default_factory=dict)
    style_coefficients: dict[str, float] | None = None
    params: Params = field(default_factory=dict)  # what the method says about itself, in order


@dataclass
class Intervals:
    low: Array
    high: Array
    kind: str  # bootstrap, posterior, laplace or sandwich
    params: Params  # interval_note, and interval_floored for a floored bootstrap


def rank_upper_bounds(ci_low: npt.ArrayLike, ci_high: npt.ArrayLike) -> npt.NDArray[np.int_]:
    """1 + the number of models whose lower bound is above this model's upper bound."""
    lo = np.asarray(ci_low, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    return np.asarray(1 + (lo[None, :] > hi[:, None]).sum(axis=1))


def centered_se(H: Array, active: npt.NDArray[np.bool_]) -> Array:
    """Laplace standard errors (logits) of theta_i - mean(theta over active models)."""
    M = len(active)
    return _centered(np.linalg.inv(-H)[:M, :M], active)


def _centered(cov: Array, active: npt.NDArray[np.bool_]) -> Array:
    """Standard errors of theta_i - mean(theta over active models) from theta's covariance."""
    M = len(active)
    idx = np.flatnonzero(active)
    sub = cov[np.ix_(idx, idx)]
    k = len(idx)
    P = np.eye(k) - np.full((k, k), 1.0 / k)
    se = np.zeros(M)
    se[idx] = np.sqrt(np.maximum(np.diag(P @ sub @ P), 0.0))
    return se


def _check_options(
    method: str,
    ties: str,
    style_control: bool,
    features: Any,
    bootstrap: object,
    min_votes: object,
    anchor: object,
    n: int,
) -> None:
    if method not in METHODS:
        raise ValueError(f"Unknown rating method {method!r}; choose one of {', '.join(METHODS)}.")
    if ties not in TIES:
        raise ValueError(f"Unknown tie handling {ties!r}; choose 'half', 'davidson' or 'auto'.")
    if ties == "davidson" and method != "bt":
        raise ValueError("Davidson ties are available for method 'bt' only.")
    if style_control:
        if method != "bt":
            raise ValueError(f"Style control needs method 'bt' (a contextual Bradley–Terry), not {method!r}.")
        if features is None:
            raise ValueError(
                "Style control needs features: one {model: {tokens, headers, lists, bold}} per ranking."
            )
        if ties == "davidson":
            raise ValueError("Style control counts ties as half a win; use ties='half'.")
    if features is not None and not isinstance(features, np.ndarray) and len(features) != n:
        raise ValueError(f"Features must have one entry per ranking: got {len(features)} for {n} rankings.")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise ValueError(f"bootstrap must be a non-negative whole number of resamples, got {bootstrap!r}.")
    if isinstance(min_votes, bool) or not isinstance(min_votes, (int, np.integer)) or min_votes < 0:
        raise ValueError(f"min_votes must be a non-negative whole number, got {min_votes!r}.")
    if anchor is not None:
        if not (isinstance(anchor, (tuple, list)) and len(anchor) == 2 and isinstance(anchor[0], str)):
            raise ValueError(f"anchor must be a (model name, score) pair, got {anchor!r}.")
        try:
            score = float(anchor[1])
        except (TypeError, ValueError):
            raise ValueError(f"The anchor score must be a number, got {anchor[1]!r}.") from None
        if not math.isfinite(score):
            raise ValueError(f"The anchor score must be finite, got {anchor[1]!r}.")


def fit_leaderboard(
    rankings: Iterable[Ranking] | Judgments,
    method: str = "bt",
    weights: npt.ArrayLike | None = None,
    features: Sequence[dict[str, dict[str, float]]] | Array | None = None,
    style_control: bool = False,
    bootstrap: int = 0,
    min_votes: int = 10,
    anchor: tuple[str, float] | list[Any] | None = None,
    ties: str = "half",
    seed: int | None = None,
    models: Sequence[str] | None = None,
    *,
    reg: float = bt_mod.DEFAULT_REG,
    k_factor: float = DEFAULT_K_FACTOR,
    warm_start: "LeaderboardResult | dict[str, float] | None" = None,
    confidence: float = 0.95,
    exact_resample: bool | None = None,
    interval: str = "laplace",
    interval_floor: bool = True,
) -> LeaderboardResult:
    """Fit a leaderboard; see the module docstring and ranking/README in bench/README.md.

    Extra keyword-only options: ``reg`` (ridge on logit strengths, bt/pl),
    ``k_factor`` (elo), ``warm_start`` (a previous result or {model: rating}),
    ``confidence`` (interval level), ``exact_resample`` (force exact multinomial
    bootstrap draws; default: exact when small, moment-matched when large),
    ``interval`` (kept for callers; intervals are never points now: without a bootstrap bt, pl and
    style control report Laplace intervals (the posterior's normal approximation under the prior
    ``reg``) and Elo reports Bradley–Terry's Laplace half-widths around its ratings; a bootstrap
    interval is widened to at least the Laplace one, so a resample that cannot vary (one battle)
    never gives zero width; params["interval"] and params["interval_note"] say which).
    ``ties="auto"``: Davidson's tie model for bt when every judgment is pairwise and some are
    ties (and no style control), else half a win each; params["ties"] says which was used.
    ``interval_floor=False`` reports raw bootstrap percentiles (the engine's earlier intervals, which
    collapse to zero width on a one-battle board), for comparison in bench/bench_calibration.py.

    ``rankings`` may also be a ``Judgments`` object (sufficient statistics) for
    methods bt and pl without features; one kept in order (``keep_order=True``) serves
    every method, and then style features may be a flat array (see ``style_pairs_flat``)."""
    if not isinstance(rankings, Judgments):
        if isinstance(rankings, (str, bytes)) or not hasattr(rankings, "__iter__"):
            raise ValueError("rankings must be a list of rankings (each a list of tie groups).")
        rankings = list(rankings)
    n_rankings = rankings.n_judgments if isinstance(rankings, Judgments) else len(rankings)
    _check_options(method, ties, style_control, features, bootstrap, min_votes, anchor, n_rankings)
    _check_inputs(rankings, method, weights, features, interval, confidence)
    w = None if isinstance(rankings, Judgments) else check_weights(weights, len(rankings))
    data = rankings if isinstance(rankings, Judgments) else Judgments.from_rankings(rankings, w, models)
    if data.n_judgments == 0:
        raise ValueError("No judgments to rate: pass at least one ranking.")
    if ties == "auto":
        ties = "davidson" if method == "bt" and not style_control and _pairwise_with_ties(data) else "half"
    rng = np.random.default_rng(seed)
    params: Params = {
        "method": method,
        "ties": ties,
        "bootstrap": int(bootstrap),
        "min_votes": int(min_votes),
        "anchor": list(anchor) if anchor is not None else None,
        "seed": seed,
        "style_control": bool(style_control),
        "weighted": w is not None,
        "judgments": data.n_judgments,
        "unique_outcomes": len(data.counts),
        "confidence": confidence,
        "scale": "400 points per factor of 10 in odds; 1000 at the mean of rated models",
    }
    x0 = _warm_start_vector(warm_start, data.models)
    bootstrap = int(bootstrap)
    fit: MethodFit
    if method == "elo":
        fit = fit_elo(rankings, data, w, float(k_factor), bootstrap, rng, reg=reg)
    elif method == "bayes":
        # Fixed draws when no seed is given: the same judgments always give the same board.
        fit = fit_bayes(data, reg, x0, rng if seed is not None else np.random.default_rng(0))
    elif style_control:
        assert features is not None  # _check_options
        fit = fit_style(rankings, data, features, w, reg, x0, bootstrap, rng)
    elif method == "bt":
        fit = fit_bt(data, ties, reg, x0, bootstrap, rng, exact_resample)
    else:
        fit = fit_pl(data, reg, x0, bootstrap, rng, exact_resample)
    params.update(fit.params)
    bounds = intervals(fit, confidence, reg, interval_floor)
    params.update(bounds.params)
    params["interval"] = bounds.kind
    params["ties"] = ties
    shift = _anchor_shift(anchor, data, fit)
    return LeaderboardResult(
        rows=rows(data, fit.rating + shift, bounds.low + shift, bounds.high + shift, min_votes),
        style_coefficients=fit.style_coefficients,
        method=method,
        params=params,
        strengths=fit.strengths,
    )


def _check_inputs(
    rankings: list[Ranking] | Judgments,
    method: str,
    weights: object,
    features: object,
    interval: str,
    confidence: float,
) -> None:
    prebuilt = isinstance(rankings, Judgments)
    ordered = isinstance(rankings, Judgments) and rankings.sequence is not None
    if prebuilt and weights is not None:
        raise ValueError("Sufficient statistics carry no weights: pass the rankings list with its weights.")
    if prebuilt and not ordered and (method == "elo" or features is not None):
        raise ValueError("Sufficient statistics have no vote order or features: pass the rankings list.")
    if isinstance(features, np.ndarray) and not ordered:
        raise ValueError(
            "Flat style features need Judgments kept in order; pass one dict per ranking instead."
        )
    if interval not in INTERVALS:
        raise ValueError(f"Unknown interval {interval!r}; choose one of {', '.join(INTERVALS)}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}.")


def _to_points(theta: npt.ArrayLike, active: npt.NDArray[np.bool_]) -> Array:
    """Logit strengths (..., M) to points: 1000 at the mean of the active models."""
    theta = np.asarray(theta, dtype=float)
    mean = theta[..., active].mean(axis=-1, keepdims=True)
    return np.asarray(CENTER + POINTS_PER_LOGIT * (theta - mean), dtype=float)


def _active(data: Judgments) -> npt.NDArray[np.bool_]:
    n = data.model_counts()[0]
    return np.asarray(n > 0)


def fit_elo(
    rankings: list[Ranking] | Judgments,
    data: Judgments,
    weights: Array | None,
    k_factor: float,
    bootstrap: int,
    rng: np.random.Generator,
    reg: float = bt_mod.DEFAULT_REG,
) -> MethodFit:
    """Online Elo in vote order (Chatbot Arena's K); with a bootstrap, the median of the bootstrap
    replays. Elo has no Hessian of its own: its standard errors are Bradley–Terry's (half a win per
    tie) on the same counts."""
    names = data.models
    params: Params = {"k_factor": k_factor}
    seq = _sequence(rankings, data)
    elo_rows = online_elo(
        [[[names[m] for m in g] for g in r] for r in seq], k=k_factor, initial=CENTER, weights=weights
    )
    by = {r.model: r.rating for r in elo_rows}
    rating = np.array([by.get(m, CENTER) for m in names])
    draws = None
    if bootstrap:
        draws = elo_bootstrap(seq, data.n_models, bootstrap, rng, k=k_factor, weights=weights, initial=CENTER)
        rating = np.median(draws, axis=0)  # Chatbot Arena's convention: the bootstrap median
        params["rating"] = "median of the bootstrap replays (the single in-order replay is order-dependent)"
    params["interval_note"] = "Bradley–Terry Laplace half-widths around the Elo ratings"
    active = _active(data)
    return MethodFit(rating, active, se=_bt_laplace_se(data, reg, active), draws=draws, params=params)


def fit_bayes(data: Judgments, reg: float, x0: Array | None, rng: np.random.Generator) -> MethodFit:
    """The Bradley–Terry / Plackett–Luce posterior under the N(0, 1/reg) prior: its mode as the
    rating, importance-weighted posterior draws for the credible interval."""
    M, names, active = data.n_models, data.models, _active(data)
    pdata: pl_mod.PLData = data.derived("pl", lambda: pl_mod.PLData(data))
    prob = pl_mod.PLProblem(pdata, *pdata.stats(), reg=reg)
    start = np.zeros((1, M)) if x0 is None else x0[None, :]
    xs, _, _ = bt_mod.newton(prob, start)
    _, Hs = prob.derivatives(xs)
    assert Hs is not None
    draws, weights, ess = posterior_draws(
        prob, xs[0], Hs[0], rng, order=sorted(range(M), key=names.__getitem__)
    )
    return MethodFit(
        # the posterior mode: symmetric and deterministic (ties, orderings)
        rating=_to_points(xs[0], active),
        active=active,
        draws=_to_points(draws, active),
        draw_weights=weights,
        strengths={m: float(v) for m, v in zip(names, xs[0])},
        params={
            "reg": reg,
            "posterior_draws": len(draws),
            "effective_draws": round(ess),
            "bootstrap_note": "bayes reports its posterior credible interval; bootstrap is not used",
        },
    )


def fit_style(
    rankings: list[Ranking] | Judgments,
    data: Judgments,
    features: Sequence[dict[str, dict[str, float]]] | Array,
    weights: Array | None,
    reg: float,
    x0: Array | None,
    bootstrap: int,
    rng: np.random.Generator,
) -> MethodFit:
    """Style control: a contextual Bradley–Terry on per-pair style differences (z-scored), ties as
    half a win. Uncertainty by size (see STYLE_LINEAR_BOOTSTRAP_ABOVE): a bootstrap of refits, a
    linearised bootstrap, or the sandwich covariance; Laplace standard errors otherwise."""
    M, names, active = data.n_models, data.models, _active(data)
    params: Params = {"reg": reg, "style_reg": STYLE_REG}
    if isinstance(rankings, Judgments):
        seq = _sequence(rankings, data)
        pairs = (
            style_pairs_flat(seq, features)
            if isinstance(features, np.ndarray)
            else style_pairs(seq, features, None, data.index)
        )
    else:
        seq = [tuple(tuple(data.index[m] for m in g) for g in canonical_ranking(r)) for r in rankings]
        pairs = style_pairs(seq, features, weights, data.index)
    a, b, y, pw, X, jid = pairs
    Xz, _, _ = zscore(X, pw)
    prob = StyleProblem(a, b, y, pw, Xz, M, reg=reg)
    start = np.zeros(prob.dim)
    if x0 is not None:
        start[:M] = x0
    x_hat, H = prob.solve(start)
    fit = MethodFit(
        rating=_to_points(x_hat[:M], active),
        active=active,
        strengths={m: float(x_hat[i]) for i, m in enumerate(names)},
        style_coefficients={f: float(x_hat[M + i]) for i, f in enumerate(FEATURES)},
        params=params,
    )
    if bootstrap and len(a) > STYLE_SANDWICH_ABOVE:
        fit.se = _centered(prob.sandwich_cov(x_hat, H, jid)[:M, :M], active)
        fit.sandwich = True
        return fit
    if bootstrap and len(a) > STYLE_LINEAR_BOOTSTRAP_ABOVE:
        fit.draws = _to_points(prob.linearised_bootstrap(x_hat, H, jid, bootstrap, rng)[:, :M], active)
        params["bootstrap_resample"] = "Poisson, two fixed-Hessian steps per resample"
    elif bootstrap:
        Hinv = np.linalg.inv(-H)
        N = len(seq)
        counts = rng.multinomial(N, np.full(N, 1.0 / N), size=bootstrap)
        thetas = np.empty((bootstrap, M))
        for r in range(bootstrap):
            thetas[r] = prob.solve_near(x_hat, Hinv, pw * counts[r][jid])[:M]
        fit.draws = _to_points(thetas, active)
    fit.se = centered_se(H, active)
    return fit


def fit_bt(
    data: Judgments,
    ties: str,
    reg: float,
    x0: Array | None,
    bootstrap: int,
    rng: np.random.Generator,
    exact_resample: bool | None = None,
) -> MethodFit:
    """Bradley–Terry on pair counts, ties as half a win or by Davidson's model (its tie parameter
    fitted too); Laplace standard errors, and a bootstrap of fixed-Hessian solves when asked."""
    M = data.n_models
    arr = data.arrays()
    W, L, T = data.pair_stats()
    start = None
    if x0 is not None:
        start = np.r_[x0, -1.0] if ties == "davidson" else x0
    theta, eta, H, iters = bt_mod.fit_pairs(arr["pairs"], M, W, L, T, ties=ties, reg=reg, x0=start)
    params: Params = {"reg": reg}
    if eta is not None:
        params["davidson_nu"] = float(math.exp(eta))
    params["iterations"] = int(iters)

    def problem(C: npt.NDArray[np.int64]) -> bt_mod.PairProblem:
        return bt_mod.PairProblem(arr["pairs"], M, *data.pair_stats(C), ties=ties, reg=reg)

    x_hat = theta if eta is None else np.r_[theta, eta]
    return _counted_fit(data, theta, x_hat, H, problem, bootstrap, rng, exact_resample, params)


def fit_pl(
    data: Judgments,
    reg: float,
    x0: Array | None,
    bootstrap: int,
    rng: np.random.Generator,
    exact_resample: bool | None = None,
) -> MethodFit:
    """Plackett–Luce (ties as tie groups) on counted outcomes; Laplace standard errors, and a
    bootstrap of fixed-Hessian solves when asked."""
    pdata: pl_mod.PLData = data.derived("pl", lambda: pl_mod.PLData(data))
    prob = pl_mod.PLProblem(pdata, *pdata.stats(), reg=reg)
    start = np.zeros((1, data.n_models)) if x0 is None else x0[None, :]
    xs, iters, _ = bt_mod.newton(prob, start)
    _, Hs = prob.derivatives(xs)

    def problem(C: npt.NDArray[np.int64]) -> pl_mod.PLProblem:
        return pl_mod.PLProblem(pdata, *pdata.stats(C), reg=reg)

    params: Params = {"reg": reg, "iterations": int(iters)}
    assert Hs is not None
    return _counted_fit(data, xs[0], xs[0], Hs[0], problem, bootstrap, rng, exact_resample, params)


def _counted_fit(
    data: Judgments,
    theta: Array,
    x_hat: Array,
    H: Array,
    problem: Callable[[npt.NDArray[np.int64]], Any],
    bootstrap: int,
    rng: np.random.Generator,
    exact_resample: bool | None,
    params: Params,
) -> MethodFit:
    """A fit on counted outcomes (bt, pl): Laplace standard errors from the Hessian H; with a
    bootstrap, resampled counts solved together by fixed-Hessian steps from x_hat."""
    M, names, active = data.n_models, data.models, _active(data)
    fit = MethodFit(
        rating=_to_points(theta, active),
        active=active,
        se=centered_se(H, active),
        strengths={m: float(theta[i]) for i, m in enumerate(names)},
        params=params,
    )
    if bootstrap:
        C = resample_counts(data.arrays()["counts"], bootstrap, rng, exact=exact_resample)
        x0b = np.repeat(x_hat[None, :], bootstrap, axis=0)
        fit.draws = _to_points(bt_mod.fixed_hessian_solve(problem(C), x0b, H)[:, :M], active)
    return fit


def intervals(fit: MethodFit, confidence: float, reg: float, floor: bool = True) -> Intervals:
    """Interval bounds (points) at ``confidence``: the weighted posterior quantiles of a Bayesian
    fit; bootstrap percentiles widened to the Laplace (or sandwich) interval where narrower (a
    bootstrap cannot see what the data never varied, one battle resamples to itself, nor the prior's
    pull), unless ``floor`` is off; else rating ± z·se. ``reg``: the prior the notes name."""
    alpha = (1 - confidence) / 2
    rating = fit.rating
    if fit.draw_weights is not None and fit.draws is not None:
        return Intervals(
            _weighted_quantile(fit.draws, fit.draw_weights, alpha),
            _weighted_quantile(fit.draws, fit.draw_weights, 1 - alpha),
            "posterior",
            {
                "interval_note": f"equal-tailed credible interval of the Bradley–Terry / Plackett–Luce "
                f"posterior under the N(0, {1 / math.sqrt(reg):.3g}^2) prior, by importance sampling"
            },
        )
    assert fit.se is not None  # every fit without posterior draws has standard errors
    half = _normal_quantile(1 - alpha) * POINTS_PER_LOGIT * fit.se
    if fit.draws is not None:
        lo = np.quantile(fit.draws, alpha, axis=0)
        hi = np.quantile(fit.draws, 1 - alpha, axis=0)
        half = half * (1.0 if floor else 0.0)
        floored = int((((lo > rating - half) | (hi < rating + half)) & fit.active).sum())
        return Intervals(
            np.minimum(lo, rating - half),
            np.maximum(hi, rating + half),
            "bootstrap",
            {
                "interval_floored": floored,
                "interval_note": f"bootstrap percentiles, widened to the "
                f"{'sandwich' if fit.sandwich else 'Laplace'} interval where narrower ({floored} models)",
            },
        )
    notes: Params = {}
    if "interval_note" not in fit.params:  # Elo's names the Bradley–Terry half-widths it borrows
        notes["interval_note"] = (
            "sandwich (robust) covariance"
            if fit.sandwich
            else f"normal approximation to the posterior under the N(0, {1 / math.sqrt(reg):.3g}^2) prior"
        )
    return Intervals(rating - half, rating + half, "sandwich" if fit.sandwich else "laplace", notes)


def _anchor_shift(anchor: Sequence[Any] | None, data: Judgments, fit: MethodFit) -> float:
    if anchor is None:
        return 0.0
    name, score = anchor[0], float(anchor[1])
    if name not in data.index or not fit.active[data.index[name]]:
        raise ValueError(f"Anchor model {name!r} has no judgments; anchor to a rated model.")
    return float(score - fit.rating[data.index[name]])


def rows(data: Judgments, rating: Array, lo: Array, hi: Array, min_votes: int) -> list[LeaderboardRow]:
    """The board: rated models best first (ties by name) with their interval, rank upper bound and
    vote counts, then known models without a vote, unrated."""
    names = data.models
    n, wins, tie_counts, losses = data.model_counts()
    active = n > 0
    idx = np.flatnonzero(active)
    rub = np.zeros(data.n_models, dtype=int)
    rub[idx] = rank_upper_bounds(lo[idx], hi[idx])
    board = []
    for i in sorted(idx, key=lambda i: (-rating[i], names[i])):
        played = wins[i] + tie_counts[i] + losses[i]
        board.append(
            LeaderboardRow(
                model=names[i],
                rating=float(rating[i]),
                ci_low=float(lo[i]),
                ci_high=float(hi[i]),
                rank_ub=int(rub[i]),
                n=int(n[i]),
                wins=int(wins[i]),
                ties=int(tie_counts[i]),
                losses=int(losses[i]),
                win_rate=float((wins[i] + 0.5 * tie_counts[i]) / played) if played else None,
                preliminary=bool(n[i] < min_votes),
            )
        )
    for i in np.flatnonzero(~active):  # known models without a vote: listed last, unrated
        board.append(LeaderboardRow(names[i], None, None, None, None, 0, 0, 0, 0, None, True))
    return board


def _normal_quantile(q: float) -> float:
    return NormalDist().inv_cdf(q)


POSTERIOR_DRAWS = 4000


def posterior_draws(
    problem: bt_mod.Problem,
    x_hat: Array,
    H: Array,
    rng: np.random.Generator,
    draws: int = POSTERIOR_DRAWS,
    order: Sequence[int] | None = None,
) -> tuple[Array, Array, float]:
    """Draws from the posterior of a BT/PL problem (log posterior = problem.objective) with their
    self-normalised importance weights and the effective number of draws. Proposal: the Laplace
    normal widened by 1.2, as a Student t with 8 degrees of freedom, so the skewed posterior of a
    model with a handful of votes is still covered; where the weights degenerate (an effective
    sample under 10%), the Laplace normal itself is used with equal weights. ``order``: the models'
    order for drawing (e.g. by name), so the draws do not depend on how the models are indexed."""
    M = len(x_hat)
    perm = np.arange(M) if order is None else np.asarray(order)
    back = np.argsort(perm)
    x_hat, H = x_hat[perm], H[np.ix_(perm, perm)]
    cov = np.linalg.inv(-H)
    chol = np.linalg.cholesky((cov + cov.T) / 2 * 1.2**2)
    nu = 8.0
    z = rng.standard_normal((draws, M))
    scale = np.sqrt(nu / rng.chisquare(nu, draws))
    x = x_hat + (z @ chol.T) * scale[:, None]
    # log density of the multivariate t proposal, up to a constant
    maha = ((z * scale[:, None]) ** 2).sum(axis=1)
    log_q = -0.5 * (nu + M) * np.log1p(maha / nu)
    # in slices of draws: the objective holds (draws, choice sets, set size) arrays, a gigabyte for
    # 4,000 draws over the 5,000 pairs of a 100-model arena at once
    step = max(
        1,
        2_000_000
        // max(
            1,
            sum(
                len(ids) * members.shape[1]
                for ids, members, _ in getattr(getattr(problem, "data", None), "groups", [])
            ),
        ),
    )
    log_w = (
        np.concatenate([problem.objective(x[i : i + step][:, back]) for i in range(0, draws, step)]) - log_q
    )
    log_w -= log_w.max()
    w = np.exp(log_w)
    w /= w.sum()
    ess = 1.0 / (w * w).sum()
    if ess < 0.1 * draws:
        x = x_hat + rng.standard_normal((draws, M)) @ np.linalg.cholesky((cov + cov.T) / 2).T
        w = np.full(draws, 1.0 / draws)
        ess = float(draws)
    return x[:, back], w, float(ess)


def _weighted_quantile(values: Array, weights: Array, q: float) -> Array:
    """Per column of values (S, M): the q-quantile of the weighted draws."""
    order = np.argsort(values, axis=0)
    sorted_vals = np.take_along_axis(values, order, axis=0)
    cum = np.cumsum(weights[order], axis=0)
    idx = (cum < q).sum(axis=0)
    return np.asarray(sorted_vals[np.minimum(idx, len(values) - 1), np.arange(values.shape[1])])


def _pairwise_with_ties(data: Judgments) -> bool:
    """Every judgment compares two models and at least one is a tie."""
    keys = [key for key, _ in data.counts]
    return all(sum(len(g) for g in key) == 2 for key in keys) and any(len(key) == 1 for key in keys)


def _bt_laplace_se(data: Judgments, reg: float, active: npt.NDArray[np.bool_]) -> Array:
    arr = data.arrays()
    W, L, T = data.pair_stats()
    theta, _, H, _ = bt_mod.fit_pairs(arr["pairs"], data.n_models, W, L, T, ties="half", reg=reg)
    return centered_se(H, active)


def _sequence(rankings: list[Ranking] | Judgments, data: Judgments) -> list[Key]:
    """The rankings in their given order as index tuples (for order-dependent methods)."""
    if isinstance(rankings, Judgments):
        assert rankings.sequence is not None  # _check_inputs: only ordered Judgments get here
        return rankings.sequence
    return [tuple(tuple(sorted(data.index[m] for m in g)) for g in r) for r in rankings]


def _warm_start_vector(warm_start: object, names: Sequence[str]) -> Array | None:
    if warm_start is None:
        return None
    if isinstance(warm_start, LeaderboardResult):
        if warm_start.strengths:
            return np.array([warm_start.strengths.get(m, 0.0) for m in names])
        warm_start = {r.model: r.rating for r in warm_start.rows if r.rating is not None}
    if not isinstance(warm_start, dict):
        raise ValueError("warm_start must be a previous LeaderboardResult or a {model: rating} dict.")
    vals = np.array([float(warm_start.get(m, CENTER)) for m in names])
    return (vals - CENTER) / POINTS_PER_LOGIT
