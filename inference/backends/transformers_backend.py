"""Local models through transformers, loaded offline from a directory.

A worker keeps loaded models warm (an LRU of at most INFERENCE_MAX_LOADED_MODELS),
so only the first answer of a model pays the load."""

import os
import threading
from collections import OrderedDict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402  (after the offline switches)
from transformers import AutoModelForCausalLM, AutoTokenizer, TextStreamer  # noqa: E402

from .base import Generation, GenerationError  # noqa: E402

_lock = threading.Lock()
_loaded = OrderedDict()  # (path, device) -> (model, tokenizer)


def _max_loaded():
    return max(1, int(os.environ.get("INFERENCE_MAX_LOADED_MODELS", "4")))


def pick_device(requested="auto"):
    if requested and requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def load(path, device="auto"):
    """The (model, tokenizer) for a local directory, loaded once per process."""
    device = pick_device(device)
    key = (str(Path(path).resolve()), device)
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
        if not Path(path).is_dir():
            raise GenerationError(f"Model directory {path} does not exist on this worker.")
        dtype = torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else None
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype or "auto")
        except (OSError, ValueError) as exc:
            raise GenerationError(f"Could not load the model in {path}: {exc}") from exc
        model.to(device).eval()
        _loaded[key] = (model, tokenizer)
        while len(_loaded) > _max_loaded():
            _loaded.popitem(last=False)
        return model, tokenizer


def render_prompt(tokenizer, conversation, system_prompt=""):
    """The model's own chat template, or a plain transcript for base models that have none."""
    turns = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + list(conversation)
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    lines = [f"{turn['role'].capitalize()}: {turn['content']}" for turn in turns]
    return "\n".join(lines) + "\nAssistant:"


class TransformersBackend:
    def generate(self, path, conversation, params=None, on_text=None, device="auto"):
        """Answer the conversation; ``on_text(text_so_far)`` is called as tokens arrive."""
        params = params or {}
        model, tokenizer = load(path, device)
        prompt = render_prompt(tokenizer, conversation, params.get("system_prompt", ""))
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        temperature = float(params.get("temperature", 0.7))
        kwargs = {
            "max_new_tokens": int(params.get("max_new_tokens", 256)),
            "min_new_tokens": int(params.get("min_new_tokens", 0)),
            "do_sample": temperature > 0,
            "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        }
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=float(params.get("top_p", 0.95)))
        if params.get("repetition_penalty"):
            kwargs["repetition_penalty"] = float(params["repetition_penalty"])
        if "seed" in params:
            torch.manual_seed(int(params["seed"]))

        if on_text is not None:
            kwargs["streamer"] = _CallbackStreamer(tokenizer, on_text)
        with torch.inference_mode():
            output = model.generate(**inputs, **kwargs)
        new_tokens = output[0, inputs["input_ids"].shape[1] :]
        text = tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
        return Generation(text=text, prompt_tokens=int(inputs["input_ids"].shape[1]), completion_tokens=len(new_tokens))


class _CallbackStreamer(TextStreamer):
    """Hands the text decoded so far to a callback (the worker saves it for the page to show)."""

    def __init__(self, tokenizer, on_text):
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.on_text = on_text
        self.text = ""

    def on_finalized_text(self, text, stream_end=False):
        self.text += text
        self.on_text(self.text)
