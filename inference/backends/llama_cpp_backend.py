"""GGUF models in-process through llama.cpp (``llama-cpp-python``), loaded from a local file.

On a CPU this is several times faster than transformers on the same model (see
bench/README.md): quantised weights, and no Python work per layer. ``path`` is a .gguf
file, or a directory that holds exactly one. The prompt is rendered with the chat
template stored in the GGUF (a plain transcript for base models without one).

Loaded models stay warm in the worker's shared LRU (``warm_models``), counted as the
file's size plus the context's KV cache. One llama.cpp context answers one request at a
time, so each loaded model has a lock; two different models answer in parallel.

Settings: the endpoint's context (tokens, prompt + answer; default INFERENCE_LLAMA_CONTEXT
or 4096, at most what the model was trained for) and threads (default: see
``base.cpu_threads_per_answer``)."""

import atexit
import codecs
import os
import threading
from pathlib import Path

from . import warm_models
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

_KIND = "llama_cpp"
DEFAULT_CONTEXT = 4096
INSTALL_HINT = (
    "install it with `./prefarena setup --llama` (pip builds it from source: 4-6 minutes on 2 idle cores)"
)


def available():
    """Whether llama-cpp-python can be imported in this process."""
    try:
        import llama_cpp  # noqa: F401 - only whether the extra is installed
    except ImportError:
        return False
    return True


def gguf_file(path):
    """The .gguf file at path (a file, or a directory holding exactly one)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        if len(found) != 1:
            what = (
                "no .gguf file"
                if not found
                else f"{len(found)} .gguf files ({', '.join(f.name for f in found)})"
            )
            raise GenerationError(f"{path} holds {what}; give the path of one GGUF file.")
        return found[0]
    if not path.is_file():
        raise GenerationError(f"Model file {path} does not exist on this worker.")
    return path


class _LoadedModel:
    """A llama.cpp model with its chat template, stop tokens and the lock that serialises its use."""

    def __init__(self, llm, context):
        import llama_cpp

        self.llm = llm
        self.lock = threading.Lock()
        # What we asked for (llama.cpp may round its own context up), at most what the model learned.
        self.context = min(context, llm.n_ctx(), llm._model.n_ctx_train() or context)
        self._is_eog = llama_cpp.llama_vocab_is_eog
        self.formatter = None  # built once: compiling the template is per-model work, not per-answer
        template = llm.metadata.get("tokenizer.chat_template")
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self.formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=self.token_text(llm.token_eos()),
                bos_token=self.token_text(llm.token_bos()),
                add_generation_prompt=True,
            )

    def token_text(self, token_id):
        if token_id < 0:
            return ""
        return self.llm._model.token_get_text(token_id)

    def is_end(self, token_id):
        """End of generation: the model's EOS or any other end-of-turn token it declares."""
        return token_id == self.llm.token_eos() or bool(self._is_eog(self.llm._model.vocab, token_id))

    def render(self, conversation, system_prompt=""):
        turns = with_system_prompt(conversation, system_prompt)
        if self.formatter is None:
            return plain_transcript(turns)
        try:
            return self.formatter(messages=turns).prompt
        except Exception as exc:  # a template may refuse a turn order (e.g. two user turns in a row)
            raise GenerationError(f"The model's chat template refused this conversation: {exc}") from exc

    def score(self, prompt_ids, choices_ids):
        """Summed log-probabilities of each token list after the prompt. Call with ``self.lock`` held."""
        import numpy as np

        llm = self.llm
        llm.reset()
        llm.eval(prompt_ids)  # in n_batch pieces; the KV cache keeps the prompt for every choice
        base, vocab = llm.n_tokens, llm.n_vocab()
        after_prompt = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(vocab,)).copy()
        scores = []
        try:
            for ids in choices_ids:
                rows = [after_prompt]
                for start in range(0, len(ids) - 1, llm.n_batch):  # the rows for the choice's next tokens
                    piece = ids[start : min(len(ids) - 1, start + llm.n_batch)]
                    llm._ctx.kv_cache_seq_rm(-1, base + start, -1)  # the previous choice's tokens go
                    llm._batch.set_batch(batch=piece, n_past=base + start, logits_all=True)
                    llm._ctx.decode(llm._batch)
                    logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(piece) * vocab,))
                    rows.extend(logits.reshape(len(piece), vocab).copy())
                scores.append(_log_softmax_at(np.stack(rows), ids))
        finally:
            # Our decodes bypassed Llama.eval's bookkeeping (its token list and last logits), so a later
            # generate reusing the cached prompt would sample from stale state: start it from scratch.
            llm._ctx.kv_cache_clear()
            llm.reset()
        return scores

    def tokenize(self, prompt):
        text = prompt.encode("utf-8")
        bos = self.token_text(self.llm.token_bos())
        # The template may write <bos> itself; never add a second one.
        add_bos = self.llm._model.add_bos_token() and not (bos and prompt.startswith(bos))
        return self.llm.tokenize(text, add_bos=add_bos, special=True)


def _kv_cache_bytes(llm, context):
    """The f16 KV cache llama.cpp allocates for this context (2 tensors × layers × context × KV width)."""
    meta = llm.metadata
    arch = meta.get("general.architecture", "")

    def value(name, default=0):
        try:
            return int(meta.get(f"{arch}.{name}", default))
        except (TypeError, ValueError):
            return default

    layers, width, heads = value("block_count"), value("embedding_length"), value("attention.head_count", 1)
    kv_heads = value("attention.head_count_kv", heads) or heads
    head_dim = value("attention.key_length", width // max(1, heads))
    return 2 * layers * context * kv_heads * head_dim * 2


def load(path, context=None, threads=None):
    """The loaded model for a GGUF file, loaded once per process (per context and threads)."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise GenerationError(
            f"This endpoint uses llama.cpp, but llama-cpp-python is not installed on this worker; {INSTALL_HINT}."
        ) from None
    file = gguf_file(path).resolve()
    context = int(context or os.environ.get("INFERENCE_LLAMA_CONTEXT") or DEFAULT_CONTEXT)
    threads = int(threads or cpu_threads_per_answer())
    key = (_KIND, str(file), context, threads)
    with warm_models.lock:
        held = warm_models.get(key)
        if held is not None:
            return held
        warm_models.make_room("cpu", file.stat().st_size)
        try:
            llm = Llama(
                model_path=str(file),
                n_ctx=context,
                n_batch=min(512, context),
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise GenerationError(f"Could not load the GGUF model {file}: {exc}") from exc
        loaded = _LoadedModel(llm, context)
        nbytes = file.stat().st_size + _kv_cache_bytes(llm, llm.n_ctx())
        return warm_models.put(key, loaded, nbytes, "cpu", on_evict=lambda m: m.llm.close())


# Free llama.cpp's models before the interpreter tears down the library they live in.
atexit.register(warm_models.unload_all, _KIND)


def loaded_models():
    """(file, context, threads, bytes) of the GGUF models this process holds, least recently used first."""
    return [(key[1], key[2], key[3], nbytes) for key, _device, nbytes in warm_models.loaded(_KIND)]


class LlamaCppBackend(Backend):
    def __init__(self, context_tokens=None, threads=None, **options):
        super().__init__(**options)
        self.context = context_tokens
        self.threads = threads

    def generate(self, path, conversation, params=None, on_text=None, device="auto"):
        """Answer the conversation; ``on_text(text_so_far)`` is called as tokens arrive."""
        params = params or {}
        model = load(path, self.context, self.threads)
        prompt_ids = model.tokenize(model.render(conversation, params.get("system_prompt", "")))
        budget = max_new_tokens(params, len(prompt_ids), model.context)
        min_tokens = min(int(params.get("min_new_tokens", 0)), budget)
        stops = params.get("stop") or []
        temperature = float(params.get("temperature", 0.7))
        with model.lock:
            llm = model.llm
            llm.set_seed(int(params["seed"]) if "seed" in params else _random_seed())
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            text, generated = "", 0
            for token in llm.generate(
                prompt_ids,
                temp=temperature,
                top_p=float(params.get("top_p", 0.95)) if temperature > 0 else 1.0,
                top_k=int(params.get("top_k", 50)) if temperature > 0 else 1,
                min_p=0.0,
                repeat_penalty=float(params.get("repetition_penalty") or 1.0),
                reset=True,
            ):
                generated += 1
                if model.is_end(token) and generated > min_tokens:
                    break
                if not model.is_end(token):
                    text += decoder.decode(llm.detokenize([token]))
                if generated > min_tokens:
                    text, stopped = cut_at_stop(text, stops)
                    if stopped:
                        break
                if on_text is not None and text:
                    on_text(text)
                if generated >= budget:
                    break
            text += decoder.decode(b"", final=True)
        return Generation(text=text.strip(), prompt_tokens=len(prompt_ids), completion_tokens=generated)

    def score_choices(self, path, conversation, choices, params=None, device="auto"):
        """log P(choice | prompt) for each choice, summed over the choice's tokens (as the transformers
        backend does: each choice tokenised on its own). The prompt is read once; each choice is one
        llama.cpp decode with logits for all its positions, so no ``logits_all`` context (which would
        hold context × vocabulary floats) is needed."""
        params = params or {}
        model = load(path, self.context, self.threads)
        prompt_ids = model.tokenize(model.render(conversation, params.get("system_prompt", "")))
        tokenized = []
        for choice in choices:
            ids = model.llm.tokenize(choice.encode("utf-8"), add_bos=False, special=False)
            if not ids:
                raise GenerationError(f"The choice {choice!r} has no tokens for this model.")
            if len(prompt_ids) + len(ids) > model.context:
                raise GenerationError(
                    f"The prompt and the choice {choice!r} are {len(prompt_ids) + len(ids)} tokens long; "
                    f"this model reads at most {model.context}. Shorten the prompt."
                )
            tokenized.append(ids)
        with model.lock:
            return model.score(prompt_ids, tokenized)


def _log_softmax_at(logits, tokens):
    """log_softmax(logits row i)[tokens[i]] summed over rows (float64, stable)."""
    import numpy as np

    rows = np.asarray(logits, dtype=np.float64)
    top = rows.max(axis=1, keepdims=True)
    norm = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
    return float((rows[np.arange(len(tokens)), tokens] - norm).sum())


def _random_seed():
    import llama_cpp

    return llama_cpp.LLAMA_DEFAULT_SEED  # llama.cpp draws a fresh seed for each answer
