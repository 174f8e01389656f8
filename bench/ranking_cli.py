"""`python -m ranking fit` end to end on Chatbot-Arena-format dumps, against FastChat's method.

Run:  .venv/bin/python bench/ranking_cli.py [--sizes 300000,1000000] [--bootstrap 1000] [--repeat 3]

Writes a seeded clean-battle JSONL per size into a temporary folder (the fields of LMArena's
published clean battles: conversations with markdown answers, conv_metadata counts, tags), then
times, from process start to the printed board, in the same run:

- ours: ``python -m ranking fit --input FILE`` (and with ``--bootstrap``), a fresh process each;
- the baseline: our own implementation of FastChat's published method (not their code), also a
  fresh process: ``pandas.read_json(lines=True)``, then Bradley–Terry as a logistic regression
  over the unique (model_a, model_b, winner) rows with their counts as sample weights, a tie as
  one row each way at half weight (``compute_mle_elo`` in their notebook), and for intervals their
  bootstrap of refits on resampled battles.

The generated files are deleted afterwards. Nothing here is a test.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

BASELINE = r'''
import sys, time
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

SCALE, BASE, INIT = 400.0, 10.0, 1000.0

def mle_ratings(df):
    """Bradley–Terry as FastChat publishes it (compute_mle_elo): a logistic regression without
    intercept or penalty on +-log(10) indicator columns, one row per distinct (model_a, model_b,
    outcome) with its count as the sample weight; a tie is half a win each way."""
    models = pd.Index(sorted(set(df["model_a"]) | set(df["model_b"])))
    counts = df.groupby(["model_a", "model_b", "winner"]).size().reset_index(name="n")
    ia = models.get_indexer(counts["model_a"])
    ib = models.get_indexer(counts["model_b"])
    tie = counts["winner"].str.startswith("tie").to_numpy()
    a_won = (counts["winner"] == "model_a").to_numpy()
    n = counts["n"].to_numpy(dtype=float)
    rows = len(counts)
    X = np.zeros((2 * rows, len(models)))
    X[np.arange(rows), ia] = np.log(BASE)
    X[np.arange(rows), ib] = -np.log(BASE)
    X[rows:] = X[:rows]
    Y = np.r_[np.ones(rows), np.zeros(rows)]
    # first copy: weight of "a beat b"; second: of "b beat a"; a tie gives half to each
    w = np.r_[np.where(tie, 0.5 * n, np.where(a_won, n, 0.0)), np.where(tie, 0.5 * n, np.where(a_won, 0.0, n))]
    keep = w > 0
    lr = LogisticRegression(fit_intercept=False, penalty=None, tol=1e-6)
    lr.fit(X[keep], Y[keep], sample_weight=w[keep])
    return pd.Series(SCALE * lr.coef_[0] + INIT, index=models).sort_values(ascending=False)

path, rounds = sys.argv[1], int(sys.argv[2])
df = pd.read_json(path, lines=True)
t_read = time.time()
df = df[["model_a", "model_b", "winner"]]
ratings = mle_ratings(df)
if rounds:
    rng = np.random.default_rng(0)
    boot = pd.DataFrame([mle_ratings(df.sample(frac=1.0, replace=True, random_state=rng.integers(2**31))) for _ in range(rounds)])
    lo, hi = boot.quantile(0.025), boot.quantile(0.975)
print(ratings.head(20).to_string())
print(f"read {t_read:.6f}", file=sys.stderr)
'''


def answer_pool(rng, n=600):
    """Markdown answers with headers, lists and bold, and their counts as LMArena's metadata has them."""
    words = (
        "the model answer uses clear steps and a short example so that a reader can follow it "
        "because each part explains one idea with care and some detail about the question"
    ).split()
    pool = []
    for _ in range(n):
        lines, h, lo, lu, b = [], [0] * 6, 0, 0, 0
        for _ in range(int(rng.integers(1, 4))):
            kind = rng.random()
            text = " ".join(rng.choice(words, int(rng.integers(2, 9))))
            if kind < 0.15:
                level = int(rng.integers(1, 4))
                h[level - 1] += 1
                lines.append("#" * level + " " + text)
            elif kind < 0.35:
                lu += 1
                lines.append("- " + text)
            elif kind < 0.45:
                lo += 1
                lines.append(f"{lo}. " + text)
            elif kind < 0.6:
                b += 1
                lines.append(f"**{text}**")
            else:
                lines.append(text)
        content = "\n".join(lines)
        meta = {
            "tokens": int(len(content.split()) * 1.3),
            "header_count": {f"h{i + 1}": h[i] for i in range(6)},
            "list_count": {"ordered": lo, "unordered": lu},
            "bold_count": {"**": b, "__": 0},
        }
        pool.append((content, meta))
    return pool


def write_dump(path, n, n_models=100, seed=0):
    """A seeded Chatbot Arena clean-battle JSONL; returns the size in bytes."""
    import orjson

    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1.0, n_models)
    names = [f"model-{i:03d}-{'chat' if i % 3 else 'instruct'}" for i in range(n_models)]
    popularity = rng.dirichlet(np.full(n_models, 2.0))
    pool = answer_pool(rng)
    prompts = [
        " ".join(rng.choice(["how", "do", "I", "write", "a", "poem", "about", "rust", "in", "python"], 8))
        + "?"
        for _ in range(200)
    ]
    a = rng.choice(n_models, n, p=popularity)
    b = (a + rng.integers(1, n_models, n)) % n_models
    ia, ib = rng.integers(0, len(pool), n), rng.integers(0, len(pool), n)
    length = np.array([m["tokens"] for _, m in pool], dtype=float)
    z = theta[a] - theta[b] + 0.4 * (length[ia] - length[ib]) / (length[ia] + length[ib] + 1)
    u = rng.random(n)
    p = 1 / (1 + np.exp(-z))
    winner = np.where(u < 0.12, 2, np.where(u < 0.2, 3, np.where(rng.random(n) < p, 0, 1)))
    labels = ["model_a", "model_b", "tie", "tie (bothbad)"]
    qids = rng.integers(0, 2**63, n)
    with open(path, "wb") as fh:
        for k in range(n):
            (ta, ma), (tb, mb) = pool[ia[k]], pool[ib[k]]
            prompt = prompts[k % len(prompts)]
            rec = {
                "question_id": f"{qids[k]:016x}{k:016x}",
                "model_a": names[a[k]],
                "model_b": names[b[k]],
                "winner": labels[winner[k]],
                "judge": f"arena_user_{k % 5000}",
                "conversation_a": [{"role": "user", "content": prompt}, {"role": "assistant", "content": ta}],
                "conversation_b": [{"role": "user", "content": prompt}, {"role": "assistant", "content": tb}],
                "turn": 1,
                "anony": True,
                "language": "English",
                "tstamp": 1.7e9 + k,
                "conv_metadata": {
                    "sum_user_tokens": 11,
                    "sum_assistant_a_tokens": ma["tokens"],
                    "sum_assistant_b_tokens": mb["tokens"],
                    "context_a_tokens": 11,
                    "context_b_tokens": 11,
                    "turns": 1,
                    "header_count_a": ma["header_count"],
                    "list_count_a": ma["list_count"],
                    "bold_count_a": ma["bold_count"],
                    "header_count_b": mb["header_count"],
                    "list_count_b": mb["list_count"],
                    "bold_count_b": mb["bold_count"],
                },
                "is_code": False,
                "is_refusal": False,
                "dedup_tag": {"high_freq": False, "sampled": True},
            }
            fh.write(orjson.dumps(rec))
            fh.write(b"\n")
    return os.path.getsize(path)


def timed(cmd, env):
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return elapsed, proc


def best(cmd, env, repeat):
    runs = [timed(cmd, env)[0] for _ in range(repeat)]
    return min(runs), runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300000,1000000")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument(
        "--baseline-bootstrap",
        type=int,
        default=3,
        help="FastChat bootstrap refits timed (scaled up to --bootstrap)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="write the files here and keep them")
    parser.add_argument(
        "--no-baseline", action="store_true", help="time ours only (the baseline needs GBs at 1M)"
    )
    args = parser.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    py = sys.executable
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ranking_cli_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            path = folder / f"battles_{n}.jsonl"
            t = time.perf_counter()
            size = write_dump(path, n)
            print(
                f"\n== {n:,} battles, {size / 1e6:.0f} MB (written in {time.perf_counter() - t:.1f} s); "
                f"load average {open('/proc/loadavg').read().split()[0]}",
                flush=True,
            )
            ours, runs = best([py, "-m", "ranking", "fit", "--input", str(path)], env, args.repeat)
            print(
                f"ours, fit (Laplace intervals):           {ours:6.2f} s  runs {[round(r, 2) for r in runs]}"
            )
            boot, runs = best(
                [py, "-m", "ranking", "fit", "--input", str(path), "--bootstrap", str(args.bootstrap)],
                env,
                args.repeat,
            )
            print(
                f"ours, fit --bootstrap {args.bootstrap}:            {boot:6.2f} s  runs {[round(r, 2) for r in runs]}"
            )
            style, runs = best([py, "-m", "ranking", "fit", "--input", str(path), "--style-control"], env, 1)
            print(f"ours, fit --style-control:               {style:6.2f} s")
            if args.no_baseline:
                path.unlink()
                continue
            launched = time.time()
            base, proc = timed([py, "-c", BASELINE, str(path), "0"], env)
            read = float(proc.stderr.split("read ")[-1]) - launched
            print(
                f"FastChat method (pandas.read_json + LR):  {base:6.2f} s  (of which to the end of read_json "
                f"{read:.2f} s from process start)"
            )
            print(f"ratio, fit:                               {base / ours:6.1f}x")
            if args.baseline_bootstrap:
                bb, _ = timed([py, "-c", BASELINE, str(path), str(args.baseline_bootstrap)], env)
                scaled = base + (bb - base) * args.bootstrap / args.baseline_bootstrap
                print(
                    f"FastChat method + {args.bootstrap} bootstrap refits:  {scaled:6.1f} s "
                    f"({args.baseline_bootstrap} refits timed, scaled up)"
                )
                print(f"ratio, fit with bootstrap:                {scaled / boot:6.1f}x")
            path.unlink()
            print(f"load average after: {open('/proc/loadavg').read().strip()}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
