"""Images per second through the diffusers backend: K prompts in one pipeline call against the same K
one by one, same pipeline, same seeds, same steps; interleaved rounds, medians.

The pipeline is the tests' tiny random-weight Stable Diffusion (tests/tiny_diffusion.py) unless
--pipeline names a local diffusers directory. Prints images/s both ways and the ratio.

    .venv/bin/python bench/media_generation.py --k 4 --rounds 3 --steps 4
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", help="a local diffusers pipeline directory (default: build a tiny one)")
    parser.add_argument("--k", type=int, default=4, help="images per batch (a K-wise battle's answers)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4, help="denoising steps per image")
    parser.add_argument("--pixels", type=int, default=32, help="image width and height")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    from inference.backends.diffusers_backend import DiffusersBackend, load
    from tests.tiny_diffusion import build_tiny_text_to_image

    path = args.pipeline or str(build_tiny_text_to_image(Path(tempfile.mkdtemp()) / "tiny-sd"))
    backend = DiffusersBackend()
    params = {
        "num_inference_steps": args.steps,
        "guidance_scale": 1.0,
        "width": args.pixels,
        "height": args.pixels,
        "seed": 1,
        "batch_size": args.k,
    }
    prompts = [[{"role": "user", "content": f"a picture number {i}"}] for i in range(args.k)]
    pipeline, _ = load(path, args.device)
    print(
        f"pipeline {path} on {pipeline.device} ({pipeline.dtype}), K={args.k}, {args.steps} steps, {args.pixels}px"
    )
    backend.generate_batch(path, prompts, params, device=args.device)  # warm-up
    one_by_one, batched = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for prompt in prompts:
            backend.generate(path, prompt, params, device=args.device)
        one_by_one.append(time.perf_counter() - started)
        started = time.perf_counter()
        backend.generate_batch(path, prompts, params, device=args.device)
        batched.append(time.perf_counter() - started)
    single_s, batch_s = statistics.median(one_by_one), statistics.median(batched)
    print(f"one by one: {single_s:.3f} s for {args.k} images = {args.k / single_s:.2f} images/s")
    print(f"batched:    {batch_s:.3f} s for {args.k} images = {args.k / batch_s:.2f} images/s")
    print(f"ratio (batched / one by one, images/s): {single_s / batch_s:.2f}x")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
