"""The models a worker keeps loaded, shared by the local backends (transformers, llama.cpp).

One LRU for the whole process, so a transformers model and a GGUF model count against the
same budget: by count (INFERENCE_MAX_LOADED_MODELS) and by memory per device
(INFERENCE_MAX_MODEL_MEMORY_MB, default half of RAM on CPU, 90% of the card on CUDA).
No torch import here: a llama.cpp-only worker never loads it."""

import os
import threading
from collections import OrderedDict
from pathlib import Path

lock = threading.RLock()
_entries: OrderedDict[object, object] = OrderedDict()  # key -> _Entry, least recently used first


class _Entry:
    __slots__ = ("value", "nbytes", "device", "on_evict")

    def __init__(self, value, nbytes, device, on_evict):
        self.value, self.nbytes, self.device, self.on_evict = value, nbytes, device, on_evict


def weights_on_disk(path, recursive=False):
    """Bytes of a model directory's weight files (safetensors, bin): what a load asks make_room for.
    ``recursive``: pipelines (diffusers) keep their components' weights in subfolders."""
    files = Path(path).rglob if recursive else Path(path).glob
    return sum(f.stat().st_size for pattern in ("*.safetensors", "*.bin") for f in files(pattern))


def max_loaded():
    return max(1, int(os.environ.get("INFERENCE_MAX_LOADED_MODELS", "4")))


def memory_budget_bytes(device):
    """How many bytes of weights a worker may keep loaded on this device."""
    if os.environ.get("INFERENCE_MAX_MODEL_MEMORY_MB"):
        return int(float(os.environ["INFERENCE_MAX_MODEL_MEMORY_MB"]) * 2**20)
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.get_device_properties(torch.device(device)).total_memory * 0.9)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError):
        return 8 * 2**30


def _held(device):
    return sum(e.nbytes for e in _entries.values() if e.device == device)


def get(key):
    """The loaded value for key (now the most recently used), or None."""
    with lock:
        entry = _entries.get(key)
        if entry is None:
            return None
        _entries.move_to_end(key)
        return entry.value


def make_room(device, expected_bytes):
    """Evict least recently used models of this device until ``expected_bytes`` more fit,
    so two big models are never held at once on the way."""
    with lock:
        budget = memory_budget_bytes(device)
        while _held(device) + expected_bytes > budget and evict_one(device):
            pass


def put(key, value, nbytes, device, on_evict=None):
    """Keep value warm; then trim to the count and memory limits (never the one just loaded)."""
    with lock:
        _entries[key] = _Entry(value, nbytes, device, on_evict)
        budget = memory_budget_bytes(device)
        while len(_entries) > max_loaded() or _held(device) > budget:
            if not evict_one(None if len(_entries) > max_loaded() else device, keep=key):
                break
        return value


def evict_one(device=None, keep=None):
    """Drop the least recently used model (of this device, if given; never ``keep``);
    False when there is none."""
    with lock:
        for key, entry in _entries.items():
            if key != keep and (device is None or entry.device == device):
                del _entries[key]
                if entry.on_evict:
                    entry.on_evict(entry.value)
                return True
        return False


def loaded(kind=None):
    """(key, device, bytes) of the models held, least recently used first; keys are tuples
    whose first item names the backend (``kind``)."""
    with lock:
        return [(key, e.device, e.nbytes) for key, e in _entries.items() if kind is None or key[0] == kind]


def unload_all(kind=None):
    with lock:
        for key in [key for key in _entries if kind is None or key[0] == kind]:
            entry = _entries.pop(key)
            if entry.on_evict:
                entry.on_evict(entry.value)
