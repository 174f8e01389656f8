"""Online Elo over tie-group rankings (pure library)."""

import pytest

from ranking.elo import expected_score, online_elo, ranking_pairs


def test_expected_score_is_symmetric_and_half_at_equal_ratings():
    assert expected_score(1000, 1000) == 0.5
    assert expected_score(1200, 1000) + expected_score(1000, 1200) == pytest.approx(1.0)
    assert expected_score(1400, 1000) == pytest.approx(1 / (1 + 10**-1))


def test_a_win_moves_both_by_half_k_from_equal_ratings():
    rows = {r.model: r for r in online_elo([[["x"], ["y"]]], k=32)}
    assert rows["x"].rating == pytest.approx(1016)
    assert rows["y"].rating == pytest.approx(984)
    assert (rows["x"].wins, rows["y"].losses, rows["x"].battles) == (1, 1, 1)


def test_a_tie_between_equals_changes_nothing_but_counts():
    rows = {r.model: r for r in online_elo([[["x", "y"]]])}
    assert rows["x"].rating == rows["y"].rating == 1000
    assert rows["x"].ties == rows["y"].ties == 1
    assert rows["x"].win_rate == 0.5


def test_k_wise_rankings_break_into_pairs_with_ties():
    pairs = sorted(ranking_pairs([["a"], ["b", "c"], ["d"]]))
    assert pairs == sorted(
        [("a", "b", 1.0), ("a", "c", 1.0), ("a", "d", 1.0), ("b", "c", 0.5), ("b", "d", 1.0), ("c", "d", 1.0)]
    )


def test_pairs_inside_one_judgment_are_scored_against_the_same_ratings():
    # Within one judgment the pair order must not matter: b and c tie and beat d the same way.
    rows = {r.model: r for r in online_elo([[["a"], ["b", "c"], ["d"]]])}
    assert rows["b"].rating == pytest.approx(rows["c"].rating)
    assert rows["a"].rating > rows["b"].rating > rows["d"].rating
    assert sum(r.rating for r in rows.values()) == pytest.approx(4000)  # zero-sum


def test_order_of_judgments_matters_as_online_elo_should():
    forward = {r.model: r.rating for r in online_elo([[["x"], ["y"]], [["y"], ["x"]]])}
    assert forward["y"] > forward["x"]  # the later win counts more against a raised rating


def test_rows_are_sorted_best_first():
    rows = online_elo([[["x"], ["y"]], [["x"], ["z"]], [["y"], ["z"]]])
    assert [r.model for r in rows] == ["x", "y", "z"]


def test_bad_k_factor_is_refused():
    with pytest.raises(ValueError, match="K-factor must be positive"):
        online_elo([], k=0)
