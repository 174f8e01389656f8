"""Local diffusers pipelines (text-to-image), loaded offline from a directory.

The directory is a pipeline saved with ``save_pretrained`` (a ``model_index.json`` and one folder per
component), loaded with ``local_files_only`` the way the transformers backend loads: no hub
download. On a GPU the pipeline runs in bfloat16 (float16 where bf16 is missing; INFERENCE_DTYPE
overrides), on CPU in float32. Loaded pipelines share the worker's LRU and memory budget
(``warm_models``). Several prompts go through the pipeline in one call (up to
``params["batch_size"]`` or INFERENCE_IMAGE_BATCH, default 4), each with its own seeded generator,
so an answer depends only on its prompt, its parameters and its recorded seed, not on its batch.

Parameters (``ModelEndpoint.generation_params``): ``num_inference_steps`` (25), ``guidance_scale``
(7.0), ``width``/``height`` (the pipeline's default), ``negative_prompt``, ``seed`` (one fixed seed
for every answer; otherwise a fresh random seed per answer, recorded on the Response)."""

import os
import secrets
import threading
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_OFFLINE", "1")

import torch

from . import warm_models
from .base import Backend, Generation, GenerationError, cpu_threads_per_answer, user_text_and_images

_KIND = "diffusers"
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Pipeline call arguments an endpoint may set, with their types.
_CALL_PARAMS = {"num_inference_steps": int, "guidance_scale": float, "width": int, "height": int}


def pick_device(requested="auto"):
    if requested and requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(device):
    wanted = os.environ.get("INFERENCE_DTYPE", "auto")
    if wanted in _DTYPES:
        return _DTYPES[wanted]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _weights_bytes(pipeline):
    total = 0
    for component in pipeline.components.values():
        if isinstance(component, torch.nn.Module):
            total += sum(t.numel() * t.element_size() for t in component.parameters())
    return total


def _release(value):
    pipeline = value[0]
    if getattr(pipeline, "device", None) is not None and pipeline.device.type == "cuda":
        torch.cuda.empty_cache()


def load(path, device="auto"):
    """(pipeline, its lock) for a local directory, loaded once per process. A pipeline's scheduler
    keeps state during a call, so one pipeline runs one call at a time (two battles of the same model
    in a thread-pool worker take turns; different models run side by side)."""
    device = pick_device(device)
    dtype = pick_dtype(device)
    key = (_KIND, str(Path(path).resolve()), device, str(dtype))
    with warm_models.lock:
        # Imported under the lock: diffusers' lazy module is not thread-safe, and two tasks of a
        # thread-pool worker importing it at once see "cannot import name 'DiffusionPipeline'".
        from diffusers import DiffusionPipeline

        held = warm_models.get(key)
        if held is not None:
            return held
        if not Path(path).is_dir():
            raise GenerationError(f"Pipeline directory {path} does not exist on this worker.")
        if not (Path(path) / "model_index.json").is_file():
            raise GenerationError(
                f"{path} is not a diffusers pipeline directory: it has no model_index.json."
            )
        warm_models.make_room(device, warm_models.weights_on_disk(path, recursive=True))
        try:
            pipeline = DiffusionPipeline.from_pretrained(path, local_files_only=True, dtype=dtype)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GenerationError(f"Could not load the pipeline in {path}: {exc}") from exc
        pipeline.to(device)
        pipeline.set_progress_bar_config(disable=True)
        return warm_models.put(
            key, (pipeline, threading.Lock()), _weights_bytes(pipeline), device, on_evict=_release
        )


def loaded_pipelines():
    return [(key[1], device, nbytes) for key, device, nbytes in warm_models.loaded(_KIND)]


def unload_all():
    warm_models.unload_all(_KIND)


def batch_size(params):
    return max(1, int(params.get("batch_size") or os.environ.get("INFERENCE_IMAGE_BATCH", "4")))


def call_arguments(params):
    """The pipeline's keyword arguments from an endpoint's parameters; a bad value names itself."""
    kwargs = {}
    for name, kind in _CALL_PARAMS.items():
        if params.get(name) is not None:
            try:
                kwargs[name] = kind(params[name])
            except (TypeError, ValueError):
                raise GenerationError(f"The parameter {name} is {params[name]!r}; give a number.") from None
    kwargs.setdefault("num_inference_steps", 25)
    kwargs.setdefault("guidance_scale", 7.0)
    return kwargs


def seeds_for(params, count):
    """One seed per answer: the endpoint's fixed seed for all, or fresh random ones (recorded)."""
    if params.get("seed") is not None:
        return [int(params["seed"])] * count
    return [secrets.randbelow(2**31) for _ in range(count)]


class DiffusersBackend(Backend):
    def __init__(self, threads=None, **options):
        super().__init__(**options)
        self.threads = threads

    def generate(self, path, conversation, params=None, on_text=None, device="auto"):
        return self.generate_batch(path, [conversation], params, device=device)[0]

    def generate_batch(self, path, conversations, params=None, device="auto"):
        params = params or {}
        conversations = list(conversations)
        if not conversations:
            return []
        pipeline, busy = load(path, device)
        texts = []
        for conversation in conversations:
            text, images = user_text_and_images(conversation)
            if images:
                raise GenerationError(
                    "This diffusers endpoint is text-to-image; image-editing prompts need an editing pipeline, "
                    "which is not supported yet."
                )
            if not text.strip():
                raise GenerationError("The prompt has no text to draw.")
            texts.append(text)
        seeds = seeds_for(params, len(texts))
        kwargs = call_arguments(params)
        if pipeline.device.type == "cpu":
            torch.set_num_threads(int(self.threads or cpu_threads_per_answer()))
        size = batch_size(params)
        results = []
        for start in range(0, len(texts), size):
            chunk, chunk_seeds = texts[start : start + size], seeds[start : start + size]
            generators = [torch.Generator(device=pipeline.device).manual_seed(s) for s in chunk_seeds]
            extra = {}
            if params.get("negative_prompt"):
                extra["negative_prompt"] = [str(params["negative_prompt"])] * len(chunk)
            try:
                with busy, torch.inference_mode():
                    output = pipeline(
                        prompt=chunk, generator=generators, output_type="pil", **kwargs, **extra
                    )
            except (RuntimeError, ValueError, TypeError) as exc:
                raise GenerationError(f"The pipeline failed: {exc}") from exc
            for image, seed in zip(output.images, chunk_seeds):
                results.append(
                    Generation(text="", prompt_tokens=None, completion_tokens=0, image=image, seed=seed)
                )
        return results
