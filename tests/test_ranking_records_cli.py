"""`python -m ranking fit` on dumps: parity with the library on both input formats, the columnar
battle reader against the line-by-line one, and malformed dumps (issue 15)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ranking.leaderboard import fit_leaderboard
from ranking.records import read_dump, read_judgments

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["gpt", "llama", "qwen", "mistral"]


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "ranking", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def battles(n, seed=0):
    rng = np.random.default_rng(seed)
    strength = {"gpt": 0.8, "llama": 0.0, "qwen": 0.4, "mistral": -0.5}
    out = []
    for _ in range(n):
        a, b = (str(x) for x in rng.choice(MODELS, 2, replace=False))
        u = rng.random()
        p = 1 / (1 + np.exp(strength[b] - strength[a]))
        winner = (
            "tie"
            if u < 0.1
            else "tie (bothbad)"
            if u < 0.15
            else "model_a"
            if rng.random() < p
            else "model_b"
        )
        ta, tb = int(rng.integers(5, 900)), int(rng.integers(5, 900))
        out.append(
            {
                "question_id": f"q{len(out)}",
                "model_a": a,
                "model_b": b,
                "winner": winner,
                "turn": 1,
                "conversation_a": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "# A\n- x"},
                ],
                "conversation_b": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "**B**"},
                ],
                "conv_metadata": {
                    "sum_assistant_a_tokens": ta,
                    "sum_assistant_b_tokens": tb,
                    "header_count_a": {"h1": int(rng.integers(0, 3)), "h2": 1},
                    "header_count_b": {"h1": 0, "h2": int(rng.integers(0, 2))},
                    "list_count_a": {"ordered": 1, "unordered": int(rng.integers(0, 4))},
                    "list_count_b": {"ordered": 0, "unordered": 2},
                    "bold_count_a": {"**": int(rng.integers(0, 3)), "__": 0},
                    "bold_count_b": {"**": 1, "__": 0},
                },
            }
        )
    return out


def write_jsonl(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def same_rows(cli_rows, lib_rows, ci_abs=1e-6):
    assert [r["model"] for r in cli_rows] == [r["model"] for r in lib_rows]
    for c, lib in zip(cli_rows, lib_rows):
        assert c["rating"] == pytest.approx(lib["rating"], abs=1e-6)
        for key in ("ci_low", "ci_high"):
            assert c[key] == pytest.approx(lib[key], abs=ci_abs)
        assert (c["n"], c["wins"], c["ties"], c["losses"], c["rank_ub"]) == (
            lib["n"],
            lib["wins"],
            lib["ties"],
            lib["losses"],
            lib["rank_ub"],
        )


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--ties", "half"],
        ["--method", "pl"],
        ["--method", "bayes"],
        ["--method", "elo"],
        ["--bootstrap", "50", "--ties", "half"],
        ["--style-control"],
        ["--both-bad", "drop"],
    ],
)
def test_cli_matches_the_library_on_a_battle_dump(tmp_path, args):
    path = write_jsonl(tmp_path / "battles.jsonl", battles(600))
    proc = run_cli("fit", "--input", str(path), *args)
    assert proc.returncode == 0, proc.stderr
    rankings, weights, features = read_judgments(path, both_bad="drop" if "drop" in args else "tie")
    method = args[args.index("--method") + 1] if "--method" in args else "bt"
    ties = args[args.index("--ties") + 1] if "--ties" in args else "auto"
    boot = int(args[args.index("--bootstrap") + 1]) if "--bootstrap" in args else 0
    style = "--style-control" in args
    lib = fit_leaderboard(
        rankings,
        method=method,
        ties=ties,
        bootstrap=boot,
        seed=0,
        style_control=style,
        features=features if style else None,
    )
    # the columnar reader counts the outcomes in another order, so resamples differ by Monte Carlo noise
    same_rows(json.loads(proc.stdout), lib.rows, ci_abs=5 if boot else 1e-6)
    assert f"{lib.params['interval']} intervals" in proc.stderr


def test_cli_matches_the_library_on_ranking_records(tmp_path):
    rng = np.random.default_rng(2)
    records = []
    for _ in range(300):
        order = [str(x) for x in rng.permutation(MODELS)[:3]]
        ranking = [[order[0]], order[1:]] if rng.random() < 0.2 else [[m] for m in order]
        records.append({"ranking": ranking, "weight": float(rng.choice([1.0, 2.0]))})
    path = write_jsonl(tmp_path / "rankings.jsonl", records)
    for method in ("bt", "pl", "bayes"):
        proc = run_cli("fit", "--input", str(path), "--method", method)
        assert proc.returncode == 0, proc.stderr
        lib = fit_leaderboard(
            [r["ranking"] for r in records],
            weights=[r["weight"] for r in records],
            method=method,
            ties="auto",
            seed=0,
        )
        same_rows(json.loads(proc.stdout), lib.rows)


def test_columnar_and_line_readers_agree(tmp_path):
    recs = battles(400, seed=3)
    clean = write_jsonl(tmp_path / "clean.jsonl", recs)
    # a blank line and a bad line send the same battles through the line-by-line reader
    dirty = write_jsonl(tmp_path / "dirty.jsonl", recs[:10] + [""] + recs[10:] + ["not json"])
    fast = read_dump(clean, style=True, keep_order=True)
    slow = read_dump(dirty, style=True, keep_order=True, skip_bad=True)
    assert slow.skipped == [(402, slow.skipped[0][1])] and "not valid JSON" in slow.skipped[0][1]
    assert fast.judgments.n_judgments == slow.judgments.n_judgments == 400
    for method, style in (("bt", False), ("bt", True), ("bayes", False), ("elo", False)):
        a = fit_leaderboard(
            fast.judgments, method=method, features=fast.features if style else None, style_control=style
        )
        b = fit_leaderboard(
            slow.judgments, method=method, features=slow.features if style else None, style_control=style
        )
        assert sorted((r["model"], round(r["rating"], 6)) for r in a.rows) == sorted(
            (r["model"], round(r["rating"], 6)) for r in b.rows
        )


@pytest.mark.parametrize(
    "bad, line, message",
    [
        ("{not json", 3, "not valid JSON"),
        (json.dumps({"model_a": "gpt", "model_b": "qwen"}), 3, "winner missing"),
        (json.dumps({"model_a": "gpt", "winner": "tie"}), 3, "model_b missing"),
        (
            json.dumps({"model_a": "gpt", "model_b": "qwen", "winner": "model_c"}),
            3,
            "unknown winner 'model_c' names no model",
        ),
        (json.dumps({"model_a": "gpt", "model_b": "qwen", "winner": "gpt"}), 3, "unknown winner 'gpt'"),
        (json.dumps({"model_a": "gpt", "model_b": "gpt", "winner": "tie"}), 3, "same model 'gpt'"),
        (
            json.dumps({"model_a": 7, "model_b": "gpt", "winner": "tie"}),
            3,
            "model_a must be a non-empty model name",
        ),
        (json.dumps(["gpt", "qwen"]), 3, "must be a JSON object"),
        (json.dumps({"ranking": [["gpt"], ["gpt"]]}), 3, "twice"),
    ],
)
def test_malformed_dump_names_the_line_or_is_skipped_and_counted(tmp_path, bad, line, message):
    good = battles(20, seed=4)
    path = write_jsonl(tmp_path / "bad.jsonl", good[:2] + [bad] + good[2:])
    proc = run_cli("fit", "--input", str(path))
    assert proc.returncode == 2, proc.stdout
    assert f"line {line}: " in proc.stderr and message in proc.stderr, proc.stderr
    assert proc.stdout == ""  # nothing half-printed
    proc = run_cli("fit", "--input", str(path), "--skip-bad")
    assert proc.returncode == 0, proc.stderr
    assert f"skipped 1 bad record(s) of 21: line {line}: " in proc.stderr and message in proc.stderr
    assert sum(r["n"] for r in json.loads(proc.stdout)) == 2 * 20
    out = json.loads(run_cli("fit", "--input", str(path), "--skip-bad", "--full").stdout)
    assert out["skipped"] == 1


def test_style_control_on_a_dump_without_metadata_is_refused_or_skipped(tmp_path):
    recs = battles(30, seed=5)
    del recs[4]["conv_metadata"]
    path = write_jsonl(tmp_path / "meta.jsonl", recs)
    proc = run_cli("fit", "--input", str(path), "--style-control")
    assert proc.returncode == 2 and "line 5: no conv_metadata" in proc.stderr
    proc = run_cli("fit", "--input", str(path), "--style-control", "--skip-bad")
    assert proc.returncode == 0 and "skipped 1 bad record(s) of 30" in proc.stderr
    assert run_cli("fit", "--input", str(path)).returncode == 0  # without style control it is not needed


def test_empty_and_all_bad_files_are_refused(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    proc = run_cli("fit", "--input", str(empty))
    assert proc.returncode == 2 and "holds no records" in proc.stderr
    bad = write_jsonl(tmp_path / "allbad.jsonl", ["{x", "{y"])
    proc = run_cli("fit", "--input", str(bad), "--skip-bad")
    assert proc.returncode == 2 and "no usable records (2 skipped)" in proc.stderr


def test_cli_start_up_stays_lean(tmp_path):
    # A fit on a dump must not import Django, matplotlib, pandas (pyarrow's to_numpy would) or
    # scipy.stats: together seconds of start-up.
    path = write_jsonl(tmp_path / "battles.jsonl", battles(50))
    code = (
        "import sys, runpy, io, contextlib\n"
        f"sys.argv = ['ranking', 'fit', '--input', {str(path)!r}, '--style-control']\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        runpy.run_module('ranking', run_name='__main__')\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('django', 'matplotlib', 'pandas', 'scipy.stats', 'sklearn') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr
    from ranking import __main__ as cli
    from ranking.leaderboard import METHODS
    from ranking.matchmaking import POLICIES

    assert cli.METHODS == METHODS and cli.POLICIES == POLICIES
