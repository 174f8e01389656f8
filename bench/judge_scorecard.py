"""Judge scorecard on a seeded set: the demo models as LLM judges (likelihood confidence, both
orders), measured against seeded "people" on the same comparisons, in one run.

    .venv/bin/python bench/judge_scorecard.py [--n 24] [--mode likelihood|verbal]

Uses a fresh SQLite file in /tmp (DATABASE_URL overrides). Prints each judge's accuracy
against the human majority, Cohen's kappa, position-flip rate and length bias, with the
trivial baselines (always A; always the longer answer) scored by the same code."""

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:////tmp/prefarena-bench-judges-{os.getpid()}.sqlite3")

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.judges import judge_comparison
from annotation.scorecard import judge_scorecard
from annotation.services import create_comparison, record_judgment
from inference.models import ModelEndpoint, Prompt, Response

# (question, a correct answer, a wrong or unhelpful answer); lengths vary both ways on purpose.
ITEMS = [
    (
        "What is the capital of France?",
        "Paris.",
        "The capital of France is Lyon, a large city in the south-east of the country.",
    ),
    ("How many legs does a spider have?", "A spider has eight legs.", "Six."),
    (
        "What is 12 times 12?",
        "144.",
        "12 times 12 is 124, since you multiply the tens and then add the units.",
    ),
    (
        "Which planet is known as the Red Planet?",
        "Mars is called the Red Planet because of iron oxide on its surface.",
        "Jupiter.",
    ),
    (
        "What gas do plants take in for photosynthesis?",
        "Carbon dioxide.",
        "Plants take in oxygen during photosynthesis and release nitrogen.",
    ),
    ("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet.", "Charles Dickens."),
    (
        "What is the boiling point of water at sea level?",
        "100 °C (212 °F).",
        "Water boils at 50 degrees Celsius at sea level, which is why tea is easy to make.",
    ),
    (
        "What is the largest ocean on Earth?",
        "The Pacific Ocean is the largest ocean on Earth.",
        "The Atlantic.",
    ),
    (
        "What is the chemical symbol for gold?",
        "Au.",
        "The chemical symbol for gold is Ag, from the Latin word for it.",
    ),
    ("How many continents are there?", "There are seven continents.", "Five."),
    (
        "What is the freezing point of water in Fahrenheit?",
        "32 °F.",
        "Water freezes at 0 °F, the same as in Celsius, by definition.",
    ),
    ("What is the square root of 81?", "The square root of 81 is 9.", "8."),
]


def seed(n, rng):
    people = [get_user_model().objects.get_or_create(username=f"seeded-person-{i}")[0] for i in range(3)]
    good_model = ModelEndpoint.objects.get_or_create(name="seeded-good", defaults={"path": "unused"})[0]
    bad_model = ModelEndpoint.objects.get_or_create(name="seeded-bad", defaults={"path": "unused"})[0]
    comparisons = []
    for i in range(n):
        question, good, bad = ITEMS[i % len(ITEMS)]
        prompt = Prompt.objects.create(conversation=[{"role": "user", "content": question}])
        g = Response.objects.create(prompt=prompt, endpoint=good_model, status="done", text=good)
        b = Response.objects.create(prompt=prompt, endpoint=bad_model, status="done", text=bad)
        good_first = rng.random() < 0.5
        comparison = create_comparison(prompt, [g, b] if good_first else [b, g])
        good_pos = 0 if good_first else 1
        for person in people:  # seeded people: right 85% of the time
            w = good_pos if rng.random() < 0.85 else 1 - good_pos
            record_judgment(comparison, [[w], [1 - w]], annotator=person, identities_hidden=True)
        comparisons.append(comparison)
    return comparisons


def baseline(comparisons, name, pick):
    judge = ModelEndpoint.objects.get_or_create(
        name=name, defaults={"path": "unused", "judge_method": "llm"}
    )[0]
    for c in comparisons:
        texts = [s.response.text for s in c.slots.order_by("position")]
        w = pick(texts)
        record_judgment(
            c,
            [[w], [1 - w]],
            judge=judge,
            judge_prompt_version="baseline",
            identities_hidden=True,
            reason_tags=["position-consistent"],
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--mode", default="likelihood", choices=["likelihood", "verbal"])
    parser.add_argument("--models", default="var/models/smollm2-135m-instruct,var/models/gemma-3-270m")
    args = parser.parse_args()
    call_command("migrate", verbosity=0, skip_checks=True)
    comparisons = seed(args.n, random.Random(0))
    baseline(comparisons, "baseline-always-A", lambda t: 0)
    baseline(comparisons, "baseline-longer", lambda t: 0 if len(t[0]) >= len(t[1]) else 1)
    for path in args.models.split(","):
        judge = ModelEndpoint.objects.create(
            name=f"judge-{Path(path).name}",
            path=path,
            judge_method="llm",
            judge_settings={"confidence": args.mode, "params": {"max_new_tokens": 40}},
        )
        started = time.perf_counter()
        for c in comparisons:
            judge_comparison(c, judge)
        print(
            f"{judge.name}: judged {len(comparisons)} comparisons x 2 orders in {time.perf_counter() - started:.1f} s"
        )
    print(f"\n{args.n} seeded comparisons, 3 seeded people each (right 85% of the time); mode {args.mode}")
    print(
        f"{'judge':36} {'version':24} {'acc':>6} {'kappa':>6} {'flip':>6} {'longer(judge)':>14} {'longer(people)':>15}"
    )
    for row in judge_scorecard():

        def fmt(v):
            return "—" if v is None else f"{v:.2f}"

        print(
            f"{row['judge']:36} {row['judge_prompt_version']:24} {fmt(row['accuracy']):>6} {fmt(row['cohen_kappa']):>6} "
            f"{fmt(row['position_flip_rate']):>6} {fmt(row['judge_picks_longer']):>14} {fmt(row['people_pick_longer']):>15}"
        )


if __name__ == "__main__":
    main()
