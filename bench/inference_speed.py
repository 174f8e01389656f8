"""Tokens/s and time to first token of each backend on the demo models: same prompts, same
machine, one run, warm models, greedy answers of a fixed length.

    .venv/bin/python manage.py install_demo_models      # once: the converted directories
    .venv/bin/python bench/inference_speed.py [--models smollm2-135m-instruct,gemma-3-270m] \
        [--tokens 64] [--threads 2] [--rounds 2] [--variants fp32,fp32-fused,int8,int8-fused,bf16,llama,server]

Variants:
  fp32    transformers as before issue 17 (the checkpoint's float32, torch's default threads)
  fp32-fused  fp32 with each layer's q/k/v and gate/up projections fused (INFERENCE_CPU_FUSE=1,
          the CPU default now; inference/backends/fused_projections.py)
  int8    transformers with INFERENCE_CPU_QUANTIZE=int8 (dynamic int8 Linear layers)
  int8-fused  int8 with the projections fused first
  bf16    transformers with INFERENCE_DTYPE=bfloat16
  llama   llama.cpp in this process (the llama_cpp backend) on the GGUF file the package ships
  server  llama.cpp's own OpenAI-compatible server (python -m llama_cpp.server), through our
          OpenAI backend with streaming
Every variant gets the same number of threads. Ratios are against llama.cpp in-process when it
is installed, else against transformers fp32 (the output says which). The greedy answers of each
transformers variant are compared with fp32's, token for token (same text or not)."""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from inference.backends import (
    get_backend,
    llama_cpp_backend,
    warm_models,
)
from inference.demo_models import ensure_demo_gguf

PROMPTS = [
    "Why is the sky blue?",
    "Write a haiku about autumn rain.",
    "Explain what a hash table is in two sentences.",
    "Give me three tips for a good night's sleep.",
]
TRANSFORMERS_ENV = {
    "fp32": {"INFERENCE_CPU_QUANTIZE": "none", "INFERENCE_DTYPE": "auto", "INFERENCE_CPU_FUSE": "0"},
    "fp32-fused": {"INFERENCE_CPU_QUANTIZE": "none", "INFERENCE_DTYPE": "auto", "INFERENCE_CPU_FUSE": "1"},
    "int8": {"INFERENCE_CPU_QUANTIZE": "int8", "INFERENCE_DTYPE": "auto", "INFERENCE_CPU_FUSE": "0"},
    "int8-fused": {"INFERENCE_CPU_QUANTIZE": "int8", "INFERENCE_DTYPE": "auto", "INFERENCE_CPU_FUSE": "1"},
    "bf16": {"INFERENCE_CPU_QUANTIZE": "none", "INFERENCE_DTYPE": "bfloat16", "INFERENCE_CPU_FUSE": "0"},
}
LABELS = {
    "fp32": "transformers fp32 (before)",
    "fp32-fused": "transformers fp32 fused q/k/v, gate/up",
    "int8": "transformers int8 dynamic",
    "int8-fused": "transformers int8 fused",
    "bf16": "transformers bf16",
    "llama": "llama.cpp in-process",
    "server": "llama.cpp server over HTTP",
}


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def timed(backend, path, conversation, params):
    """(seconds to first text, seconds in all, completion tokens, text)."""
    started = time.perf_counter()
    first = []
    result = backend.generate(
        path, conversation, params, on_text=lambda t: first or first.append(time.perf_counter())
    )
    total = time.perf_counter() - started
    return (first[0] - started if first else total), total, result.completion_tokens, result.text


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_server(gguf, threads, context):
    """llama.cpp's OpenAI-compatible server on a free loopback port; (process, base URL) or (None, reason)."""
    try:
        import llama_cpp.server  # noqa: F401 - only whether the server extra is installed
    except ImportError as exc:
        return None, f"llama-cpp-python[server] is not installed ({exc})"
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
            "--n_ctx",
            str(context),
            "--verbose",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/models", timeout=2).read()
            return process, url
        except OSError:
            if process.poll() is not None:
                return None, "the server exited at start"
            time.sleep(0.5)
    process.kill()
    return None, "the server did not start within 120 s"


def _transformers_runner(variant, directory, params, args):
    env = TRANSFORMERS_ENV[variant]
    backend = get_backend("transformers", threads=args.threads)

    def run(conversation):
        os.environ.update(env)
        return timed(backend, str(directory), conversation, params)

    return run


def _llama_runner(variant, gguf, name, params, args):
    """(runner, None) for llama.cpp in-process or its server, or (None, why not)."""
    if variant == "llama":
        backend = get_backend("llama_cpp", threads=args.threads, context_tokens=args.context)
        return (lambda c: timed(backend, str(gguf), c, params)), None
    process, url = start_llama_server(gguf, args.threads, args.context)
    if process is None:
        return None, f"server: {url}"
    args.servers.append(process)
    backend = get_backend("openai", api_model=name, timeout_s=300, max_retries=0)
    return (lambda c: timed(backend, url, c, params)), None


def make_runners(name, models_dir, variants, params, args):
    """{variant: run(conversation)} for the variants this machine can run, and notes on the others."""
    directory, gguf = models_dir / name, None
    runners, notes = {}, []
    for variant in variants:
        if variant in TRANSFORMERS_ENV:
            if directory.is_dir():
                runners[variant] = _transformers_runner(variant, directory, params, args)
            else:
                notes.append(
                    f"{variant}: no converted directory {directory} (run manage.py install_demo_models)"
                )
        elif not llama_cpp_backend.available():
            notes.append(f"{variant}: llama-cpp-python is not installed ({llama_cpp_backend.INSTALL_HINT})")
        else:
            gguf = gguf or ensure_demo_gguf(models_dir, progress=False, names=[name])[name]
            run, why_not = _llama_runner(variant, gguf, name, params, args)
            if run is None:
                notes.append(why_not)
            else:
                runners[variant] = run
    return runners, notes


def measure(runners, conversations, rounds):
    """{variant: {"ttft": [...], "tps": [...], "texts": [...]}}, rounds interleaved across variants."""
    for run in runners.values():  # warm: loads, caches, first-call set-up
        run([{"role": "user", "content": "Hi"}])
    figures = {v: {"ttft": [], "tps": [], "texts": []} for v in runners}
    for _ in range(rounds):  # interleaved, so the shared machine's noise hits every variant
        for conversation in conversations:
            for variant, run in runners.items():
                ttft, total, tokens, text = run(conversation)
                figures[variant]["ttft"].append(ttft)
                figures[variant]["tps"].append(tokens / total)
                figures[variant]["texts"].append(text)
    return figures


def report(figures, notes, show_texts):
    base = "llama" if "llama" in figures else "fp32" if "fp32" in figures else next(iter(figures), None)
    if base is None:
        print("  nothing to measure:", "; ".join(notes))
        return
    print(
        f"  ratios against {LABELS[base]}" + ("" if base == "llama" else " (llama.cpp is not installed here)")
    )
    base_tps = statistics.median(figures[base]["tps"])
    for variant, f in figures.items():
        tps, ttft = statistics.median(f["tps"]), statistics.median(f["ttft"])
        same = ""
        if variant in TRANSFORMERS_ENV and variant != "fp32" and "fp32" in figures:
            n = sum(a == b for a, b in zip(f["texts"], figures["fp32"]["texts"]))
            same = f"  greedy text same as fp32: {n}/{len(f['texts'])}"
        print(
            f"  {LABELS[variant]:28s} {tps:6.1f} tokens/s ({tps / base_tps:4.2f}x)   first token {ttft * 1000:6.0f} ms{same}"
        )
    for note in notes:
        print("  not measured:", note)
    if show_texts:
        for variant, f in figures.items():
            print(f"  [{variant}] {f['texts'][0][:160]!r}")


def bench_model(name, models_dir, variants, args):
    params = {"max_new_tokens": args.tokens, "min_new_tokens": args.tokens, "temperature": 0}
    runners, notes = make_runners(name, models_dir, variants, params, args)
    conversations = [[{"role": "user", "content": p}] for p in PROMPTS[: args.prompts]]
    load_before = loadavg()
    figures = measure(runners, conversations, args.rounds)
    print(
        f"\n{name}: {args.tokens} new tokens greedy, {args.threads} threads each, {len(conversations)} prompts "
        f"x {args.rounds} rounds, load average {load_before} -> {loadavg()}"
    )
    report(figures, notes, args.show_texts)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="smollm2-135m-instruct,gemma-3-270m")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "var" / "models")
    parser.add_argument("--variants", default="fp32,fp32-fused,int8,int8-fused,bf16,llama,server")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--prompts", type=int, default=len(PROMPTS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--show-texts", action="store_true")
    args = parser.parse_args()
    args.servers = []
    try:
        for name in args.models.split(","):
            bench_model(name, args.models_dir.resolve(), args.variants.split(","), args)
            warm_models.unload_all()
            for process in args.servers:
                process.terminate()
                process.wait(timeout=30)
            args.servers.clear()
    finally:
        for process in args.servers:
            process.kill()


if __name__ == "__main__":
    main()
