"""How many tokens a conversation takes for one model, and whether an answer still fits after it.

The arena refuses an over-long follow-up up front, with a sentence, instead of letting the worker fail the
answer. Local transformers directories are counted with their own tokenizer (the `tokenizers` library reads
tokenizer.json: no transformers import in the web process) against the window in their config.json. Other
backends have a window only when the endpoint sets `context_tokens`; their text is counted conservatively."""

import json
import math
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from .models import ModelEndpoint

CHARS_PER_TOKEN = 3  # a conservative count where the model's tokenizer is not at hand (HTTP APIs, GGUF)
MESSAGE_OVERHEAD = 8  # role markers a chat template adds per message (at most, in common templates)
DEFAULT_ANSWER_TOKENS = 256  # the backends' max_new_tokens default


@lru_cache(maxsize=64)
def _local(path):
    """(tokenizer or None, trained window or None) of a local model directory, read once per process."""
    folder = Path(path)
    tokenizer = (
        Tokenizer.from_file(str(folder / "tokenizer.json")) if (folder / "tokenizer.json").is_file() else None
    )
    window = None
    if (folder / "config.json").is_file():
        config = json.loads((folder / "config.json").read_text())
        window = config.get("max_position_embeddings") or config.get("n_positions")
    return tokenizer, int(window) if window else None


def _is_local(endpoint):
    return (
        endpoint.backend == ModelEndpoint.Backend.TRANSFORMERS
        and endpoint.path
        and Path(endpoint.path).is_dir()
    )


def context_window(endpoint):
    """The model's window in tokens (prompt and answer together), or None when unknown."""
    trained = _local(endpoint.path)[1] if _is_local(endpoint) else None
    if endpoint.context_tokens and trained:
        return min(endpoint.context_tokens, trained)
    return endpoint.context_tokens or trained


def conversation_tokens(endpoint, conversation):
    """Tokens the conversation's messages take for this model (its tokenizer where local, else an upper estimate)."""
    tokenizer = _local(endpoint.path)[0] if _is_local(endpoint) else None
    texts = [str(message.get("content") or "") for message in conversation]
    if tokenizer is not None:
        counted = sum(
            len(encoding.ids) for encoding in tokenizer.encode_batch(texts, add_special_tokens=False)
        )
    else:
        counted = sum(math.ceil(len(text) / CHARS_PER_TOKEN) for text in texts)
    return counted + MESSAGE_OVERHEAD * len(texts)


def answer_fits(endpoint, conversation):
    """Whether the conversation leaves room for a full answer (the endpoint's max_new_tokens, capped at a
    quarter of the window) within the model's window; True when the window is unknown."""
    window = context_window(endpoint)
    if window is None:
        return True
    wanted = int((endpoint.generation_params or {}).get("max_new_tokens", DEFAULT_ANSWER_TOKENS))
    return conversation_tokens(endpoint, conversation) + min(wanted, window // 4) <= window
