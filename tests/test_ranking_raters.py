"""Annotator-aware rating (Crowd-BT): unreliable raters are found and discounted."""

import numpy as np
import pytest

from ranking.leaderboard import fit_leaderboard
from ranking.raters import crowd_bt

NAMES = [f"m{i}" for i in range(6)]
TRUTH = np.linspace(-1.5, 1.5, 6)  # m5 best


def votes(n, seed=0):
    rng = np.random.default_rng(seed)
    rankings, raters = [], []
    for t in range(n):
        a, b = rng.choice(6, 2, replace=False)
        rater = f"r{t % 10}"
        truthful = rng.random() < 1 / (1 + np.exp(TRUTH[b] - TRUTH[a]))
        if rater in ("r0", "r1", "r2"):  # three raters vote against the truth
            truthful = not truthful
        rankings.append([[NAMES[a]], [NAMES[b]]] if truthful else [[NAMES[b]], [NAMES[a]]])
        raters.append(rater)
    return rankings, raters


def test_crowd_bt_finds_the_contrary_raters_and_recovers_the_order():
    rankings, raters = votes(3000)
    result, eta = crowd_bt(rankings, raters)
    assert all(eta[r] < 0.5 for r in ("r0", "r1", "r2"))
    assert all(eta[f"r{k}"] > 0.7 for k in range(3, 10))
    aware = {r["model"]: r["rating"] for r in result.rows}
    plain = {r["model"]: r["rating"] for r in fit_leaderboard(rankings).rows}
    truth = 1000 + 400 / np.log(10) * TRUTH
    err_aware = np.abs([aware[m] - t for m, t in zip(NAMES, truth)]).mean()
    err_plain = np.abs([plain[m] - t for m, t in zip(NAMES, truth)]).mean()
    assert err_aware < 0.5 * err_plain  # contrary votes shrink the plain fit's gaps
    assert [r["model"] for r in result.rows] == NAMES[::-1]
    assert sum(r["n"] for r in result.rows) == 2 * 3000  # rows count votes, not split outcomes
    assert all(r["ci_low"] < r["rating"] < r["ci_high"] for r in result.rows)


def test_fixed_reliabilities_and_bad_input():
    rankings, raters = votes(600, seed=1)
    result, eta = crowd_bt(rankings, raters, fixed={"r0": 0.5, "r1": 0.5, "r2": 0.5})
    assert eta["r0"] == 0.5 and eta["r5"] == pytest.approx(0.8)
    assert result.params["rater_model"] == "fixed reliabilities"
    with pytest.raises(ValueError, match="one rater per ranking"):
        crowd_bt(rankings, raters[:-1])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        crowd_bt(rankings, raters, fixed={"r0": 1.5})
    with pytest.raises(ValueError, match="twice"):
        crowd_bt([[["a"], ["a"]]], ["r0"])
