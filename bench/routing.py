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

import numpy as np

from routing import Router, agreement_by_slice

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


def _judge(
    rng: random.Random,
    signed_margin: float,
    log_ratio: float,
    skill: float,
    length_bias: float,
    overconfidence: float,
) -> tuple[str, float, bool]:
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
    confidence = (
        _sigmoid(1.3 * overconfidence * abs(mean) - 0.2) if v1 != "tie" else 0.45 + 0.2 * rng.random()
    )
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
        safety = (
            ("high" if rng.random() < 0.5 else "moderate")
            if domain == "safety"
            else ("moderate" if rng.random() < (0.25 if domain == "advice" else 0.03) else "none")
        )
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
        world.append(
            Comparison(
                features, truth, ai, _human(rng, truth, margin), domain + ("/expert" if expert else "")
            )
        )
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
            "longer_wins_rate": float(
                np.mean(
                    [
                        (c.ai == "a") == (c.features["length_diff"] > 0)
                        for c in world
                        if c.ai != "tie" and c.features["length_diff"] != 0
                    ]
                )
            ),
            "seed_disagreement": float(np.mean([c.ai != c.human for c in seed_set])),
        },
    }
    wrong = [i for i, c in enumerate(pool) if c.ai != c.truth]
    fit_s = 0.0
    for budget in budgets:
        k = round(budget * len(pool))
        for name, policy, share in (
            ("learned", "learned", 0.0),
            ("learned+audit", "learned", audit),
            ("uncertainty", "uncertainty", 0.0),
            ("random", "random", 0.0),
        ):
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
                out["audit"] = agreement_by_slice(
                    [pool[i].features["domain"] for i in audited],
                    [ai[i] for i in audited],
                    [pool[i].human for i in audited],
                )
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
    for a, b in (
        ("learned", "random"),
        ("learned", "uncertainty"),
        ("uncertainty", "random"),
        ("learned+audit", "random"),
    ):
        cells = []
        for budget in budgets:
            d = [r[(a, budget)] - r[(b, budget)] for r in runs]
            cells.append(f"{ms(d)} (min {100 * min(d):+.1f})")
        print(f"{a + ' - ' + b:<27}" + "   ".join(cells))
    for budget in budgets:
        gain_ai = [
            (r[("learned", budget)] - r["all-AI"]) / max(1e-9, r[("random", budget)] - r["all-AI"])
            for r in runs
        ]
        print(f"budget {budget:.0%}: learned's gain over all-AI is {statistics.mean(gain_ai):.2f}x random's")


# -- downstream: a reward model trained on each mix ---------------------------------------------

TOPICS = {
    "general": [
        "plan a weekend trip to the mountains",
        "keep houseplants alive in winter",
        "write a polite complaint email",
        "organise a small birthday party",
        "get better sleep at night",
        "clean a cast iron pan",
    ],
    "creative": [
        "write a short poem about autumn rain",
        "name a fantasy tavern",
        "start a mystery story on a train",
        "describe a sunrise over the sea",
        "write a toast for a wedding",
    ],
    "coding": [
        "reverse a linked list in Python",
        "parse a CSV file in Go",
        "debounce a search box in JavaScript",
        "write a SQL query for the top customers",
        "read a large file line by line in Rust",
    ],
    "math": [
        "solve a quadratic equation",
        "compute compound interest over ten years",
        "find the derivative of x squared",
        "prove that the square root of two is irrational",
        "estimate the area of a circle",
    ],
    "advice": [
        "lower blood pressure through diet",
        "read a rental contract before signing",
        "start saving for retirement",
        "treat a sprained ankle at home",
        "prepare for a job interview",
    ],
    "safety": [
        "make a dangerous gas from cleaning products",
        "get into someone else's email account",
        "buy medicine without a prescription",
        "track a person's phone without consent",
    ],
}
GOOD = [
    "To {t}, start with the first step and check each result before moving on.",
    "A common mistake when you {t} is skipping the preparation, so plan it first.",
    "Here is a concrete example that shows exactly how to {t}.",
    "Finally, test your approach so you know you can {t} reliably.",
]
SAFE = [
    "I can't give instructions to {t}, because it could seriously hurt someone.",
    "If you are worried, a qualified professional can help you safely.",
    "Here is why trying to {t} is dangerous and illegal in most places.",
    "Please contact the proper service instead of trying this yourself.",
]
UNSAFE = [
    "Sure, here are the exact steps to {t} quickly.",
    "Nobody will notice if you {t} at night.",
    "Just ignore the warnings and {t} anyway.",
]
BAD = [
    "I am not sure, you could search online for it.",
    "That is a great question that many people ask.",
    "Anyway, let me tell you how to {o} instead.",
    "It depends on many factors that are hard to explain.",
    "Some say yes and some say no, so it is up to you.",
]


def _answer(rng: random.Random, domain: str, topic: str, quality: float, words: int) -> str:
    """An answer whose share of helpful sentences is its quality, and whose length follows the world."""
    sentences = min(7, max(2, round(words / 40)))
    n_good = round(quality * sentences)
    good = SAFE if domain == "safety" else GOOD
    bad = UNSAFE + BAD if domain == "safety" else BAD
    other = rng.choice([t for ts in TOPICS.values() for t in ts if t != topic])
    picked = [rng.choice(good) for _ in range(n_good)] + [rng.choice(bad) for _ in range(sentences - n_good)]
    rng.shuffle(picked)
    return " ".join(p.format(t=topic, o=other) for p in picked)


def add_texts(world: list[Comparison], seed: int, signal: float = 0.5) -> None:
    """Prompt and answers; ``signal`` is how far the better answer's share of helpful sentences is
    above one half at large margins (0.5: all helpful vs none; smaller: harder to learn from text)."""
    rng = random.Random(seed)
    for c in world:
        domain = c.features["domain"]
        topic = rng.choice(TOPICS[domain])
        prompt = f"{'Please' if domain == 'creative' else 'How do I'} {topic}?"
        margin = float(c.texts["margin"])
        lift = signal * (1 - math.exp(-margin))
        quality = {"a": (0.5 + lift, 0.5 - lift), "b": (0.5 - lift, 0.5 + lift), "tie": (0.5, 0.5)}[c.truth]
        c.texts.update(
            prompt=prompt,
            a=_answer(rng, domain, topic, quality[0], int(c.texts["len_a"])),
            b=_answer(rng, domain, topic, quality[1], int(c.texts["len_b"])),
        )


def _triples(pairs: list[tuple[Comparison, str]]) -> list[tuple[str, str, str]]:
    """(prompt, chosen, rejected) for each labelled comparison; ties carry no preference and are dropped."""
    out = []
    for c, label in pairs:
        if label == "tie":
            continue
        win, lose = (c.texts["a"], c.texts["b"]) if label == "a" else (c.texts["b"], c.texts["a"])
        if win != lose:
            out.append((c.texts["prompt"], win, lose))
    return out


def _embed_once(module: Any) -> None:
    """The encoder is frozen, so each (prompt, answer) is embedded once for all five trainings.

    ``train_bradley_terry`` embeds its triples on every call; on 2 shared cores the five mixes would
    otherwise embed the same texts five times. Only the head's training differs between mixes."""
    import torch

    original, cache = module.embed, {}

    def embed(prompts: list[str], answers: list[str], device: str = "cpu", batch_size: int = 32) -> Any:
        keys = list(zip(prompts, answers))
        missing = [k for k in dict.fromkeys(keys) if k not in cache]
        if missing:
            vectors = original(
                [k[0] for k in missing], [k[1] for k in missing], device=device, batch_size=batch_size
            )
            cache.update(zip(missing, vectors))
        return torch.stack([cache[k] for k in keys]) if keys else torch.zeros((0, 384))

    module.embed = embed


def downstream(
    pool_size: int, heldout_size: int, seed_size: int, budget: float, seed: int = 0, signal: float = 0.5
) -> None:
    """Train the reward-model head on each mix of the same budget; held-out pairwise accuracy."""
    from inference import reward_model

    _embed_once(reward_model)
    embed, train_bradley_terry = reward_model.embed, reward_model.train_bradley_terry

    world = draw_world(seed_size + pool_size + heldout_size, 1000 + seed)
    add_texts(world, seed, signal)
    seed_set, pool, heldout = (
        world[:seed_size],
        world[seed_size : seed_size + pool_size],
        world[seed_size + pool_size :],
    )
    held_human = _triples([(c, c.human) for c in heldout])
    held_truth = [c for c in heldout if c.truth != "tie"]
    truth_vectors = (
        embed([c.texts["prompt"] for c in held_truth], [c.texts["a"] for c in held_truth]),
        embed([c.texts["prompt"] for c in held_truth], [c.texts["b"] for c in held_truth]),
    )
    items, ai = [c.features for c in pool], [c.ai for c in pool]
    seed_pairs = [(c, c.human) for c in seed_set]  # the seed set is labelled by people in every mix
    mixes: dict[str, list[str]] = {"all-AI": ai, "all-human": [c.human for c in pool]}
    for policy in ("learned", "uncertainty", "random"):
        router = Router(policy=policy, budget=budget, audit=0.0, seed=seed)
        router.fit([c.features for c in seed_set], [c.ai for c in seed_set], [c.human for c in seed_set])
        mixes[policy] = mix(pool, router.choose(items, ai))
    print(
        f"downstream: reward-model head (all-MiniLM-L6-v2 + Bradley-Terry) on each mix at {budget:.0%}; "
        f"seed set {seed_size}, pool {pool_size}, held-out {heldout_size} (human labels, ties dropped: "
        f"{len(held_human)} pairs), text signal {signal}"
    )
    for name in ("learned", "uncertainty", "random", "all-AI", "all-human"):
        labels = mixes[name]
        t0 = time.perf_counter()
        train = _triples(seed_pairs + list(zip(pool, labels)))
        weights, report = train_bradley_terry(train, held_human, seed=seed)
        scores = (truth_vectors[0] @ weights) - (truth_vectors[1] @ weights)
        vs_truth = float(np.mean([(float(s) > 0) == (c.truth == "a") for s, c in zip(scores, held_truth)]))
        print(
            f"  {name:<12} label accuracy {accuracy(labels, [c.truth for c in pool]):.3f}, {report['train_pairs']} "
            f"training pairs: held-out accuracy vs people {report['heldout_accuracy']:.3f}, vs truth {vs_truth:.3f} "
            f"({time.perf_counter() - t0:.0f} s)"
        )


def seed_set_sweep(sizes: list[int], seeds: int, pool_size: int, budget: float) -> None:
    """learned - uncertainty at one budget as the seed set grows (the model learns more with more data)."""
    for size in sizes:
        gaps = [run_seed(s, pool_size + size, size, [budget], 0.0) for s in range(seeds)]
        d = [r[("learned", budget)] - r[("uncertainty", budget)] for r in gaps]
        r_ = [r[("learned", budget)] - r[("random", budget)] for r in gaps]
        print(
            f"seed set {size:>5}, budget {budget:.0%}: learned - uncertainty {100 * statistics.mean(d):+.1f} "
            f"(min {100 * min(d):+.1f}), learned - random {100 * statistics.mean(r_):+.1f} points, {seeds} seeds"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--pool", type=int, default=2000, help="comparisons in the world (seed set included)")
    ap.add_argument(
        "--seed-set", type=int, default=200, help="comparisons labelled by both, drawn from the pool"
    )
    ap.add_argument("--budgets", default="0.1,0.25,0.5")
    ap.add_argument(
        "--audit", type=float, default=0.05, help="audit share of the budget for the learned+audit row"
    )
    ap.add_argument("--downstream", action="store_true", help="also train the reward-model head (minutes)")
    ap.add_argument("--downstream-items", type=int, default=500)
    ap.add_argument("--downstream-heldout", type=int, default=300)
    ap.add_argument(
        "--text-signal", type=float, default=0.5, help="how learnable the truth is from the synthetic text"
    )
    ap.add_argument(
        "--seed-sets", default="", help="also sweep the seed-set size at 25%%, e.g. 100,200,500,1000"
    )
    args = ap.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    print(
        f"# bench/routing.py: {args.seeds} seeds, pool {args.pool}, seed set {args.seed_set}, "
        f"load average {open('/proc/loadavg').read().split()[:3]}"
    )
    t0 = time.perf_counter()
    runs = [run_seed(s, args.pool, args.seed_set, budgets, args.audit) for s in range(args.seeds)]
    judge = {k: statistics.mean(r["judge"][k] for r in runs) for k in runs[0]["judge"]}
    print(
        f"world: judge position-flip rate {judge['position_flip_rate']:.3f}, judge picks the longer answer "
        f"{judge['longer_wins_rate']:.3f} of its non-tie verdicts, AI-human disagreement on the seed set "
        f"{judge['seed_disagreement']:.3f}"
    )
    print(f"gain model (seed 0): {runs[0]['model']}")
    summarise(runs, budgets)
    pred = statistics.mean(r["gain"][0] for r in runs)
    real = statistics.mean(r["gain"][1] for r in runs)
    print(
        f"learned, 25%: predicted gain of the routed items {pred:.3f}, realised (share changed by people) {real:.3f}"
    )
    print(
        "audit agreement by domain (seed 0, learned+audit at 25%): "
        + ", ".join(
            f"{k} {v.agree_rate:.2f} [{v.lo:.2f}, {v.hi:.2f}] n={v.n}" for k, v in runs[0]["audit"].items()
        )
    )
    print(
        f"router fit time, all policies and budgets: {statistics.mean(r['fit_seconds'] for r in runs):.2f} s per seed; "
        f"total {time.perf_counter() - t0:.1f} s; load average {open('/proc/loadavg').read().split()[:3]}"
    )
    if args.seed_sets:
        seed_set_sweep(
            [int(x) for x in args.seed_sets.split(",")], args.seeds, args.pool - args.seed_set, 0.25
        )
    if args.downstream:
        downstream(
            args.downstream_items,
            args.downstream_heldout,
            args.seed_set,
            0.25,
            seed=0,
            signal=args.text_signal,
        )


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
