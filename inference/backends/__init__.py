"""Model backends behind one interface (see ``base.Backend``).

Heavy imports (torch, llama_cpp) happen only when a local backend is asked for."""

from .base import Backend, Generation, GenerationError


def _transformers():
    from .transformers_backend import TransformersBackend

    return TransformersBackend


def _llama_cpp():
    from .llama_cpp_backend import LlamaCppBackend

    return LlamaCppBackend


def _openai():
    from .openai_http import OpenAIHTTPBackend

    return OpenAIHTTPBackend


def _reward_model():
    from .reward_backend import RewardModelBackend

    return RewardModelBackend


def _diffusers():
    from .diffusers_backend import DiffusersBackend

    return DiffusersBackend


_BACKENDS = {
    "diffusers": _diffusers,
    "transformers": _transformers,
    "llama_cpp": _llama_cpp,
    "openai": _openai,
    "reward_model": _reward_model,
}


# Backends whose generate_batch runs several conversations through the model together (one forward
# pass per step); the others answer a batch one by one. By name: deciding needs no heavy import.
_BATCHING = {"transformers"}


def batches(name):
    """Whether the named backend answers a batch faster than one by one."""
    return name in _BATCHING


def get_backend(name, **options):
    """A backend by name; ``options`` are the endpoint's backend options (timeouts, limits, key name)."""
    try:
        factory = _BACKENDS[name]
    except KeyError:
        raise ValueError(
            f"Unknown backend {name!r}; known backends: {', '.join(sorted(_BACKENDS))}."
        ) from None
    return factory()(**options)


__all__ = ["Backend", "Generation", "GenerationError", "batches", "get_backend"]
