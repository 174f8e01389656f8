"""The rating engine's pure library: fits, intervals, style control, diagnostics, matchmaking, bad input."""

import math

import numpy as np
import pytest

from ranking.diagnostics import diagnostics
from ranking.judgments import POINTS_PER_LOGIT, Judgments, resample_counts
from ranking.leaderboard import fit_leaderboard, rank_upper_bounds
from ranking.matchmaking import choose_matchup
from ranking.style import markdown_features

NAMES = [f"m{i}" for i in range(6)]
TRUTH = np.array([-1.2, -0.6, -0.1, 0.3, 0.7, 1.3])  # logits, strictly increasing


def pairwise(n, seed=0, tie_rate=0.0, truth=TRUTH):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a, b = rng.choice(len(truth), 2, replace=False)
        p = 1 / (1 + math.exp(-(truth[a] - truth[b])))
        u = rng.random()
        if u < tie_rate:
            out.append([[NAMES[a], NAMES[b]]])
        elif rng.random() < p:
            out.append([[NAMES[a]], [NAMES[b]]])
        else:
            out.append([[NAMES[b]], [NAMES[a]]])
    return out


def kwise(n, k=4, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        idx = rng.choice(len(TRUTH), k, replace=False)
        util = TRUTH[idx] + rng.gumbel(size=k)
        out.append([[NAMES[i]] for i in idx[np.argsort(-util)]])
    return out


def by_model(result):
    return {r["model"]: r for r in result.rows}


# -- recovery of known strengths ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["bt", "pl", "bayes"])
def test_known_strengths_are_recovered_in_order_and_size(method):
    data = pairwise(20000, seed=1) if method != "pl" else kwise(6000, seed=1)
    rows = by_model(fit_leaderboard(data, method=method))
    fitted = np.array([rows[m]["rating"] for m in NAMES])
    expected = 1000 + POINTS_PER_LOGIT * (TRUTH - TRUTH.mean())
    assert list(np.argsort(fitted)) == list(range(6))
    assert np.abs(fitted - expected).max() < 45
    assert np.mean(fitted) == pytest.approx(1000, abs=1e-6 if method != "bayes" else 1e-6)


def test_elo_orders_known_strengths():
    result = fit_leaderboard(pairwise(20000, seed=2), method="elo", k_factor=4)
    assert [r["model"] for r in result.rows] == NAMES[::-1]


def test_rows_carry_counts_and_win_rates():
    data = [[["a"], ["b"]], [["a", "b"]], [["b"], ["a"]], [["a"], ["c"], ["b"]]]
    rows = by_model(fit_leaderboard(data, method="bt", min_votes=3))
    assert (rows["a"]["wins"], rows["a"]["ties"], rows["a"]["losses"]) == (3, 1, 1)
    assert rows["a"]["n"] == 4 and rows["c"]["n"] == 1
    assert rows["a"]["win_rate"] == pytest.approx(3.5 / 5)
    assert rows["c"]["preliminary"] and not rows["a"]["preliminary"]


def test_pl_at_k2_equals_bt_with_ties():
    data = pairwise(3000, seed=3, tie_rate=0.2)
    bt = by_model(fit_leaderboard(data, method="bt"))
    pl = by_model(fit_leaderboard(data, method="pl"))
    for m in NAMES:
        assert pl[m]["rating"] == pytest.approx(bt[m]["rating"], abs=1e-4)


def test_davidson_differs_from_half_win_and_estimates_the_tie_rate():
    data = pairwise(20000, seed=4, tie_rate=0.3)
    half = fit_leaderboard(data, method="bt", ties="half")
    dav = fit_leaderboard(data, method="bt", ties="davidson")
    spread_half = half.rows[0]["rating"] - half.rows[-1]["rating"]
    spread_dav = dav.rows[0]["rating"] - dav.rows[-1]["rating"]
    # half-win reads random ties as evidence of equality and shrinks the spread; Davidson does not
    assert spread_dav > spread_half + 20
    assert [r["model"] for r in dav.rows] == NAMES[::-1]
    nu = dav.params["davidson_nu"]
    # between equals P(tie) = nu / (2 + nu); here about 0.3 + 0.7 * small, so nu is near 0.9 at equal strengths
    assert 0.5 < nu < 1.5


def test_an_unbeaten_model_stays_finite():
    data = [[["champ"], ["b"]]] * 30 + [[["b"], ["c"]], [["c"], ["b"]]] * 10
    for method in ("bt", "pl", "bayes"):
        rows = by_model(fit_leaderboard(data, method=method))
        assert math.isfinite(rows["champ"]["rating"])
        assert rows["champ"]["rating"] > rows["b"]["rating"]
        assert rows["champ"]["rating"] < 4000


def test_bootstrap_interval_covers_the_truth_and_shrinks_with_data():
    expected = 1000 + POINTS_PER_LOGIT * (TRUTH - TRUTH.mean())
    covered, widths = 0, {}
    for n in (2000, 8000):
        res = by_model(fit_leaderboard(pairwise(n, seed=5), method="bt", bootstrap=200, seed=1))
        widths[n] = np.mean([res[m]["ci_high"] - res[m]["ci_low"] for m in NAMES])
        for i, m in enumerate(NAMES):
            assert res[m]["ci_low"] <= res[m]["rating"] <= res[m]["ci_high"]
            covered += res[m]["ci_low"] <= expected[i] <= res[m]["ci_high"]
    assert covered >= 10  # of 12 intervals at 95%
    assert widths[8000] < 0.7 * widths[2000]  # about 1/sqrt(4)


def test_no_bootstrap_means_laplace_intervals_not_points():
    # Issue 15: without a bootstrap the board used to print ci_low == ci_high == rating.
    res = fit_leaderboard(pairwise(500, seed=6), method="bt")
    assert res.params["interval"] == "laplace"
    assert all(r["ci_low"] < r["rating"] < r["ci_high"] for r in res.rows)
    assert res.rows[0]["rank_ub"] == 1


def test_fast_resampling_matches_exact_multinomial():
    counts = np.array([400.0, 250, 5, 1, 300, 44])
    rng = np.random.default_rng(0)
    exact = resample_counts(counts, 20000, rng, exact=True)
    fast = resample_counts(counts, 20000, rng, exact=False)
    assert np.allclose(exact.mean(0), fast.mean(0), rtol=0.02, atol=0.05)
    assert np.allclose(exact.std(0), fast.std(0), rtol=0.05)
    data = pairwise(4000, seed=7)
    a = by_model(fit_leaderboard(data, bootstrap=1500, seed=2, exact_resample=True))
    b = by_model(fit_leaderboard(data, bootstrap=1500, seed=2, exact_resample=False))
    for m in NAMES:
        wa, wb = a[m]["ci_high"] - a[m]["ci_low"], b[m]["ci_high"] - b[m]["ci_low"]
        assert wb == pytest.approx(wa, rel=0.15)


def test_pl_and_elo_bootstraps_give_intervals():
    res = fit_leaderboard(kwise(1500, seed=8), method="pl", bootstrap=100, seed=0)
    assert all(r["ci_low"] < r["rating"] < r["ci_high"] for r in res.rows)
    res = fit_leaderboard(pairwise(400, seed=8), method="elo", bootstrap=20, seed=0)
    assert all(r["ci_low"] <= r["rating"] <= r["ci_high"] for r in res.rows)
    assert res.params["interval"] == "bootstrap"


def test_bayes_gives_a_posterior_interval_that_narrows():
    small = by_model(fit_leaderboard(pairwise(200, seed=9), method="bayes"))
    large = by_model(fit_leaderboard(pairwise(5000, seed=9), method="bayes"))
    for m in NAMES:
        assert small[m]["ci_low"] < small[m]["rating"] < small[m]["ci_high"]
        assert large[m]["ci_high"] - large[m]["ci_low"] < 0.5 * (small[m]["ci_high"] - small[m]["ci_low"])


def test_bayes_ties_are_symmetric_and_order_free():
    a = fit_leaderboard([[["x", "y"]], [["y", "x"]], [["z"], ["x", "y"]]], method="bayes")
    b = fit_leaderboard([[["y", "x"]], [["x", "y"]], [["z"], ["y", "x"]]], method="bayes")
    ra, rb = by_model(a), by_model(b)
    assert ra["x"]["rating"] == pytest.approx(ra["y"]["rating"])
    assert ra["x"]["rating"] == pytest.approx(rb["x"]["rating"])
    eq = by_model(fit_leaderboard([[["p", "q"]]] * 5, method="bayes"))
    assert eq["p"]["rating"] == pytest.approx(1000) == pytest.approx(eq["q"]["rating"])
    # a tie winner group never ends below the next placed model
    c = by_model(fit_leaderboard([[["x", "y"], ["z"]]], method="bayes"))
    assert c["x"]["rating"] > c["z"]["rating"] and c["y"]["rating"] > c["z"]["rating"]


def test_rank_upper_bound_formula():
    lo = [100, 90, 50, 10]
    hi = [120, 110, 95, 60]
    # model 2 (hi 95) is beaten for sure by model 0 (lo 100) only; model 3 (hi 60) by 0, 1
    assert list(rank_upper_bounds(lo, hi)) == [1, 1, 2, 3]


def test_anchor_shifts_the_scale():
    data = pairwise(2000, seed=10)
    plain = by_model(fit_leaderboard(data, bootstrap=30, seed=0))
    anchored = by_model(fit_leaderboard(data, bootstrap=30, seed=0, anchor=("m2", 1114)))
    assert anchored["m2"]["rating"] == pytest.approx(1114)
    shift = 1114 - plain["m2"]["rating"]
    for m in NAMES:
        assert anchored[m]["rating"] == pytest.approx(plain[m]["rating"] + shift)
        assert anchored[m]["ci_low"] == pytest.approx(plain[m]["ci_low"] + shift)


def test_weights_count_as_repeated_judgments():
    data = [[["a"], ["b"]], [["b"], ["a"]], [["a"], ["c"]], [["c"], ["b"]]]
    weighted = by_model(fit_leaderboard(data, weights=[3, 1, 1, 1]))
    repeated = by_model(fit_leaderboard([data[0]] * 3 + data[1:]))
    for m in "abc":
        assert weighted[m]["rating"] == pytest.approx(repeated[m]["rating"], abs=1e-6)


def test_models_without_votes_are_listed_last_unrated():
    res = fit_leaderboard([[["a"], ["b"]]], models=["a", "b", "new"])
    assert res.rows[-1]["model"] == "new" and res.rows[-1]["rating"] is None and res.rows[-1]["n"] == 0


def test_warm_start_reaches_the_same_fit():
    data = pairwise(3000, seed=11)
    cold = fit_leaderboard(data)
    warm = fit_leaderboard(data + pairwise(10, seed=12), warm_start=cold)
    again = fit_leaderboard(data + pairwise(10, seed=12))
    assert by_model(warm)["m3"]["rating"] == pytest.approx(by_model(again)["m3"]["rating"], abs=1e-6)
    assert warm.params["iterations"] <= again.params["iterations"]


def test_sufficient_statistics_aggregate_identical_judgments():
    data = [[["a"], ["b"]]] * 500 + [[["b", "a"]]] * 200 + [[["a", "b"]]] * 100
    j = Judgments.from_rankings(data)
    assert j.n_judgments == 800 and len(j.counts) == 2  # ties are canonical: one row


# -- style control -------------------------------------------------------------------------


def test_markdown_features():
    text = "# Title\n\nSome **bold** words here.\n\n- one\n- two\n1. three\n\n## Sub\n__also__"
    f = markdown_features(text)
    assert f == {"tokens": len(text.split()), "headers": 2, "lists": 3, "bold": 2}
    assert markdown_features("") == {"tokens": 0, "headers": 0, "lists": 0, "bold": 0}


def test_style_control_removes_a_length_bias():
    # equal models; "verbose" writes long answers, and the longer answer wins more often (logistic in the
    # normalised length difference, the covariate style control uses)
    rng = np.random.default_rng(13)
    rankings, feats = [], []
    for _ in range(6000):
        a, b = rng.choice(["verbose", "terse", "mid"], 2, replace=False)
        la, lb = (
            int(rng.integers(400, 600)) if m == "verbose" else int(rng.integers(50, 600)) for m in (a, b)
        )
        p = 0.75 if la > lb else 0.25
        rankings.append([[a], [b]] if rng.random() < p else [[b], [a]])
        feats.append({m: {"tokens": n, "headers": 0, "lists": 0, "bold": 0} for m, n in ((a, la), (b, lb))})
    plain = by_model(fit_leaderboard(rankings, features=feats))
    styled = fit_leaderboard(rankings, features=feats, style_control=True, bootstrap=20, seed=0)
    rows = by_model(styled)
    assert plain["verbose"]["rating"] - plain["terse"]["rating"] > 60
    assert abs(rows["verbose"]["rating"] - rows["terse"]["rating"]) < 0.25 * (
        plain["verbose"]["rating"] - plain["terse"]["rating"]
    )
    assert styled.style_coefficients["tokens"] > 0.3
    assert set(styled.style_coefficients) == {"tokens", "headers", "lists", "bold"}


def test_style_features_follow_chatbot_arena():
    from ranking.style import style_difference

    # length: (a - b) / (a + b + 1); markdown: densities per token, then A - B
    d = style_difference([100.0, 2.0, 10.0, 0.0], [50.0, 2.0, 0.0, 5.0])
    assert d == pytest.approx([50 / 151, 2 / 100 - 2 / 50, 10 / 100, -5 / 50])
    assert style_difference([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]) == [0.0, 0.0, 0.0, 0.0]


def test_style_control_uses_markdown_density_not_counts():
    # equal models; "listy" packs lists densely, and the denser answer wins more often (logistic in the
    # difference of list densities, whatever the lengths)
    rng = np.random.default_rng(14)
    rankings, feats = [], []
    for _ in range(6000):
        a, b = rng.choice(["listy", "plain", "mid"], 2, replace=False)
        fa, fb = (
            {"tokens": int(rng.integers(50, 500)), "headers": 0, "lists": 0, "bold": 0} for _ in range(2)
        )
        for m, f in ((a, fa), (b, fb)):
            f["lists"] = int(f["tokens"] * (0.1 if m == "listy" else rng.uniform(0, 0.1)))
        p = 1.0 / (1.0 + np.exp(-30.0 * (fa["lists"] / fa["tokens"] - fb["lists"] / fb["tokens"])))
        rankings.append([[a], [b]] if rng.random() < p else [[b], [a]])
        feats.append({a: fa, b: fb})
    plain = by_model(fit_leaderboard(rankings, features=feats))
    styled = fit_leaderboard(rankings, features=feats, style_control=True)
    rows = by_model(styled)
    gap = plain["listy"]["rating"] - plain["plain"]["rating"]
    assert gap > 60
    assert abs(rows["listy"]["rating"] - rows["plain"]["rating"]) < 0.25 * gap
    assert styled.style_coefficients["lists"] > 0.3


def test_style_coefficients_are_none_without_style_control():
    assert fit_leaderboard(pairwise(100)).style_coefficients is None


# -- diagnostics -----------------------------------------------------------------------------


def test_rock_paper_scissors_cycle_is_detected():
    data = [[["rock"], ["scissors"]]] * 7 + [[["scissors"], ["paper"]]] * 7 + [[["paper"], ["rock"]]] * 7
    data += [[["rock"], ["lizard"]], [["paper"], ["lizard"]], [["scissors"], ["lizard"]]] * 3
    d = diagnostics(data)
    assert len(d["cycles"]) == 1
    assert set(d["cycles"][0]) == {"rock", "paper", "scissors"}
    i, j = d["models"].index("rock"), d["models"].index("scissors")
    assert d["win_rate"][i][j] == 1.0 and d["win_rate"][j][i] == 0.0
    assert d["battles"][i][j] == 7
    lz = d["models"].index("lizard")
    assert d["win_rate"][lz][lz] is None


def test_transitive_data_has_no_cycles_and_flip_votes_are_sensible():
    data = pairwise(3000, seed=14)
    order = [r["model"] for r in fit_leaderboard(data).rows]
    d = diagnostics(data, order=order)
    assert d["cycles"] == []
    assert d["models"] == order
    flips = d["flip_votes"]
    assert [(f["upper"], f["lower"]) for f in flips] == list(zip(order[:-1], order[1:]))
    assert all(f["votes"] > 0 for f in flips)
    # adding the estimated votes flips the pair; adding half of them does not
    f = min(flips, key=lambda f: f["votes"])
    extra = [[[f["lower"]], [f["upper"]]]] * f["votes"]
    after = [r["model"] for r in fit_leaderboard(data + extra).rows]
    assert after.index(f["lower"]) < after.index(f["upper"])
    half = [[[f["lower"]], [f["upper"]]]] * (f["votes"] // 2)
    after = [r["model"] for r in fit_leaderboard(data + half).rows]
    assert after.index(f["lower"]) > after.index(f["upper"])


def test_k_wise_battles_count_every_pair():
    d = diagnostics([[["a"], ["b", "c"]]], order=["a", "b", "c"])
    assert d["battles"] == [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    assert d["win_rate"][1][2] == 0.5 and d["win_rate"][0][1] == 1.0


# -- matchmaking ------------------------------------------------------------------------------


def test_uniform_matchups_are_distinct_and_balanced():
    rng = np.random.default_rng(0)
    seen = {m: 0 for m in NAMES}
    first = {m: 0 for m in NAMES}
    for _ in range(3000):
        mu = choose_matchup(NAMES, k=3, rng=rng)
        assert len(set(mu)) == 3
        first[mu[0]] += 1
        for m in mu:
            seen[m] += 1
    assert min(seen.values()) > 0.85 * 1500 and min(first.values()) > 0.8 * 500


def test_weighted_matchups_follow_weights_and_respect_outages():
    rng = np.random.default_rng(1)
    weights = {"m0": 0, "m1": 5.0}
    counts = {m: 0 for m in NAMES}
    for _ in range(2000):
        for m in choose_matchup(NAMES, policy="weighted", weights=weights, rng=rng):
            counts[m] += 1
    assert counts["m0"] == 0
    assert counts["m1"] > 2 * counts["m2"]


def test_adaptive_boosts_new_models_and_close_uncertain_pairs():
    stats = {m: {"score": 1000 + 100 * i, "sigma": 10.0, "n": 500} for i, m in enumerate(NAMES)}
    rng = np.random.default_rng(2)
    counts = {m: 0 for m in NAMES + ["newcomer"]}
    for _ in range(1000):
        for m in choose_matchup(NAMES + ["newcomer"], policy="adaptive", stats=stats, rng=rng):
            counts[m] += 1
    assert counts["newcomer"] > 800
    # without newcomer: neighbours in score are preferred over far-apart pairs
    near = far = 0
    for _ in range(1000):
        a, b = choose_matchup(NAMES, policy="adaptive", stats=stats, rng=rng)
        gap = abs(NAMES.index(a) - NAMES.index(b))
        near += gap == 1
        far += gap >= 4
    assert near > 5 * max(far, 1)


def test_adaptive_k4_draws_clusters_of_close_models_and_respects_outages():
    names = [f"c{i}" for i in range(12)]
    stats = {m: {"score": 1000 + 60 * i, "sigma": 15.0, "n": 300} for i, m in enumerate(names)}
    stats["c5"]["score"] = stats["c6"]["score"] = stats["c7"]["score"] = 1330.0  # an unresolved cluster
    rng = np.random.default_rng(3)
    spans, seen = [], set()
    for _ in range(500):
        mu = choose_matchup(names, k=4, policy="adaptive", stats=stats, weights={"c6": 0}, rng=rng)
        assert len(set(mu)) == 4
        seen.update(mu)
        idx = sorted(names.index(m) for m in mu)
        spans.append(idx[-1] - idx[0])
    assert "c6" not in seen
    assert np.median(spans) <= 4  # neighbours in score, not the whole field
    # a model without votes is still boosted at K = 4, even among settled models
    counts = sum(
        "new" in choose_matchup(names + ["new"], k=4, policy="adaptive", stats=stats, rng=rng)
        for _ in range(300)
    )
    assert counts > 250


def test_bayes_sigma_tracks_the_fisher_information():
    from ranking.bayes import WengLin

    # n pairs between equals: the precision grows by about p q / c^2 = 1/4 a pair, so sigma ~ 2 / sqrt(n)
    rater = WengLin(2)
    for t in range(2000):
        rater.update(((0,), (1,)) if t % 2 == 0 else ((1,), (0,)))
    assert rater.sigma[0] == pytest.approx(2 / np.sqrt(2000), rel=0.1)
    slow = WengLin(2, gamma="sigma")  # Weng–Lin's sigma / c heuristic shrinks much more slowly
    for t in range(2000):
        slow.update(((0,), (1,)) if t % 2 == 0 else ((1,), (0,)))
    assert slow.sigma[0] > 2 * rater.sigma[0]
    with pytest.raises(ValueError, match="gamma"):
        WengLin(2, gamma="fast")


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rankings": [[["a"], ["zzz"]]], "models": ["a", "b"]}, "unknown model 'zzz'"),
        ({"rankings": [[]]}, "Ranking 0 is empty"),
        ({"rankings": [[["a"], []]]}, "empty tie group"),
        ({"rankings": [[["a"], ["a"]]]}, "names model 'a' twice"),
        ({"rankings": [[["a"]]]}, "fewer than two models"),
        ({"rankings": [[["a"], ["b"]]], "weights": [float("nan")]}, "finite"),
        ({"rankings": [[["a"], ["b"]]], "weights": [-1.0]}, "positive"),
        ({"rankings": [[["a"], ["b"]]], "weights": [float("inf")]}, "finite"),
        ({"rankings": [[["a"], ["b"]]], "weights": [1.0, 2.0]}, "one number per ranking"),
        ({"rankings": [[["a"], ["b"]]], "method": "glicko"}, "Unknown rating method 'glicko'"),
        ({"rankings": [[["a"], ["b"]]], "style_control": True}, "Style control needs features"),
        (
            {"rankings": [[["a"], ["b"]]], "style_control": True, "method": "pl", "features": [{}]},
            "needs method 'bt'",
        ),
        ({"rankings": [[["a"], ["b"]]], "ties": "davidson", "method": "pl"}, "Davidson ties"),
        ({"rankings": [[["a"], ["b"]]], "ties": "coin"}, "Unknown tie handling"),
        ({"rankings": [[["a"], ["b"]]], "anchor": ("zz", 1000)}, "Anchor model 'zz'"),
        ({"rankings": [[["a"], ["b"]]], "bootstrap": -1}, "bootstrap must be"),
        ({"rankings": [["a", "b"]]}, "tie group that is not a list"),
        ({"rankings": []}, "No judgments"),
        (
            {
                "rankings": [[["a"], ["b"]]],
                "style_control": True,
                "features": [{"a": {"tokens": 1, "headers": 0, "lists": 0, "bold": 0}}],
            },
            "no entry for model 'b'",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message(kwargs, message):
    rankings = kwargs.pop("rankings")
    with pytest.raises(ValueError, match=message):
        fit_leaderboard(rankings, **kwargs)


def test_bad_ranking_position_is_named():
    with pytest.raises(ValueError, match="Ranking 2 names model 'b' twice"):
        fit_leaderboard([[["a"], ["b"]], [["a"], ["b"]], [["b"], ["b"]]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"policy": "roulette"}, "Unknown matchmaking policy"),
        ({"k": 7}, "Cannot draw 7"),
        (
            {"policy": "weighted", "weights": {m: 0 for m in NAMES[:5]}},
            "Fewer than 2 models have a positive weight",
        ),
        ({"policy": "weighted", "weights": {"m0": float("nan")}}, "finite and non-negative"),
    ],
)
def test_bad_matchmaking_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        choose_matchup(NAMES, **kwargs)


def test_diagnostics_refuses_unknown_order():
    with pytest.raises(ValueError, match="without judgments"):
        diagnostics([[["a"], ["b"]]], order=["a", "q"])


def test_judgments_kept_in_order_serve_every_method_and_flat_style_features():
    from ranking.judgments import Judgments

    rng = np.random.default_rng(3)
    names = ["a", "b", "c", "d"]
    rankings, feats = [], []
    for _ in range(300):
        x, y = rng.choice(4, 2, replace=False)
        rankings.append([[names[x]], [names[y]]] if rng.random() < 0.9 else [[names[x], names[y]]])
        feats.append(
            {
                names[m]: {"tokens": int(rng.integers(1, 200)), "headers": int(m), "lists": 1, "bold": 0}
                for m in (x, y)
            }
        )
    data = Judgments(keep_order=True).extend(rankings)
    flat = np.array(
        [
            [feats[t][data.models[m]][f] for f in ("tokens", "headers", "lists", "bold")]
            for t, key in enumerate(data.sequence)
            for g in key
            for m in g
        ],
        dtype=float,
    )
    for method in ("elo", "bayes", "bt", "pl"):
        assert fit_leaderboard(data, method=method).rows == fit_leaderboard(rankings, method=method).rows
    styled = fit_leaderboard(rankings, features=feats, style_control=True)
    flat_styled = fit_leaderboard(data, features=flat, style_control=True)
    assert [r["model"] for r in flat_styled.rows] == [r["model"] for r in styled.rows]
    assert np.allclose([r["rating"] for r in flat_styled.rows], [r["rating"] for r in styled.rows])
    # Laplace intervals without a bootstrap: real intervals, close to the bootstrap's width.
    lap = fit_leaderboard(data, method="bt", interval="laplace")
    boot = fit_leaderboard(rankings, method="bt", bootstrap=400, seed=0)
    assert lap.params["interval"] == "laplace" and boot.params["interval"] == "bootstrap"
    widths = {r["model"]: r["ci_high"] - r["ci_low"] for r in lap.rows}
    for row in boot.rows:
        assert 0.7 < widths[row["model"]] / (row["ci_high"] - row["ci_low"]) < 1.4
    with pytest.raises(ValueError, match="unweighted"):
        Judgments(keep_order=True).extend(rankings, weights=[1.0] * len(rankings))


def test_style_control_intervals_on_large_data_are_sandwich_and_match_a_bootstrap(monkeypatch):
    from ranking import leaderboard as lb

    rng = np.random.default_rng(5)
    names = ["a", "b", "c"]
    rankings, feats = [], []
    for _ in range(3000):
        x, y = rng.choice(3, 2, replace=False)
        rankings.append(
            [[names[x]], [names[y]]] if rng.random() < 0.5 + 0.1 * (x - y) else [[names[y]], [names[x]]]
        )
        feats.append(
            {
                names[m]: {"tokens": int(rng.integers(1, 300)), "headers": 0, "lists": 1, "bold": 0}
                for m in (x, y)
            }
        )
    exact = fit_leaderboard(rankings, features=feats, style_control=True, bootstrap=300, seed=0)
    monkeypatch.setattr(lb, "STYLE_LINEAR_BOOTSTRAP_ABOVE", 100)
    linear = fit_leaderboard(rankings, features=feats, style_control=True, bootstrap=300, seed=0)
    monkeypatch.setattr(lb, "STYLE_SANDWICH_ABOVE", 100)
    sandwich = fit_leaderboard(rankings, features=feats, style_control=True, bootstrap=300, seed=0)
    assert exact.params["interval"] == linear.params["interval"] == "bootstrap"
    assert sandwich.params["interval"] == "sandwich"
    width = {r["model"]: r["ci_high"] - r["ci_low"] for r in exact.rows}
    for other in (linear, sandwich):
        for row in other.rows:
            assert 0.8 < (row["ci_high"] - row["ci_low"]) / width[row["model"]] < 1.25
