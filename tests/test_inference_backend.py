"""The transformers backend on a real (tiny) model directory."""

import pytest

from inference.backends import GenerationError, get_backend
from inference.backends.transformers_backend import load, render_prompt
from tests.conftest import TINY_PARAMS

CONVERSATION = [{"role": "user", "content": "the sun is warm"}]


def test_generates_with_the_chat_template_and_streams(tiny_model_dirs):
    seen = []
    result = get_backend("transformers").generate(
        str(tiny_model_dirs[0]), CONVERSATION, TINY_PARAMS, on_text=seen.append
    )
    assert result.text
    assert 3 <= result.completion_tokens <= TINY_PARAMS["max_new_tokens"]
    assert result.prompt_tokens > 0
    # The streamer saw the text grow, ending with what was returned.
    assert seen and seen[-1].strip() == result.text
    assert all(len(a) <= len(b) for a, b in zip(seen, seen[1:]))


def test_prompt_uses_the_models_chat_template_and_falls_back_without_one(tiny_model_dirs):
    _, tokenizer = load(str(tiny_model_dirs[0]))
    rendered = render_prompt(tokenizer, CONVERSATION, system_prompt="be good")
    assert rendered == "system : be good . user : the sun is warm . assistant :"
    template, tokenizer.chat_template = tokenizer.chat_template, None
    try:
        assert render_prompt(tokenizer, CONVERSATION).endswith("User: the sun is warm\nAssistant:")
    finally:
        tokenizer.chat_template = template


def test_model_is_loaded_once_per_process(tiny_model_dirs):
    first = load(str(tiny_model_dirs[0]))
    assert load(str(tiny_model_dirs[0])) is first


def test_greedy_generation_is_deterministic(tiny_model_dirs):
    backend = get_backend("transformers")
    a = backend.generate(str(tiny_model_dirs[1]), CONVERSATION, TINY_PARAMS)
    b = backend.generate(str(tiny_model_dirs[1]), CONVERSATION, TINY_PARAMS)
    assert a.text == b.text


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(GenerationError, match="does not exist"):
        get_backend("transformers").generate(str(tmp_path / "nope"), CONVERSATION, TINY_PARAMS)


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown backend 'nope'"):
        get_backend("nope")
