"""Model backends behind one interface: ``generate(conversation, params, on_text) -> Generation``."""

from .base import Generation, GenerationError
from .transformers_backend import TransformersBackend

_BACKENDS = {"transformers": TransformersBackend}


def get_backend(name):
    try:
        return _BACKENDS[name]()
    except KeyError:
        raise ValueError(f"Unknown backend {name!r}; known backends: {', '.join(sorted(_BACKENDS))}.") from None


__all__ = ["Generation", "GenerationError", "get_backend"]
