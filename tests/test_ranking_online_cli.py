"""OnlineRanker end to end for every method × policy, and the `python -m ranking` CLI on each file format."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ranking import OnlineRanker
from ranking.simulate import converged_at

MODELS = [f"m{i}" for i in range(8)]
TRUTH = {m: 0.5 * i for i, m in enumerate(MODELS)}  # m7 best
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("method", ["elo", "bt", "pl", "bayes"])
@pytest.mark.parametrize("policy", ["uniform", "weighted", "adaptive"])
def test_online_ranker_end_to_end(method, policy):
    rng = np.random.default_rng(0)
    weights = {"m0": 0.0} if policy == "weighted" else None
    ranker = OnlineRanker(
        MODELS,
        method=method,
        policy=policy,
        k=3,
        seed=1,
        weights=weights,
        k_factor=16 if method == "elo" else 4,
    )
    for _ in range(600):
        shown = ranker.next_matchup()
        assert len(shown) == 3 and len(set(shown)) == 3 and set(shown) <= set(MODELS)
        if policy == "weighted":
            assert "m0" not in shown
        util = {m: TRUTH[m] + rng.gumbel() for m in shown}
        order = sorted(shown, key=lambda m: -util[m])
        ranker.observe([[order[0]], order[1:]] if rng.random() < 0.2 else [[m] for m in order])
    rows = ranker.leaderboard()
    assert {"model", "score", "ci_low", "ci_high", "rank_ub", "n"} <= set(rows[0])
    rated = [r for r in rows if r["score"] is not None]
    assert [r["score"] for r in rated] == sorted((r["score"] for r in rated), reverse=True)
    assert rated[0]["model"] in ("m7", "m6")
    assert all(r["ci_low"] <= r["score"] <= r["ci_high"] for r in rated)
    assert rated[0]["rank_ub"] == 1
    if policy == "weighted":
        assert rows[-1]["model"] == "m0" and rows[-1]["n"] == 0
    assert sum(r["n"] for r in rows) == 600 * 3


def test_online_ranker_refuses_bad_input():
    with pytest.raises(ValueError, match="Unknown rating method"):
        OnlineRanker(MODELS, method="glicko")
    with pytest.raises(ValueError, match="Unknown matchmaking policy"):
        OnlineRanker(MODELS, policy="roulette")
    ranker = OnlineRanker(MODELS)
    with pytest.raises(ValueError, match="unknown model 'zz'"):
        ranker.observe([["m1"], ["zz"]])
    with pytest.raises(ValueError, match="twice"):
        ranker.observe([["m1"], ["m1"]])
    with pytest.raises(ValueError, match="finite"):
        ranker.observe([["m1"], ["m2"]], weight=float("nan"))


def test_online_bt_matches_batch_fit():
    from ranking.leaderboard import fit_leaderboard

    rng = np.random.default_rng(3)
    data = []
    ranker = OnlineRanker(MODELS, method="bt")
    for _ in range(500):
        a, b = rng.choice(MODELS, 2, replace=False)
        r = [[a], [b]] if rng.random() < 0.6 else [[b], [a]]
        data.append(r)
        ranker.observe(r)
    online = {r["model"]: r["score"] for r in ranker.leaderboard()}
    batch = {r["model"]: r["rating"] for r in fit_leaderboard(data).rows}
    for m in MODELS:
        assert online[m] == pytest.approx(batch[m], abs=1e-4)


def test_converged_at_requires_staying_above_target():
    assert converged_at([1, 2, 3, 4], [0.95, 0.8, 0.91, 0.92]) == 3
    assert converged_at([1, 2], [0.95, 0.5]) is None


def run_cli(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "ranking", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    return proc


def test_cli_fit_on_ranking_records(tmp_path):
    path = tmp_path / "rankings.jsonl"
    lines = (
        [{"ranking": [["a"], ["b", "c"]]}] * 6
        + [{"ranking": [["b"], ["c"]]}] * 3
        + [{"ranking": [["c"], ["a"]]}]
    )
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    for method in ("elo", "bt", "pl", "bayes"):
        proc = run_cli(
            "fit", "--input", str(path), "--method", method, "--bootstrap", "20", "--anchor", "b=1200"
        )
        assert proc.returncode == 0, proc.stderr
        rows = json.loads(proc.stdout)
        assert rows[0]["model"] == "a"
        assert {"model", "rating", "ci_low", "ci_high", "rank_ub", "n"} <= set(rows[0])
        assert next(r for r in rows if r["model"] == "b")["rating"] == pytest.approx(1200)


def test_cli_fit_on_chatbot_arena_battles_with_style_control(tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "battles.jsonl"
    recs = []
    for _ in range(400):
        a, b = rng.choice(["gpt", "llama", "qwen"], 2, replace=False)
        winner = rng.choice(["model_a", "model_b", "tie", "tie (bothbad)"], p=[0.45, 0.35, 0.1, 0.1])
        meta = {
            "sum_assistant_a_tokens": int(rng.integers(10, 900)),
            "sum_assistant_b_tokens": int(rng.integers(10, 900)),
            "header_count_a": {"h1": 1, "h2": 0},
            "header_count_b": {"h1": 0, "h2": 2},
            "list_count_a": {"ordered": 0, "unordered": 3},
            "list_count_b": {"ordered": 1, "unordered": 0},
            "bold_count_a": {"**": 2, "__": 0},
            "bold_count_b": {"**": 0, "__": 0},
        }
        recs.append({"model_a": str(a), "model_b": str(b), "winner": str(winner), "conv_metadata": meta})
    path.write_text("\n".join(json.dumps(r) for r in recs))
    proc = run_cli(
        "fit", "--input", str(path), "--method", "bt", "--style-control", "--bootstrap", "10", "--full"
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out["style_coefficients"]) == {"tokens", "headers", "lists", "bold"}
    assert sum(r["n"] for r in out["rows"]) == 800
    dropped = json.loads(run_cli("fit", "--input", str(path), "--both-bad", "drop").stdout)
    assert sum(r["n"] for r in dropped) < 800


def test_cli_reports_bad_input(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"ranking": [["a"], ["a"]]}) + "\n")
    proc = run_cli("fit", "--input", str(path))
    assert proc.returncode == 2 and "twice" in proc.stderr
    path.write_text(json.dumps({"model_a": "x", "model_b": "y", "winner": "draw"}) + "\n")
    proc = run_cli("fit", "--input", str(path))
    assert proc.returncode == 2 and "unknown winner 'draw'" in proc.stderr


def test_cli_simulate_small(tmp_path):
    png = tmp_path / "curves.png"
    proc = run_cli(
        "simulate",
        "--models",
        "6",
        "--k",
        "2,3",
        "--votes",
        "200",
        "--every",
        "50",
        "--seeds",
        "1",
        "--methods",
        "bt,bayes",
        "--policies",
        "uniform,adaptive",
        "--plot",
        str(png),
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["results"]) == 2 * 2 * 2
    assert all(len(r["tau_mean"]) == 4 for r in out["results"])
    assert png.stat().st_size > 1000
