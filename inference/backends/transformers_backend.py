"""Local models through transformers, loaded offline from a directory.

A worker keeps loaded models warm (``warm_models``, shared with the llama.cpp backend),
so only the first answer of a model pays the load. On a GPU, models load in bfloat16
(float16 where bf16 is missing) unless INFERENCE_DTYPE says otherwise."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
    TextStreamer,
)

from . import fused_projections, warm_models
from .base import (
    Backend,
    Generation,
    GenerationError,
    cpu_threads_per_answer,
    cut_at_stop,
    max_new_tokens,
    plain_transcript,
    with_system_prompt,
)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_KIND = "transformers"
memory_budget_bytes = warm_models.memory_budget_bytes


def pick_device(requested="auto"):
    if requested and requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def pick_dtype(device):
    """bfloat16 (or float16) on a GPU, the checkpoint's own dtype on CPU; INFERENCE_DTYPE overrides."""
    wanted = os.environ.get("INFERENCE_DTYPE", "auto")
    if wanted in _DTYPES:
        return _DTYPES[wanted]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return "auto"


def cpu_quantization(device):
    """On CPU, INFERENCE_CPU_QUANTIZE=int8 quantises the Linear layers' weights to int8 at load
    (dynamic quantisation: activations stay float); "none" (the default) keeps the checkpoint's
    weights. Never on a GPU."""
    wanted = os.environ.get("INFERENCE_CPU_QUANTIZE", "none")
    if wanted not in ("none", "int8"):
        raise GenerationError(f"INFERENCE_CPU_QUANTIZE is {wanted!r}; use int8 or none.")
    return wanted if device == "cpu" else "none"


def cpu_fusion(device):
    """On CPU, each layer's q/k/v and gate/up projections run as one matrix product each
    (``fused_projections``; identical outputs). INFERENCE_CPU_FUSE=0 turns it off."""
    wanted = os.environ.get("INFERENCE_CPU_FUSE", "1")
    if wanted not in ("0", "1"):
        raise GenerationError(f"INFERENCE_CPU_FUSE is {wanted!r}; use 1 or 0.")
    return device == "cpu" and wanted == "1"


def _quantize_int8(model):
    import warnings

    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def _weights_bytes(model):
    held = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
    # Dynamically quantised layers keep their int8 weights outside the parameters.
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if callable(weight):
            held += weight().numel()
    return held


def _release(value):
    model = value[0]
    if model.device.type == "cuda":
        torch.cuda.empty_cache()


def loaded_models():
    """(path, device, bytes) of the transformers models this process holds, least recently used first."""
    return [(key[1], device, nbytes) for key, device, nbytes in warm_models.loaded(_KIND)]


def unload_all():
    warm_models.unload_all(_KIND)


def load(path, device="auto"):
    """The (model, tokenizer) for a local directory, loaded once per process."""
    device = pick_device(device)
    dtype, quantize = pick_dtype(device), cpu_quantization(device)
    # The settings are part of the key: a worker never answers with a model loaded another way.
    key = (_KIND, str(Path(path).resolve()), device, str(dtype), quantize, cpu_fusion(device))
    with warm_models.lock:
        held = warm_models.get(key)
        if held is not None:
            return held
        if not Path(path).is_dir():
            raise GenerationError(f"Model directory {path} does not exist on this worker.")
        if not (Path(path) / "config.json").is_file():
            raise GenerationError(f"{path} is not a model directory: it has no config.json.")
        expected = warm_models.weights_on_disk(path)
        warm_models.make_room(device, expected)
        if device.startswith("cuda") and warm_models.loaded():
            free, _total = torch.cuda.mem_get_info(torch.device(device))
            while free < expected * 1.2 and warm_models.evict_one(device):
                torch.cuda.empty_cache()
                free, _total = torch.cuda.mem_get_info(torch.device(device))
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
        except (OSError, ValueError, KeyError) as exc:
            raise GenerationError(f"Could not load the model in {path}: {exc}") from exc
        model.to(device).eval()
        if cpu_fusion(device):
            fused_projections.fuse(model)  # the same numbers, fewer and larger matrix products
        if quantize == "int8":
            model = _quantize_int8(model)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return warm_models.put(key, (model, tokenizer), _weights_bytes(model), device, on_evict=_release)


def render_prompt(tokenizer, conversation, system_prompt=""):
    """The model's own chat template, or a plain transcript for base models that have none."""
    turns = with_system_prompt(conversation, system_prompt)
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    return plain_transcript(turns)


def context_length(model, tokenizer):
    for value in (
        getattr(model.config, "max_position_embeddings", None),
        getattr(model.config, "n_positions", None),
    ):
        if value:
            return int(value)
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if limit and limit < 10**7 else None


def _generation_kwargs(params, tokenizer, max_new_tokens, prompt_width=None):
    temperature = float(params.get("temperature", 0.7))
    kwargs = {
        "max_new_tokens": max_new_tokens,
        "min_new_tokens": min(int(params.get("min_new_tokens", 0)), max_new_tokens),
        "do_sample": temperature > 0,
        "pad_token_id": tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else tokenizer.eos_token_id,
    }
    if temperature > 0:
        kwargs.update(temperature=temperature, top_p=float(params.get("top_p", 0.95)))
    if params.get("repetition_penalty"):
        kwargs["repetition_penalty"] = float(params["repetition_penalty"])
    if params.get("stop") and prompt_width is not None:  # ends once one is written; the text is cut before it
        kwargs["stopping_criteria"] = StoppingCriteriaList(
            [_StopStrings(tokenizer, params["stop"], prompt_width)]
        )
    if "seed" in params:
        torch.manual_seed(int(params["seed"]))
    return kwargs


class _StopStrings(StoppingCriteria):
    """Stops each row once its answer so far holds a stop string (transformers' own stop_strings
    needs a tokenizer whose tokens map back to text piece by piece; this only decodes)."""

    def __init__(self, tokenizer, stops, prompt_width):
        self.tokenizer, self.stops, self.width = tokenizer, [s for s in stops if s], prompt_width

    def __call__(self, input_ids, scores, **kwargs):
        texts = self.tokenizer.batch_decode(input_ids[:, self.width :], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in texts], device=input_ids.device)


class TransformersBackend(Backend):
    def __init__(self, threads=None, **options):
        super().__init__(**options)
        self.threads = threads

    def _use_threads(self, model):
        # Per calling thread (OpenMP): the answers a worker writes at once share the cores, not fight.
        if model.device.type == "cpu":
            torch.set_num_threads(int(self.threads or cpu_threads_per_answer()))

    def generate(self, path, conversation, params=None, on_text=None, device="auto"):
        """Answer the conversation; ``on_text(text_so_far)`` is called as tokens arrive."""
        params = params or {}
        model, tokenizer = load(path, device)
        self._use_threads(model)
        prompt = render_prompt(tokenizer, conversation, params.get("system_prompt", ""))
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        kwargs = _generation_kwargs(
            params,
            tokenizer,
            max_new_tokens(params, prompt_tokens, context_length(model, tokenizer)),
            prompt_tokens,
        )
        if on_text is not None:
            kwargs["streamer"] = _CallbackStreamer(tokenizer, on_text)
        with torch.inference_mode():
            output = model.generate(**inputs, **kwargs)
        new_tokens = output[0, prompt_tokens:]
        text = cut_at_stop(tokenizer.decode(new_tokens, skip_special_tokens=True), params.get("stop"))[
            0
        ].strip()
        return Generation(text=text, prompt_tokens=prompt_tokens, completion_tokens=len(new_tokens))

    def generate_batch(self, path, conversations, params=None, device="auto"):
        """Several answers in one forward pass per step (left padding), same parameters for all."""
        params = params or {}
        conversations = list(conversations)
        if not conversations:
            return []
        model, tokenizer = load(path, device)
        self._use_threads(model)
        prompts = [render_prompt(tokenizer, c, params.get("system_prompt", "")) for c in conversations]
        with warm_models.lock:  # the tokenizer is shared by every thread of this worker
            side, tokenizer.padding_side = tokenizer.padding_side, "left"
            try:
                inputs = tokenizer(prompts, return_tensors="pt", add_special_tokens=False, padding=True)
            finally:
                tokenizer.padding_side = side
        inputs = inputs.to(model.device)
        width = int(inputs["input_ids"].shape[1])
        lengths = [int(n) for n in inputs["attention_mask"].sum(dim=1)]
        kwargs = _generation_kwargs(
            params, tokenizer, max_new_tokens(params, width, context_length(model, tokenizer)), width
        )
        with torch.inference_mode():
            output = model.generate(**inputs, **kwargs)
        stop_ids = _stop_ids(model, tokenizer)
        results = []
        for row, prompt_tokens in zip(output, lengths):
            new_tokens = row[width:].tolist()
            # Rows that finished early are padded: count only up to (and with) the first stop token.
            for i, token in enumerate(new_tokens):
                if token in stop_ids:
                    new_tokens = new_tokens[: i + 1]
                    break
            text = cut_at_stop(tokenizer.decode(new_tokens, skip_special_tokens=True), params.get("stop"))[
                0
            ].strip()
            results.append(
                Generation(text=text, prompt_tokens=prompt_tokens, completion_tokens=len(new_tokens))
            )
        return results

    def score_choices(self, path, conversation, choices, params=None, device="auto"):
        """log P(choice | prompt) for each choice, summed over the choice's tokens."""
        params = params or {}
        model, tokenizer = load(path, device)
        prompt = render_prompt(tokenizer, conversation, params.get("system_prompt", ""))
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        scores = []
        with torch.inference_mode():
            for choice in choices:
                choice_ids = tokenizer(choice, add_special_tokens=False)["input_ids"]
                if not choice_ids:
                    raise GenerationError(f"The choice {choice!r} has no tokens for this model.")
                ids = torch.tensor([prompt_ids + choice_ids], device=model.device)
                logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()
                logprobs = torch.log_softmax(logits, dim=-1)
                scores.append(float(logprobs[torch.arange(len(choice_ids)), torch.tensor(choice_ids)].sum()))
        return scores


def _stop_ids(model, tokenizer):
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


class _CallbackStreamer(TextStreamer):
    """Hands the text decoded so far to a callback (the worker saves it for the page to show)."""

    def __init__(self, tokenizer, on_text):
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.on_text = on_text
        self.text = ""

    def on_finalized_text(self, text, stream_end=False):
        self.text += text
        self.on_text(self.text)
