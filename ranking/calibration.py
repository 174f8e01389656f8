"""Do the 95% intervals hold the truth 95% of the time? Coverage in simulation (no Django).

Each replication draws true strengths theta ~ N(0, ``spread``^2) logits for ``models`` models,
``votes`` votes on uniformly random pairs (or K-sets), fits a leaderboard and counts how often a
rated model's interval holds its true rating centred like ours (mean over the rated models = 1000).

How ties arise matters as much as how they are fitted (``tie_model``):
- ``"davidson"``: Davidson's model, P(tie) = nu / (e^{d/2} + e^{-d/2} + nu): ties between close models;
  the model ``ties="davidson"`` fits.
- ``"flat"``: a fixed share of votes is a tie whatever the strengths, the rest Bradley–Terry.
- ``"half"``: ties among close models with P(tie) = rate * 4 p (1 - p), p = sigmoid(d), the win taken
  from each side by half the tie's probability, so a vote's expected score is exactly p: the model
  under which "a tie is half a win" (Chatbot Arena's convention, ``ties="half"``, Plackett–Luce, the
  Bayesian rater) is unbiased. At K > 2: one adjacent pair of the Plackett–Luce order, at a random
  position, is merged into a tie with a probability that keeps the expected score of the averaged
  Plackett–Luce likelihood unchanged.
"""

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .judgments import CENTER, POINTS_PER_LOGIT

Votes = list[list[list[str]]]

TIE_MODELS = ("none", "davidson", "flat", "half")


def _pair_votes(
    rng: np.random.Generator, theta: npt.NDArray[np.float64], votes: int, tie_model: str, tie_rate: float
) -> Votes:
    M = len(theta)
    a = rng.integers(0, M, votes)
    b = (a + rng.integers(1, M, votes)) % M
    d = theta[a] - theta[b]
    p = 1.0 / (1.0 + np.exp(-d))
    u = rng.random(votes)
    if tie_model == "none":
        t, pw = np.zeros(votes), p
    elif tie_model == "davidson":
        # nu chosen so that equal models tie at tie_rate: nu / (2 + nu) = tie_rate
        nu = 2 * tie_rate / (1 - tie_rate)
        den = np.exp(d / 2) + np.exp(-d / 2) + nu
        t, pw = nu / den, np.exp(d / 2) / den
    elif tie_model == "flat":
        t, pw = np.full(votes, tie_rate), (1 - tie_rate) * p
    elif tie_model == "half":
        t = tie_rate * 4 * p * (1 - p)
        pw = p - t / 2
    else:
        raise ValueError(f"Unknown tie model {tie_model!r}; choose one of {', '.join(TIE_MODELS)}.")
    tie = u < t
    win = ~tie & (u < t + pw)
    out = []
    for x, y, ti, w in zip(a.tolist(), b.tolist(), tie.tolist(), win.tolist()):
        out.append([[f"m{x}", f"m{y}"]] if ti else [[f"m{x}"], [f"m{y}"]] if w else [[f"m{y}"], [f"m{x}"]])
    return out


def _k_votes(
    rng: np.random.Generator,
    theta: npt.NDArray[np.float64],
    votes: int,
    k: int,
    tie_model: str,
    tie_rate: float,
) -> Votes:
    """Plackett–Luce orders of k random models; with tie_model "half", one adjacent pair at a random
    position is merged into a tie with probability 2 rate (S - e^upper) / (2S - e^upper - e^lower),
    S the strengths left from that position: then P(order ... u, l ...) * q(u, l) equals
    P(order ... l, u ...) * q(l, u), so the averaged likelihood's expected score stays 0 at the truth."""
    if tie_model not in ("none", "half"):
        raise ValueError("K-wise votes simulate tie models 'none' and 'half'.")
    M = len(theta)
    out = []
    for _ in range(votes):
        shown = rng.choice(M, k, replace=False)
        order = shown[np.argsort(-(theta[shown] + rng.gumbel(size=k)))]
        groups = [[f"m{x}"] for x in order.tolist()]
        if tie_model == "half":
            r = int(rng.integers(0, k - 1))
            e = np.exp(theta[order[r:]])
            S = e.sum()
            q = 2 * tie_rate * (S - e[0]) / (2 * S - e[0] - e[1])
            if rng.random() < q:
                groups[r : r + 2] = [groups[r] + groups[r + 1]]
        out.append(groups)
    return out


def coverage(
    method: str = "bt",
    votes: int = 300,
    models: int = 12,
    k: int = 2,
    reps: int = 100,
    tie_model: str = "half",
    tie_rate: float = 0.1,
    ties: str = "half",
    spread: float = 1.0,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
    **fit_kw: Any,
) -> dict[str, Any]:
    """{"coverage", "intervals", "mean_width", "zero_width"}: the share of rated models whose interval
    holds the truth, over ``reps`` replications."""
    from .leaderboard import fit_leaderboard

    rng = np.random.default_rng(seed)
    held = total = zero = 0
    widths = []
    for rep in range(reps):
        theta = rng.normal(0.0, spread, models)
        data = (
            _pair_votes(rng, theta, votes, tie_model, tie_rate)
            if k == 2
            else _k_votes(rng, theta, votes, k, tie_model, tie_rate)
        )
        result = fit_leaderboard(
            data,
            method=method,
            ties=ties,
            bootstrap=bootstrap,
            seed=seed * 7919 + rep,
            min_votes=0,
            confidence=confidence,
            **fit_kw,
        )
        rated = [r for r in result.rows if r.rating is not None]
        idx = np.array([int(r.model[1:]) for r in rated])
        truth = CENTER + POINTS_PER_LOGIT * (theta[idx] - theta[idx].mean())
        lo = np.array([r.ci_low for r in rated])
        hi = np.array([r.ci_high for r in rated])
        held += int(((lo <= truth) & (truth <= hi)).sum())
        total += len(rated)
        zero += int((hi - lo <= 1e-9).sum())
        widths.append(hi - lo)
    return {
        "coverage": held / total,
        "intervals": total,
        "mean_width": float(np.concatenate(widths).mean()),
        "zero_width": zero,
        "se": math.sqrt(0.95 * 0.05 / total),
    }
