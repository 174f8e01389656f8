"""Batched vs one-by-one generation with the same local model, measured in one run.

    .venv/bin/python bench/inference_batching.py [--model var/models/smollm2-135m-instruct] [--k 4] [--pool 16]
    .venv/bin/python bench/inference_batching.py --background 8 [--chunk-size 8 --models 2]

Prints answers/s and generated tokens/s for one-by-one generation (the baseline) and for
batched generation (left padding) of K answers and of a pool chunk, and the ratios.

``--background N``: a background pool of N sample prompts as the worker fills it, for one of its
models: one prompt per chunk (before) against chunks that grow 1, 2, 4, … prompts
(``inference.services.growing_chunks``, up to chunk-size / models prompts); when the first prompt
is ready, when the last is, and the mean time a prompt waits to be ready."""

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


def background(backend, path, n, most, params):
    """(first ready s, all ready s, mean ready s) for the pool's prompts answered in growing chunks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from inference.services import growing_chunks

    conversations = [[{"role": "user", "content": q}] for q in (QUESTIONS * 8)[:n]]
    started, ready = time.perf_counter(), []
    for chunk in growing_chunks(conversations, most):
        backend.generate_batch(path, chunk, params)
        ready += [time.perf_counter() - started] * len(chunk)
    return ready[0], ready[-1], sum(ready) / len(ready)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="var/models/smollm2-135m-instruct")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--pool", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--background", type=int, default=0, help="prompts in a background pool")
    parser.add_argument("--chunk-size", type=int, default=8, help="queue_pool's chunk size (answers)")
    parser.add_argument("--models", type=int, default=2, help="models in the pool")
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
    if args.background:
        most = max(1, args.chunk_size // args.models)
        load_before = open("/proc/loadavg").read().split()[0]
        for label, chunk in (
            ("one prompt per chunk (before)", 1),
            (f"growing chunks up to {most} (after)", most),
        ):
            first, last, mean = background(backend, args.model, args.background, chunk, params)
            print(
                f"background pool of {args.background} prompts, {label}: first ready {first:6.2f} s, "
                f"all ready {last:6.2f} s, mean ready {mean:6.2f} s"
            )
        print(f"load average {load_before} -> {open('/proc/loadavg').read().split()[0]}")
        return
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
