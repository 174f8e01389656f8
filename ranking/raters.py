"""Annotator-aware rating: Crowd-BT (Chen, Bennett, Collins-Thompson and Horvitz, WSDM 2013); no Django.

Each rater k has a reliability eta_k: with probability eta_k their vote follows Bradley–Terry,
otherwise it is reversed,

    P(rater k says a beats b) = eta_k sigmoid(d) + (1 - eta_k) sigmoid(-d),   d = theta_a - theta_b,

so eta = 1 is a careful rater, 0.5 a random clicker (their votes carry nothing) and below 0.5 one
who votes against the truth. It is fitted by expectation-maximisation: given the strengths, each
vote's probability of being reported the right way round; given those, a weighted Bradley–Terry fit
(each vote split between its two orientations) and each rater's eta as the mean of their votes'
probabilities under a Beta(``prior``) prior (a rater with few votes stays near the prior's mean).
Ties are half a win whatever the rater (they carry no direction to reverse); K-wise rankings are
broken into their pairs. ``fixed`` reliabilities (e.g. ``annotation.quality.annotator_reliability``)
may be given instead of estimated: then it is one weighted fit.
"""

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .bt import Arr
from .judgments import canonical_ranking, ranking_pairs
from .leaderboard import LeaderboardResult, fit_leaderboard

PRIOR = (8.0, 2.0)  # Beta pseudo-counts: a new rater is trusted at 0.8 until their votes say otherwise


def crowd_bt(
    rankings: Iterable[Any],
    raters: Iterable[Hashable],
    prior: tuple[float, float] = PRIOR,
    fixed: Mapping[Any, float | None] | None = None,
    iterations: int = 20,
    tol: float = 1e-4,
    **fit_kw: Any,
) -> tuple[LeaderboardResult, dict[Any, float]]:
    """(LeaderboardResult, {rater: eta}). ``raters``: one hashable rater id per ranking.
    ``fit_kw`` go to ``fit_leaderboard`` (method bt; e.g. bootstrap, min_votes)."""
    rankings = list(rankings)
    raters = list(raters)
    if len(raters) != len(rankings):
        raise ValueError(f"Give one rater per ranking: {len(raters)} raters for {len(rankings)} rankings.")
    if not rankings:
        raise ValueError("No judgments to rate: pass at least one ranking.")
    a0, b0 = (float(x) for x in prior)
    if not (a0 > 0 and b0 > 0):
        raise ValueError(f"The Beta prior needs two positive pseudo-counts, got {prior!r}.")
    ids = {r: i for i, r in enumerate(dict.fromkeys(raters))}
    models: dict[str, int] = {}
    a_l: list[int] = []
    b_l: list[int] = []
    r_l: list[int] = []
    t_l: list[bool] = []
    for t, ranking in enumerate(rankings):
        canon = canonical_ranking(ranking, position=t)
        for a, b, s in ranking_pairs(canon):
            a_l.append(models.setdefault(a, len(models)))
            b_l.append(models.setdefault(b, len(models)))
            r_l.append(ids[raters[t]])
            t_l.append(s == 0.5)
    pa, pb, rid, tied = np.array(a_l), np.array(b_l), np.array(r_l), np.array(t_l)
    names = list(models)
    eta = np.full(len(ids), a0 / (a0 + b0))
    if fixed is not None:
        for r, i in ids.items():
            v = fixed.get(r)
            if v is not None:
                if not 0 <= float(v) <= 1:
                    raise ValueError(f"Reliability of rater {r!r} must be in [0, 1], got {v!r}.")
                eta[i] = float(v)
        iterations = 1
    theta = np.zeros(len(names))
    result: LeaderboardResult | None = None
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(theta[pa] - theta[pb])))
        e = eta[rid]
        right = e * p / (e * p + (1 - e) * (1 - p))  # P(reported the right way round | vote, strengths)
        right = np.where(tied, 1.0, right)
        result = _weighted_fit(names, pa, pb, tied, right, **fit_kw)
        theta = np.array([result.strengths[m] for m in names])
        if fixed is not None:
            break
        decisive = ~tied
        agree = np.bincount(rid[decisive], right[decisive], len(ids))
        votes = np.bincount(rid[decisive], minlength=len(ids))
        new = (agree + a0 - 1) / (votes + a0 + b0 - 2)
        done = np.abs(new - eta).max() < tol
        eta = new
        if done:
            break
    assert result is not None  # iterations >= 1
    _count_votes(result, rankings)
    result.params["raters"] = len(ids)
    result.params["rater_model"] = "crowd-bt" if fixed is None else "fixed reliabilities"
    return result, {r: float(eta[i]) for r, i in ids.items()}


def _count_votes(result: LeaderboardResult, rankings: Sequence[Any]) -> None:
    """The fit's rows count split outcomes; put back each model's judgments, wins, ties, losses."""
    n: dict[str, int] = {}
    won: dict[str, int] = {}
    drew: dict[str, int] = {}
    lost: dict[str, int] = {}
    for ranking in rankings:
        canon = canonical_ranking(ranking)
        for g in canon:
            for m in g:
                n[m] = n.get(m, 0) + 1
        for a, b, s in ranking_pairs(canon):
            if s == 0.5:
                drew[a], drew[b] = drew.get(a, 0) + 1, drew.get(b, 0) + 1
            else:
                won[a], lost[b] = won.get(a, 0) + 1, lost.get(b, 0) + 1
    min_votes = result.params.get("min_votes", 0)
    result.rows = [
        row.with_counts(
            n.get(row.model, 0),
            won.get(row.model, 0),
            drew.get(row.model, 0),
            lost.get(row.model, 0),
            min_votes,
        )
        for row in result.rows
    ]


def _weighted_fit(
    names: Sequence[str], pa: Arr, pb: Arr, tied: Arr, right: Arr, **fit_kw: Any
) -> LeaderboardResult:
    """Bradley–Terry on pairs split between their two orientations, weights summed per outcome."""
    M = len(names)
    lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
    # outcome codes: (winner, loser, 0) for a decisive orientation, (low, high, 1) for a tie
    codes = np.concatenate([(pa * M + pb) * 2, (pb * M + pa) * 2, (lo * M + hi) * 2 + 1])
    weight = np.concatenate(
        [np.where(tied, 0.0, right), np.where(tied, 0.0, 1.0 - right), tied.astype(float)]
    )
    keep = weight > 1e-12
    uniq, inverse = np.unique(codes[keep], return_inverse=True)
    totals = np.bincount(inverse, weight[keep])
    rankings: list[list[list[str]]] = []
    for code in uniq.tolist():
        pair, tie = divmod(code, 2)
        i, j = divmod(pair, M)
        rankings.append([[names[i], names[j]]] if tie else [[names[i]], [names[j]]])
    return fit_leaderboard(rankings, weights=totals, method="bt", ties="half", **fit_kw)
