"""Batched vs one-by-one generation with the same local model, measured in one run.

    .venv/bin/python bench/inference_batching.py [--model var/models/smollm2-135m-instruct] [--k 4] [--pool 16]

Prints answers/s and generated tokens/s for one-by-one generation (the baseline) and for
batched generation (left padding) of K answers and of a pool chunk, and the ratios."""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from inference.backends import get_backend
from inference.backends.transformers_backend import load, pick_device

QUESTIONS = [
    "What is the capital of France?",
    "Name three primary colours.",
    "Why is the sky blue?",
    "Give me a synonym for happy.",
    "What is 12 times 12?",
    "Write a haiku about rain.",
    "What does a bee make?",
    "How many legs does a spider have?",
    "What is the boiling point of water?",
    "Name a planet with rings.",
    "What language is spoken in Brazil?",
    "Who wrote Hamlet?",
    "What is photosynthesis?",
    "Define an atom in one sentence.",
    "What is the largest ocean?",
    "Name a mammal that can fly.",
]


def run(backend, path, conversations, params, batched):
    started = time.perf_counter()
    if batched:
        results = backend.generate_batch(path, conversations, params)
    else:
        results = [backend.generate(path, c, params) for c in conversations]
    seconds = time.perf_counter() - started
    tokens = sum(r.completion_tokens for r in results)
    return seconds, tokens


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="var/models/smollm2-135m-instruct")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--pool", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    # Fixed-length answers: the comparison is of throughput, not of when each answer stops.
    params = {"max_new_tokens": args.max_new_tokens, "min_new_tokens": args.max_new_tokens, "temperature": 0}
    backend = get_backend("transformers")
    load(args.model)
    backend.generate(
        args.model, [{"role": "user", "content": "Hi"}], {"max_new_tokens": 4, "temperature": 0}
    )  # warm
    import torch

    print(
        f"model {args.model} on {pick_device()} (torch threads {torch.get_num_threads()}), {args.max_new_tokens} new tokens per answer"
    )
    for label, n in (("K answers of one comparison", args.k), ("pool chunk", args.pool)):
        conversations = [[{"role": "user", "content": q}] for q in (QUESTIONS * 8)[:n]]
        base_s, base_tokens = run(backend, args.model, conversations, params, batched=False)
        batch_s, batch_tokens = run(backend, args.model, conversations, params, batched=True)
        print(f"{label} (n={n}):")
        print(
            f"  one by one: {base_s:6.2f} s  {n / base_s:6.2f} answers/s  {base_tokens / base_s:7.1f} tokens/s"
        )
        print(
            f"  batched:    {batch_s:6.2f} s  {n / batch_s:6.2f} answers/s  {batch_tokens / batch_s:7.1f} tokens/s"
        )
        print(
            f"  throughput ratio batched / one-by-one: {(batch_tokens / batch_s) / (base_tokens / base_s):.2f}x"
        )


if __name__ == "__main__":
    main()
