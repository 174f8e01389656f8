"""Leaderboards from judgments: Elo, Bradley–Terry, Plackett–Luce, Bayesian; intervals, rank bounds, style control.

Pure library (numpy/scipy; no Django). Scores are on the familiar scale: 400
points per factor of 10 in odds, 1000 at the mean of the rated models unless
anchored.
"""

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from . import bt as bt_mod
from . import pl as pl_mod
from .elo import elo_bootstrap, online_elo
from .judgments import CENTER, POINTS_PER_LOGIT, Judgments, canonical_ranking, check_weights, resample_counts
from .style import FEATURES, STYLE_REG, StyleProblem, style_pairs, style_pairs_flat, zscore

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


@dataclass
class LeaderboardResult:
    rows: list
    style_coefficients: dict | None = None
    method: str = "bt"
    params: dict = field(default_factory=dict)
    # internal, for warm starts and diagnostics: natural-log strengths per model (bt/pl)
    strengths: dict = field(default_factory=dict, repr=False)

    def as_dict(self):
        return {
            "method": self.method,
            "params": self.params,
            "style_coefficients": self.style_coefficients,
            "rows": self.rows,
        }


def rank_upper_bounds(ci_low, ci_high):
    """1 + the number of models whose lower bound is above this model's upper bound."""
    lo = np.asarray(ci_low, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    return 1 + (lo[None, :] > hi[:, None]).sum(axis=1)


def centered_se(H, active):
    """Laplace standard errors (logits) of theta_i - mean(theta over active models)."""
    M = len(active)
    return _centered(np.linalg.inv(-H)[:M, :M], active)


def _centered(cov, active):
    """Standard errors of theta_i - mean(theta over active models) from theta's covariance."""
    M = len(active)
    idx = np.flatnonzero(active)
    sub = cov[np.ix_(idx, idx)]
    k = len(idx)
    P = np.eye(k) - np.full((k, k), 1.0 / k)
    se = np.zeros(M)
    se[idx] = np.sqrt(np.maximum(np.diag(P @ sub @ P), 0.0))
    return se


def _check_options(method, ties, style_control, features, bootstrap, min_votes, anchor, n):
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
    rankings,
    method="bt",
    weights=None,
    features=None,
    style_control=False,
    bootstrap=0,
    min_votes=10,
    anchor=None,
    ties="half",
    seed=None,
    models=None,
    *,
    reg=bt_mod.DEFAULT_REG,
    k_factor=DEFAULT_K_FACTOR,
    warm_start=None,
    confidence=0.95,
    exact_resample=None,
    interval="laplace",
    interval_floor=True,
):
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
    prebuilt = isinstance(rankings, Judgments)
    if not prebuilt:
        if isinstance(rankings, (str, bytes)) or not hasattr(rankings, "__iter__"):
            raise ValueError("rankings must be a list of rankings (each a list of tie groups).")
        rankings = list(rankings)
    n_rankings = rankings.n_judgments if prebuilt else len(rankings)
    _check_options(method, ties, style_control, features, bootstrap, min_votes, anchor, n_rankings)
    ordered = prebuilt and rankings.sequence is not None
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
    w = None if prebuilt else check_weights(weights, len(rankings))
    data = rankings if prebuilt else Judgments.from_rankings(rankings, w, models)
    if data.n_judgments == 0:
        raise ValueError("No judgments to rate: pass at least one ranking.")
    if ties == "auto":
        ties = "davidson" if method == "bt" and not style_control and _pairwise_with_ties(data) else "half"
    rng = np.random.default_rng(seed)
    M = data.n_models
    names = data.models
    n, wins, tie_counts, losses = data.model_counts()
    active = n > 0
    alpha = (1 - confidence) / 2
    params = {
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
    style_coefficients = None
    strengths = {}
    boot = None  # (B, M) bootstrap ratings in points
    sandwich = False
    interval = "none"
    se = None  # Laplace standard errors (logits), when asked for

    def to_points(theta):
        theta = np.asarray(theta, dtype=float)
        mean = theta[..., active].mean(axis=-1, keepdims=True)
        return CENTER + POINTS_PER_LOGIT * (theta - mean)

    x0 = _warm_start_vector(warm_start, names)

    if method == "elo":
        params["k_factor"] = float(k_factor)
        seq = _sequence(rankings, data)
        rows = online_elo(
            [[[names[m] for m in g] for g in r] for r in seq], k=float(k_factor), initial=CENTER, weights=w
        )
        by = {r.model: r.rating for r in rows}
        rating = np.array([by.get(m, CENTER) for m in names])
        if bootstrap:
            boot = elo_bootstrap(seq, M, int(bootstrap), rng, k=float(k_factor), weights=w, initial=CENTER)
            rating = np.median(boot, axis=0)  # Chatbot Arena's convention: the bootstrap median
            interval = "bootstrap"
            params["rating"] = (
                "median of the bootstrap replays (the single in-order replay is order-dependent)"
            )
    elif method == "bayes":
        params["reg"] = reg
        pdata = data.derived("pl", lambda: pl_mod.PLData(data))
        prob = pl_mod.PLProblem(pdata, *pdata.stats(), reg=reg)
        start = np.zeros((1, M)) if x0 is None else x0[None, :]
        xs, _, _ = bt_mod.newton(prob, start)
        _, Hs = prob.derivatives(xs)
        # Fixed draws when no seed is given: the same judgments always give the same board.
        draws, weights, ess = posterior_draws(
            prob,
            xs[0],
            Hs[0],
            rng if seed is not None else np.random.default_rng(0),
            order=sorted(range(M), key=names.__getitem__),
        )
        points = to_points(draws)
        rating = to_points(xs[0])  # the posterior mode: symmetric and deterministic (ties, orderings)
        strengths = {m: float(v) for m, v in zip(names, xs[0])}
        bayes_lo = _weighted_quantile(points, weights, alpha)
        bayes_hi = _weighted_quantile(points, weights, 1 - alpha)
        interval = "posterior"
        params["posterior_draws"] = len(draws)
        params["effective_draws"] = round(ess)
        params["bootstrap_note"] = "bayes reports its posterior credible interval; bootstrap is not used"
    elif style_control:
        params["reg"] = reg
        params["style_reg"] = STYLE_REG
        if ordered:
            seq = data.sequence
            pairs = (
                style_pairs_flat(seq, features)
                if isinstance(features, np.ndarray)
                else style_pairs(seq, features, None, data.index)
            )
        else:
            seq = [tuple(tuple(data.index[m] for m in g) for g in canonical_ranking(r)) for r in rankings]
            pairs = style_pairs(seq, features, w, data.index)
        a, b, y, pw, X, jid = pairs
        Xz, _, _ = zscore(X, pw)
        prob = StyleProblem(a, b, y, pw, Xz, M, reg=reg)
        start = np.zeros(prob.dim)
        if x0 is not None:
            start[:M] = x0
        x_hat, H = prob.solve(start)
        rating = to_points(x_hat[:M])
        strengths = {m: float(x_hat[i]) for i, m in enumerate(names)}
        style_coefficients = {f: float(x_hat[M + i]) for i, f in enumerate(FEATURES)}
        if bootstrap and len(a) > STYLE_SANDWICH_ABOVE:
            cov = prob.sandwich_cov(x_hat, H, jid)
            se = _centered(cov[:M, :M], active)
            sandwich = True
        elif bootstrap and len(a) > STYLE_LINEAR_BOOTSTRAP_ABOVE:
            boot = to_points(prob.linearised_bootstrap(x_hat, H, jid, int(bootstrap), rng)[:, :M])
            interval = "bootstrap"
            params["bootstrap_resample"] = "Poisson, two fixed-Hessian steps per resample"
        elif bootstrap:
            Hinv = np.linalg.inv(-H)
            N = len(seq)
            draws = rng.multinomial(N, np.full(N, 1.0 / N), size=int(bootstrap))
            thetas = np.empty((int(bootstrap), M))
            for r in range(int(bootstrap)):
                xb = prob.solve_near(x_hat, Hinv, pw * draws[r][jid])
                thetas[r] = xb[:M]
            boot = to_points(thetas)
            interval = "bootstrap"
        if not sandwich:
            se = centered_se(H, active)
    else:
        params["reg"] = reg
        if method == "bt":
            arr = data.arrays()
            W, L, T = data.pair_stats()
            start = None
            if x0 is not None:
                start = np.r_[x0, -1.0] if ties == "davidson" else x0
            theta, eta, H, iters = bt_mod.fit_pairs(arr["pairs"], M, W, L, T, ties=ties, reg=reg, x0=start)
            x_hat = theta if eta is None else np.r_[theta, eta]
            if eta is not None:
                params["davidson_nu"] = float(math.exp(eta))
            make_problem = lambda C: bt_mod.PairProblem(
                arr["pairs"], M, *data.pair_stats(C), ties=ties, reg=reg
            )
        else:
            pdata = data.derived("pl", lambda: pl_mod.PLData(data))
            lin, coef = pdata.stats()
            prob = pl_mod.PLProblem(pdata, lin, coef, reg=reg)
            start = np.zeros((1, M)) if x0 is None else x0[None, :]
            xs, iters, _ = bt_mod.newton(prob, start)
            x_hat = xs[0]
            theta = x_hat
            _, Hs = prob.derivatives(xs)
            H = Hs[0]
            make_problem = lambda C: pl_mod.PLProblem(pdata, *pdata.stats(C), reg=reg)  # noqa: E731
        params["iterations"] = int(iters)
        rating = to_points(theta)
        strengths = {m: float(theta[i]) for i, m in enumerate(names)}
        se = centered_se(H, active)
        if bootstrap:
            arr = data.arrays()
            C = resample_counts(arr["counts"], int(bootstrap), rng, exact=exact_resample)
            prob_b = make_problem(C)
            x0b = np.repeat(x_hat[None, :], int(bootstrap), axis=0)
            X = bt_mod.fixed_hessian_solve(prob_b, x0b, H)
            boot = to_points(X[:, :M])
            interval = "bootstrap"

    z = _normal_quantile(1 - alpha)
    if method == "elo":  # no Hessian of its own: Bradley–Terry's (half a win per tie) on the same counts
        se = _bt_laplace_se(data, reg, active)
        params["interval_note"] = "Bradley–Terry Laplace half-widths around the Elo ratings"
    if method == "bayes":
        lo, hi = bayes_lo, bayes_hi
        params["interval_note"] = (
            f"equal-tailed credible interval of the Bradley–Terry / Plackett–Luce posterior "
            f"under the N(0, {1 / math.sqrt(reg):.3g}^2) prior, by importance sampling"
        )
    elif boot is not None:
        lo = np.quantile(boot, alpha, axis=0)
        hi = np.quantile(boot, 1 - alpha, axis=0)
        # A bootstrap cannot see what the data never varied (one battle resamples to itself) nor the
        # prior's pull; the Laplace interval is the floor, so no interval is narrower than the posterior's.
        half = z * POINTS_PER_LOGIT * se * (1.0 if interval_floor else 0.0)
        floored = (lo > rating - half) | (hi < rating + half)
        lo, hi = np.minimum(lo, rating - half), np.maximum(hi, rating + half)
        params["interval_floored"] = int((floored & active).sum())
        params["interval_note"] = (
            f"bootstrap percentiles, widened to the {'sandwich' if sandwich else 'Laplace'} "
            f"interval where narrower ({params['interval_floored']} models)"
        )
    else:
        half = z * POINTS_PER_LOGIT * se
        lo, hi = rating - half, rating + half
        interval = "sandwich" if sandwich else "laplace"
        if method != "elo":
            params["interval_note"] = (
                "sandwich (robust) covariance"
                if sandwich
                else f"normal approximation to the posterior under the N(0, {1 / math.sqrt(reg):.3g}^2) prior"
            )
    params["interval"] = interval
    params["ties"] = ties

    shift = 0.0
    if anchor is not None:
        name, score = anchor[0], float(anchor[1])
        if name not in data.index or not active[data.index[name]]:
            raise ValueError(f"Anchor model {name!r} has no judgments; anchor to a rated model.")
        shift = score - rating[data.index[name]]
    rating, lo, hi = rating + shift, lo + shift, hi + shift

    idx = np.flatnonzero(active)
    rub = np.zeros(M, dtype=int)
    rub[idx] = rank_upper_bounds(lo[idx], hi[idx])
    order = sorted(idx, key=lambda i: (-rating[i], names[i]))
    rows = []
    for i in order:
        played = wins[i] + tie_counts[i] + losses[i]
        rows.append(
            {
                "model": names[i],
                "rating": float(rating[i]),
                "ci_low": float(lo[i]),
                "ci_high": float(hi[i]),
                "rank_ub": int(rub[i]),
                "n": int(n[i]),
                "wins": int(wins[i]),
                "ties": int(tie_counts[i]),
                "losses": int(losses[i]),
                "win_rate": float((wins[i] + 0.5 * tie_counts[i]) / played) if played else None,
                "preliminary": bool(n[i] < min_votes),
            }
        )
    for i in np.flatnonzero(~active):  # known models without a vote: listed last, unrated
        rows.append(
            {
                "model": names[i],
                "rating": None,
                "ci_low": None,
                "ci_high": None,
                "rank_ub": None,
                "n": 0,
                "wins": 0,
                "ties": 0,
                "losses": 0,
                "win_rate": None,
                "preliminary": True,
            }
        )
    return LeaderboardResult(
        rows=rows, style_coefficients=style_coefficients, method=method, params=params, strengths=strengths
    )


def _normal_quantile(q):
    return NormalDist().inv_cdf(q)


POSTERIOR_DRAWS = 4000


def posterior_draws(problem, x_hat, H, rng, draws=POSTERIOR_DRAWS, order=None):
    """Draws from the posterior of a BT/PL problem (log posterior = problem.objective) with their
    self-normalised importance weights and the effective number of draws. Proposal: the Laplace
    normal widened by 1.2, as a Student t with 8 degrees of freedom, so the skewed posterior of a
    model with a handful of votes is still covered; where the weights degenerate (an effective
    sample under 10%), the Laplace normal itself is used with equal weights. ``order``: the models'
    order for drawing (e.g. by name), so the draws do not depend on how the models are indexed."""
    M = len(x_hat)
    order = np.arange(M) if order is None else np.asarray(order)
    back = np.argsort(order)
    x_hat, H = x_hat[order], H[np.ix_(order, order)]
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


def _weighted_quantile(values, weights, q):
    """Per column of values (S, M): the q-quantile of the weighted draws."""
    order = np.argsort(values, axis=0)
    sorted_vals = np.take_along_axis(values, order, axis=0)
    cum = np.cumsum(weights[order], axis=0)
    idx = (cum < q).sum(axis=0)
    return sorted_vals[np.minimum(idx, len(values) - 1), np.arange(values.shape[1])]


def _pairwise_with_ties(data):
    """Every judgment compares two models and at least one is a tie."""
    keys = [key for key, _ in data.counts]
    return all(sum(len(g) for g in key) == 2 for key in keys) and any(len(key) == 1 for key in keys)


def _bt_laplace_se(data, reg, active):
    arr = data.arrays()
    W, L, T = data.pair_stats()
    theta, _, H, _ = bt_mod.fit_pairs(arr["pairs"], data.n_models, W, L, T, ties="half", reg=reg)
    return centered_se(H, active)


def _sequence(rankings, data):
    """The rankings in their given order as index tuples (for order-dependent methods)."""
    if isinstance(rankings, Judgments):
        return rankings.sequence
    return [tuple(tuple(sorted(data.index[m] for m in g)) for g in r) for r in rankings]


def _warm_start_vector(warm_start, names):
    if warm_start is None:
        return None
    if isinstance(warm_start, LeaderboardResult):
        if warm_start.strengths:
            return np.array([warm_start.strengths.get(m, 0.0) for m in names])
        warm_start = {r["model"]: r["rating"] for r in warm_start.rows if r["rating"] is not None}
    if not isinstance(warm_start, dict):
        raise ValueError("warm_start must be a previous LeaderboardResult or a {model: rating} dict.")
    vals = np.array([float(warm_start.get(m, CENTER)) for m in names])
    return (vals - CENTER) / POINTS_PER_LOGIT
