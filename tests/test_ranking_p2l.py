"""P2L-lite: per-category boards shrunk toward the global board."""

import numpy as np
import pytest

from ranking.leaderboard import fit_leaderboard
from ranking.p2l import fit_category_board


def votes(n, seed, flip=True):
    # "code" reverses two models' order; "chat" follows the global order
    rng = np.random.default_rng(seed)
    theta = {"a": 1.0, "b": 0.0, "c": -1.0}
    out, cats = [], []
    for _ in range(n):
        x, y = (str(m) for m in rng.choice(list(theta), 2, replace=False))
        cat = "code" if rng.random() < 0.5 else "chat"
        d = theta[x] - theta[y]
        if flip and cat == "code" and {x, y} == {"a", "c"}:
            d = -d
        out.append([[x], [y]] if rng.random() < 1 / (1 + np.exp(-d)) else [[y], [x]])
        cats.append(cat)
    return out, cats


def test_category_boards_beat_the_global_board_on_held_out_votes():
    train, ctrain = votes(3000, seed=0)
    test, ctest = votes(3000, seed=1)
    board = fit_category_board(train, ctrain)
    assert board.rating("c", "code") > board.rating("a", "code")
    assert board.rating("a", "chat") > board.rating("c", "chat")
    flat = fit_category_board(train, ctrain, shrink=1e9)  # everything pulled onto the global board
    assert board.log_loss(test, ctest) < flat.log_loss(test, ctest) - 0.01
    glob = fit_leaderboard(train, method="bt", ties="half")
    for m in "abc":  # the fully shrunk board is the global Bradley–Terry fit
        assert flat.rating(m) == pytest.approx(
            next(r["rating"] for r in glob.rows if r["model"] == m), abs=0.5
        )


def test_without_category_effects_shrinkage_wins_and_bad_input():
    train, ctrain = votes(600, seed=2, flip=False)
    board = fit_category_board(train, ctrain)
    assert board.shrink >= 10  # cross-validation finds no category effect worth fitting
    with pytest.raises(ValueError, match="one category per ranking"):
        fit_category_board(train, ctrain[:-1])
