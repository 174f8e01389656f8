"""Routing benchmark: label accuracy of a human/AI mix, by routing policy and human budget.

Run:  OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/routing.py [--seeds 10] [--pool 2000] [--seed-set 200]
      add --downstream to also train the reward-model head on the routed and on a random mix (minutes).

A seeded synthetic world (written out in bench/README.md, "the world the simulation draws from"):
each comparison has a hidden true label; an AI judge (run in both orders, with slice-dependent
skill, a length bias and a position bias) labels every item; people are right about 85% of the
time. A seed set of comparisons labelled by both is drawn from the pool; the router is fitted on it
and chooses, among the rest, which items people label. The mix (the human label where people
labelled, the AI label elsewhere) is scored against the hidden truth. Every policy sees the same
world, the same seed set and the same human labels; random routing is the baseline, measured in the
same run, and the differences are paired per seed.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from routing import Router, agreement_by_slice  # noqa: E402

# -- the world --------------------------------------------------------------------------------

# domain: (share of prompts, judge skill, P(expert knowledge needed), P(the better answer is the longer one))
DOMAINS = {
    "general": (0.30, 1.6, 0.05, 0.60),
    "creative": (0.15, 1.2, 0.05, 0.60),
    "coding": (0.20, 1.2, 0.40, 0.50),
    "math": (0.15, 0.9, 0.50, 0.50),
    "advice": (0.10, 1.0, 0.50, 0.55),  # health, legal, finance
    "safety": (0.10, 0.8, 0.10, 0.35),  # the better answer is often the shorter, careful one
}
P_TIE = 0.08  # the two answers are equally good
LENGTH_BIAS = 0.8  # judge's pull towards the longer answer, per unit of log length ratio
POSITION_BIAS = 0.15  # judge's pull towards the answer shown first
TIE_BAND = 0.2  # |perceived difference| under this: the judge says tie
HUMAN_BASE, HUMAN_SPAN = 0.72, 0.20  # P(person right) = base + span * (1 - exp(-1.5 * margin))


@dataclass
class Comparison:
    features: dict[str, Any]  # what the router sees (what the platform's glue stores)
    truth: str
    ai: str
    human: str
    slice: str
    texts: dict[str, str] = field(default_factory=dict)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _verdict(d: float) -> str:
    return "a" if d > TIE_BAND else "b" if d < -TIE_BAND else "tie"


def _judge(rng: random.Random, signed_margin: float, log_ratio: float, skill: float, length_bias: float,
           overconfidence: float) -> tuple[str, float, bool]:
    """A judge run in both orders. Returns (label, confidence, position flip)."""
    base = skill * signed_margin + length_bias * log_ratio + rng.gauss(0, 0.5)
    first = base + POSITION_BIAS + rng.gauss(0, 0.1)  # A shown first
    second = base - POSITION_BIAS + rng.gauss(0, 0.1)  # B shown first
    v1, v2 = _verdict(first), _verdict(second)
    mean = (first + second) / 2
    if v1 != v2:
        # The verdict followed the order, not the answers: the platform records a tie.
        return "tie", round(0.34 + 0.3 * rng.random(), 3), True
    # Confidence comes from the judge's own perceived difference, inflated where it is out of its depth.
    confidence = _sigmoid(1.3 * overconfidence * abs(mean) - 0.2) if v1 != "tie" else 0.45 + 0.2 * rng.random()
    return v1, round(min(confidence, 0.99), 3), False


def _human(rng: random.Random, truth: str, margin: float) -> str:
    right = HUMAN_BASE + HUMAN_SPAN * (1 - math.exp(-1.5 * margin)) if truth != "tie" else 0.60
    if rng.random() < right:
        return truth
    if truth == "tie":
        return rng.choice("ab")
    return "tie" if rng.random() < 0.3 else ("b" if truth == "a" else "a")


def draw_world(n: int, seed: int) -> list[Comparison]:
    rng = random.Random(seed)
    names = list(DOMAINS)
    shares = [DOMAINS[d][0] for d in names]
    world = []
    for _ in range(n):
        domain = rng.choices(names, shares)[0]
        _, skill, p_expert, p_longer_wins = DOMAINS[domain]
        expert = rng.random() < p_expert
        complex_ = rng.random() < (0.5 if domain in ("coding", "math") else 0.25)
        safety = ("high" if rng.random() < 0.5 else "moderate") if domain == "safety" else (
            "moderate" if rng.random() < (0.25 if domain == "advice" else 0.03) else "none")
        fmt = rng.random() < 0.25
        if expert:
            skill *= 0.55
        if complex_:
            skill *= 0.8
        truth = "tie" if rng.random() < P_TIE else rng.choice("ab")
        margin = 0.0 if truth == "tie" else rng.gammavariate(2.0, 0.6)
        signed = {"a": margin, "b": -margin, "tie": 0.0}[truth]
        lengths = sorted(max(20, round(rng.lognormvariate(math.log(180), 0.55))) for _ in range(2))
        winner_longer = rng.random() < p_longer_wins
        if truth == "tie":
            len_a, len_b = rng.sample(lengths, 2)
        elif (truth == "a") == winner_longer:
            len_a, len_b = lengths[1], lengths[0]
        else:
            len_a, len_b = lengths[0], lengths[1]
        log_ratio = math.log(len_a / len_b)
        # The judge does not know when it is out of its depth: its confidence is inflated there.
        overconfidence = 1.0 + (0.7 if expert else 0.0) + (0.4 if domain == "safety" else 0.0)
        ai, confidence, flip = _judge(rng, signed, log_ratio, skill, LENGTH_BIAS, overconfidence)
        # A cheaper second judge: less skilled, more length-biased, its own noise.
        second, second_conf, _ = _judge(rng, signed, log_ratio, 0.8 * skill, 1.5 * LENGTH_BIAS, 1.0)
        # A reward model's margin r(A) - r(B): some skill, some length bias, noise.
        reward = 0.7 * skill * signed + 0.5 * log_ratio + rng.gauss(0, 0.9)
        similarity = min(1.0, max(0.0, 0.88 - 0.12 * margin + rng.gauss(0, 0.06)))
        features = {
            "domain": domain,
            "expertise": "expert" if expert else "general",
            "safety_concern": safety,
            "complexity": "high" if complex_ else "low",
            "format_constraints": fmt,
            "length_diff": len_a - len_b,  # words, A - B
            "length_diff_rel": round((len_a - len_b) / max(len_a, len_b), 4),
            "embedding_similarity": round(similarity, 4),
            "ai_verdict": ai,
            "ai_confidence": confidence,
            "position_flip": flip,
            "judge2_verdict": second,
            "judge2_confidence": second_conf,
            "judge_disagree": second != ai,
            "reward_margin": round(reward, 4),
        }
        world.append(Comparison(features, truth, ai, _human(rng, truth, margin), domain + ("/expert" if expert else "")))
        world[-1].texts = {"margin": f"{margin:.3f}", "len_a": str(len_a), "len_b": str(len_b)}
    return world


# -- one run ----------------------------------------------------------------------------------


def accuracy(labels: list[str], truth: list[str]) -> float:
    return sum(a == t for a, t in zip(labels, truth)) / len(truth)


def mix(pool: list[Comparison], chosen: list[int]) -> list[str]:
    human = set(chosen)
    return [c.human if i in human else c.ai for i, c in enumerate(pool)]


def run_seed(seed: int, pool_size: int, seed_size: int, budgets: list[float], audit: float) -> dict[str, Any]:
    world = draw_world(pool_size, seed)
    rng = random.Random(10_000 + seed)
    seed_idx = set(rng.sample(range(pool_size), seed_size))
    seed_set = [c for i, c in enumerate(world) if i in seed_idx]
    pool = [c for i, c in enumerate(world) if i not in seed_idx]
    items, ai, truth = [c.features for c in pool], [c.ai for c in pool], [c.truth for c in pool]
    seed_args = ([c.features for c in seed_set], [c.ai for c in seed_set], [c.human for c in seed_set])
    out: dict[str, Any] = {
        "all-AI": accuracy(ai, truth),
        "all-human": accuracy([c.human for c in pool], truth),
        "judge": {
            "position_flip_rate": float(np.mean([c.features["position_flip"] for c in world])),
            "longer_wins_rate": float(np.mean([
                (c.ai == "a") == (c.features["length_diff"] > 0) for c in world
                if c.ai != "tie" and c.features["length_diff"] != 0])),
            "seed_disagreement": float(np.mean([c.ai != c.human for c in seed_set])),
        },
    }
    wrong = [i for i, c in enumerate(pool) if c.ai != c.truth]
    fit_s = 0.0
    for budget in budgets:
        k = round(budget * len(pool))
        for name, policy, share in (("learned", "learned", 0.0), ("learned+audit", "learned", audit),
                                    ("uncertainty", "uncertainty", 0.0), ("random", "random", 0.0)):
            router = Router(policy=policy, budget=budget, audit=share, seed=seed)
            t0 = time.perf_counter()
            router.fit(*seed_args)
            fit_s += time.perf_counter() - t0
            chosen = router.choose(items, ai)
            assert len(chosen) <= k and len(set(chosen)) == len(chosen)
            out[(name, budget)] = accuracy(mix(pool, chosen), truth)
            if name == "learned" and budget == 0.25:
                out["model"] = router.model_description
                gains = [d.predicted_gain for d in router.decisions if d.destination == "human"]
                realised = [c.ai != c.human for i, c in enumerate(pool) if i in set(chosen)]
                out["gain"] = (float(np.mean(gains)), float(np.mean(realised)))
            if name == "learned+audit" and budget == 0.25:
                audited = [d.index for d in router.decisions if d.audit]
                out["audit"] = agreement_by_slice([pool[i].features["domain"] for i in audited],
                                                  [ai[i] for i in audited], [pool[i].human for i in audited])
        # Upper bound: a router that knows exactly where the AI is wrong.
        out[("oracle", budget)] = accuracy(mix(pool, wrong[:k]), truth)
    out["fit_seconds"] = fit_s
    return out


def summarise(runs: list[dict[str, Any]], budgets: list[float]) -> None:
    def ms(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{100 * statistics.mean(values):5.1f} ± {100 * sd:3.1f}"

    print(f"all-AI     {ms([r['all-AI'] for r in runs])}   all-human {ms([r['all-human'] for r in runs])}")
    print("label accuracy of the mix (%, mean ± sd over seeds), by human budget:")
    print(f"{'policy':<15}" + "".join(f"{f'{b:.0%}':>16}" for b in budgets))
    for name in ("learned", "learned+audit", "uncertainty", "random", "oracle"):
        print(f"{name:<15}" + "".join(f"{ms([r[(name, b)] for r in runs]):>16}" for b in budgets))
    print("paired differences (points, mean ± sd; min over seeds):")
    for a, b in (("learned", "random"), ("learned", "uncertainty"), ("uncertainty", "random"),
                 ("learned+audit", "random")):
        cells = []
        for budget in budgets:
            d = [r[(a, budget)] - r[(b, budget)] for r in runs]
            cells.append(f"{ms(d)} (min {100 * min(d):+.1f})")
        print(f"{a + ' - ' + b:<27}" + "   ".join(cells))
    for budget in budgets:
        gain_ai = [(r[("learned", budget)] - r["all-AI"]) / max(1e-9, r[("random", budget)] - r["all-AI"]) for r in runs]
        print(f"budget {budget:.0%}: learned's gain over all-AI is {statistics.mean(gain_ai):.2f}x random's")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--pool", type=int, default=2000, help="comparisons in the world (seed set included)")
    ap.add_argument("--seed-set", type=int, default=200, help="comparisons labelled by both, drawn from the pool")
    ap.add_argument("--budgets", default="0.1,0.25,0.5")
    ap.add_argument("--audit", type=float, default=0.05, help="audit share of the budget for the learned+audit row")
    ap.add_argument("--downstream", action="store_true", help="also train the reward-model head (minutes)")
    ap.add_argument("--downstream-items", type=int, default=600)
    ap.add_argument("--downstream-heldout", type=int, default=300)
    args = ap.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    print(f"# bench/routing.py: {args.seeds} seeds, pool {args.pool}, seed set {args.seed_set}, "
          f"load average {open('/proc/loadavg').read().split()[:3]}")
    t0 = time.perf_counter()
    runs = [run_seed(s, args.pool, args.seed_set, budgets, args.audit) for s in range(args.seeds)]
    judge = {k: statistics.mean(r["judge"][k] for r in runs) for k in runs[0]["judge"]}
    print(f"world: judge position-flip rate {judge['position_flip_rate']:.3f}, judge picks the longer answer "
          f"{judge['longer_wins_rate']:.3f} of its non-tie verdicts, AI-human disagreement on the seed set "
          f"{judge['seed_disagreement']:.3f}")
    print(f"gain model (seed 0): {runs[0]['model']}")
    summarise(runs, budgets)
    pred = statistics.mean(r["gain"][0] for r in runs)
    real = statistics.mean(r["gain"][1] for r in runs)
    print(f"learned, 25%: predicted gain of the routed items {pred:.3f}, realised (share changed by people) {real:.3f}")
    print("audit agreement by domain (seed 0, learned+audit at 25%): " + ", ".join(
        f"{k} {v.agree_rate:.2f} [{v.lo:.2f}, {v.hi:.2f}] n={v.n}" for k, v in runs[0]["audit"].items()))
    print(f"router fit time, all policies and budgets: {statistics.mean(r['fit_seconds'] for r in runs):.2f} s per seed; "
          f"total {time.perf_counter() - t0:.1f} s; load average {open('/proc/loadavg').read().split()[:3]}")
    if args.downstream:
        from downstream_routing import downstream  # type: ignore[import-not-found]

        downstream(args.downstream_items, args.downstream_heldout, seed=0)


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
