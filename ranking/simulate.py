"""Synthetic arenas with known strengths: how fast does each method × policy × K recover the truth? (no Django)

Each model has a true strength theta (natural-log odds, normal with sd ``spread``).
A vote shows the k models the policy picks; the voter ranks them by
theta + noise * Gumbel (exactly Plackett–Luce when noise = 1, pairwise BT at k = 2);
neighbours whose perceived utilities differ by less than ``tie_margin`` are tied.
A share ``noisy`` of the votes come from noisy voters, who rank what they are shown
at random (the issue's "5–15% noisy voters"). ``replicate`` > 0 keeps the arena (the
true strengths drawn from ``seed``) and draws independent votes and matchups: the
spread between replicates of one arena is the measurement's own noise floor.
The curve is Kendall's tau between the fitted scores and the truth, every
``every`` votes; "votes to converge" is the first checkpoint after which tau
stays at or above ``target`` until the end of the run (None if never).
"""

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from .online import OnlineRanker


def simulate_run(
    method: str,
    policy: str,
    k: int,
    n_models: int = 20,
    votes: int = 4000,
    noise: float = 1.0,
    spread: float = 1.0,
    tie_margin: float = 0.0,
    every: int = 50,
    seed: int = 0,
    k_factor: float = 16.0,
    refresh_every: int | None = None,
    target: float = 0.9,
    noisy: float = 0.0,
    replicate: int = 0,
) -> dict[str, Any]:
    # Matchmaking estimates refresh after about 5 pairwise comparisons' worth of votes:
    # every 5 votes at K=2, every vote at K=4 (a K-wise vote carries K(K-1)/2 pairs).
    # Elo and the Bayesian rater update in O(K^2) a vote, so they refresh every vote, as a live ranker does.
    if refresh_every is None:
        refresh_every = 1 if method in ("elo", "bayes") else max(1, round(5 / (k * (k - 1) / 2)))
    rng = np.random.default_rng(seed)
    truth = rng.normal(0.0, spread, n_models)
    if replicate:
        rng = np.random.default_rng([seed, replicate])
    names = [f"model-{i:02d}" for i in range(n_models)]
    ranker = OnlineRanker(
        names,
        method=method,
        policy=policy,
        k=k,
        seed=seed + 1 if not replicate else [seed, replicate, 1],
        k_factor=k_factor,
        refresh_every=refresh_every,
    )
    index = {m: i for i, m in enumerate(names)}
    checkpoints: list[int] = []
    taus: list[float] = []
    for t in range(1, votes + 1):
        shown = ranker.next_matchup()
        idx = np.array([index[m] for m in shown])
        util = truth[idx] + noise * rng.gumbel(size=len(idx))
        if noisy and rng.random() < noisy:
            util = rng.standard_normal(len(idx))
        order = np.argsort(-util)
        ranking: list[list[str]] = []
        group = [shown[order[0]]]
        for a, b in zip(order[:-1], order[1:]):
            if util[a] - util[b] < tie_margin:
                group.append(shown[b])
            else:
                ranking.append(group)
                group = [shown[b]]
        ranking.append(group)
        ranker.observe(ranking)
        if t % every == 0:
            rows = ranker.leaderboard()
            score = {r["model"]: (r["score"] if r["score"] is not None else -1e9) for r in rows}
            tau = kendalltau(truth, [score[m] for m in names]).statistic
            checkpoints.append(t)
            taus.append(float(tau))
    return {"votes": checkpoints, "tau": taus, "converged_at": converged_at(checkpoints, taus, target)}


def converged_at(checkpoints: Sequence[int], taus: Sequence[float], target: float = 0.9) -> int | None:
    """First checkpoint from which tau stays >= target to the end; None if it never settles."""
    at = None
    for t, tau in zip(checkpoints, taus):
        if tau >= target:
            if at is None:
                at = t
        else:
            at = None
    return at


def _run(args: tuple[str, str, int, int, dict[str, Any]]) -> dict[str, Any]:
    method, policy, k, seed, kw = args
    return simulate_run(method, policy, k, seed=seed, **kw)


def simulate(
    methods: Sequence[str] = ("elo", "bt", "pl", "bayes"),
    policies: Sequence[str] = ("uniform", "adaptive"),
    ks: Sequence[int] = (2, 4),
    seeds: int = 3,
    jobs: int = 1,
    **kw: Any,
) -> list[dict[str, Any]]:
    """Every method × policy × K, over ``seeds`` arenas; per configuration the median votes to converge
    and the mean tau curve. ``jobs`` > 1 runs the arenas in that many processes (same results)."""
    configs = list(itertools.product(methods, policies, ks))
    tasks = [(m, p, k, s, kw) for m, p, k in configs for s in range(seeds)]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as pool:
            flat = list(pool.map(_run, tasks, chunksize=1))
    else:
        flat = [_run(t) for t in tasks]
    results = []
    for c, (method, policy, k) in enumerate(configs):
        runs = flat[c * seeds : (c + 1) * seeds]
        conv = [r["converged_at"] for r in runs]
        settled = [c for c in conv if c is not None]
        results.append(
            {
                "method": method,
                "policy": policy,
                "k": k,
                "votes": runs[0]["votes"],
                "tau_mean": [float(np.mean(col)) for col in zip(*(r["tau"] for r in runs))],
                "converged_at": conv,
                "median_votes_to_converge": (
                    float(np.median([c if c is not None else np.inf for c in conv]))
                    if len(settled) * 2 > len(conv)
                    else None
                ),
            }
        )
    return results
