"""Matchmaking: which k models the arena shows next (pure Python/numpy; no Django).

Policies:
- ``uniform``: k distinct models uniformly at random.
- ``weighted``: models drawn one after another without replacement with
  probability proportional to their weight (admin-set; weight 0 = never drawn,
  e.g. an outage; models missing from ``weights`` weigh 1).
- ``adaptive``: exploration–exploitation. The first model is drawn with
  probability proportional to its variance (uncertain and new models first);
  each further model is drawn with probability proportional to the squared
  expected information of comparing it with those already chosen,
  sum p(1-p) (sigma_i^2 + sigma_j^2): close in score and uncertain. Models
  missing from ``stats`` count as new, with the prior's large sigma, so they
  are boosted until their interval narrows.
"""

import math

import numpy as np

POLICIES = ("uniform", "weighted", "adaptive")
NEW_MODEL_SIGMA = 350.0  # rating points: the prior sd of a model without votes
SIGMA_FLOOR = 5.0


def _rng(rng):
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise ValueError("rng must be None, a seed or a numpy Generator.")


def _draw(rng, names, probs, k):
    chosen = []
    probs = np.array(probs, dtype=float)
    for _ in range(k):
        total = probs.sum()
        i = int(rng.choice(len(names), p=probs / total))
        chosen.append(names[i])
        probs[i] = 0.0
    return chosen


def choose_matchup(models, k=2, policy="uniform", weights=None, stats=None, rng=None):
    """k distinct model names, in random order (so position carries no information)."""
    if policy not in POLICIES:
        raise ValueError(f"Unknown matchmaking policy {policy!r}; choose one of {', '.join(POLICIES)}.")
    models = list(models)
    if len(set(models)) != len(models):
        raise ValueError("Matchmaking models must be distinct.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be a whole number of at least 2, got {k!r}.")
    if len(models) < k:
        raise ValueError(f"Cannot draw {k} distinct models from {len(models)}.")
    rng = _rng(rng)
    if policy == "uniform":
        idx = rng.choice(len(models), size=k, replace=False)
        chosen = [models[i] for i in idx]
    elif policy == "weighted":
        w = []
        for m in models:
            v = 1.0 if weights is None or m not in weights else weights[m]
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"Weight of model {m!r} must be a number, got {v!r}.") from None
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"Weight of model {m!r} must be finite and non-negative, got {v!r}.")
            w.append(v)
        if sum(1 for v in w if v > 0) < k:
            raise ValueError(f"Fewer than {k} models have a positive weight; cannot draw a matchup.")
        chosen = _draw(rng, models, w, k)
    else:
        chosen = _adaptive(models, k, stats or {}, weights, rng)
    order = rng.permutation(k)
    return [chosen[i] for i in order]


def _adaptive(models, k, stats, weights, rng):
    score = np.zeros(len(models))
    var = np.zeros(len(models))
    for i, m in enumerate(models):
        s = stats.get(m)
        if s is None or not s.get("n"):
            score[i], sigma = (s or {}).get("score", 1000.0) or 1000.0, NEW_MODEL_SIGMA
        else:
            score[i] = float(s["score"])
            sigma = float(s.get("sigma") or NEW_MODEL_SIGMA)
        if not (math.isfinite(score[i]) and math.isfinite(sigma)):
            raise ValueError(f"Stats of model {m!r} must be finite numbers.")
        var[i] = max(sigma, SIGMA_FLOOR) ** 2
    allowed = np.ones(len(models))
    if weights is not None:  # an outage (weight 0) is respected by every policy
        allowed = np.array([0.0 if float(weights.get(m, 1.0)) == 0 else 1.0 for m in models])
        if allowed.sum() < k:
            raise ValueError(f"Fewer than {k} models have a positive weight; cannot draw a matchup.")
    first = _draw(rng, list(range(len(models))), var * allowed, 1)[0]
    chosen = [first]
    gain = np.zeros(len(models))
    scale = 400.0 / math.log(10.0)
    for _ in range(k - 1):
        j = chosen[-1]
        c = np.sqrt(var + var[j] + scale**2)  # predictive spread, rating points
        p = 1.0 / (1.0 + np.exp(-(score - score[j]) / c))  # predictive P(model beats j)
        gain += p * (1 - p) * (var + var[j])
        probs = gain**2 * allowed
        probs[chosen] = 0.0
        if probs.sum() <= 0:
            probs = allowed.copy()
            probs[chosen] = 0.0
        chosen.append(_draw(rng, list(range(len(models))), probs, 1)[0])
    return [models[i] for i in chosen]
