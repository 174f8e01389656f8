"""Batched generation, context limits, the memory-aware model cache: the transformers backend on tiny real models."""

import pytest

from inference.backends import GenerationError, get_backend
from inference.backends import transformers_backend as tb
from tests.conftest import TINY_PARAMS

CONVERSATIONS = [
    [{"role": "user", "content": "the sun is warm"}],
    [{"role": "user", "content": "one two three four five six seven eight nine ten river"}],
    [{"role": "user", "content": "cat"}],
    [{"role": "user", "content": "green tree by the river and the road"}],
]


def test_a_batch_answers_each_conversation_as_one_by_one_would(tiny_model_dirs):
    """Left padding: every row's greedy answer equals the answer it gets alone."""
    backend = get_backend("transformers")
    path = str(tiny_model_dirs[0])
    alone = [backend.generate(path, c, TINY_PARAMS) for c in CONVERSATIONS]
    together = backend.generate_batch(path, CONVERSATIONS, TINY_PARAMS)
    assert [g.text for g in together] == [g.text for g in alone]
    assert [g.prompt_tokens for g in together] == [g.prompt_tokens for g in alone]
    assert [g.completion_tokens for g in together] == [g.completion_tokens for g in alone]


def test_an_empty_batch_is_empty(tiny_model_dirs):
    assert get_backend("transformers").generate_batch(str(tiny_model_dirs[0]), [], TINY_PARAMS) == []


def test_a_prompt_over_the_models_context_is_a_clear_error(tiny_model_dirs):
    too_long = [{"role": "user", "content": "sun " * 600}]  # the tiny model reads 512 positions
    with pytest.raises(GenerationError, match=r"reads at most 512\. Shorten the prompt"):
        get_backend("transformers").generate(str(tiny_model_dirs[0]), too_long, TINY_PARAMS)


def test_max_new_tokens_is_clamped_to_what_the_context_leaves(tiny_model_dirs):
    near_limit = [{"role": "user", "content": "sun " * 500}]
    result = get_backend("transformers").generate(
        str(tiny_model_dirs[0]), near_limit, {**TINY_PARAMS, "max_new_tokens": 100}
    )
    assert result.prompt_tokens + result.completion_tokens <= 512


def test_a_directory_that_is_not_a_model_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(GenerationError, match="not a model directory"):
        get_backend("transformers").generate(str(tmp_path), CONVERSATIONS[0], TINY_PARAMS)


def test_a_broken_model_directory_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(GenerationError, match="Could not load the model"):
        get_backend("transformers").generate(str(tmp_path), CONVERSATIONS[0], TINY_PARAMS)


def test_the_model_cache_keeps_within_its_memory_budget(tiny_model_dirs, monkeypatch):
    tb.unload_all()
    tb.load(str(tiny_model_dirs[0]))
    one_model = tb.loaded_models()[0][2]
    assert one_model > 0
    # Room for one model only: loading the second evicts the first (least recently used).
    monkeypatch.setenv("INFERENCE_MAX_MODEL_MEMORY_MB", str(one_model * 1.5 / 2**20))
    tb.load(str(tiny_model_dirs[1]))
    held = [path for path, _, _ in tb.loaded_models()]
    assert held == [str(tiny_model_dirs[1].resolve())]
    monkeypatch.setenv("INFERENCE_MAX_MODEL_MEMORY_MB", str(one_model * 3 / 2**20))
    tb.load(str(tiny_model_dirs[0]))
    assert len(tb.loaded_models()) == 2


def test_the_model_cache_keeps_within_its_count(tiny_model_dirs, monkeypatch):
    tb.unload_all()
    monkeypatch.setenv("INFERENCE_MAX_LOADED_MODELS", "1")
    tb.load(str(tiny_model_dirs[0]))
    tb.load(str(tiny_model_dirs[1]))
    assert [p for p, _, _ in tb.loaded_models()] == [str(tiny_model_dirs[1].resolve())]


def test_device_and_dtype_are_chosen_automatically(monkeypatch):
    import torch

    assert tb.pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert tb.pick_device("cpu") == "cpu"
    assert tb.pick_dtype("cpu") == "auto"  # the checkpoint's own dtype on CPU
    monkeypatch.setenv("INFERENCE_DTYPE", "bfloat16")
    assert tb.pick_dtype("cpu") is torch.bfloat16


def test_choices_are_scored_by_likelihood(tiny_model_dirs):
    scores = get_backend("transformers").score_choices(
        str(tiny_model_dirs[0]), CONVERSATIONS[0], ["yes", "no", "maybe"]
    )
    assert len(scores) == 3 and all(s < 0 for s in scores) and len(set(scores)) == 3
