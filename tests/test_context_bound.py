"""inference.context: a conversation's tokens for one model and whether an answer still fits its window."""

import pytest
from tokenizers import Tokenizer

from inference.context import (
    CHARS_PER_TOKEN,
    MESSAGE_OVERHEAD,
    answer_fits,
    context_window,
    conversation_tokens,
)
from inference.models import ModelEndpoint

pytestmark = pytest.mark.django_db


def _talk(*texts):
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]


def test_a_local_model_is_counted_with_its_own_tokenizer_against_its_trained_window(tiny_model_dirs):
    endpoint = ModelEndpoint.objects.create(name="tiny", path=str(tiny_model_dirs[0]))
    conversation = _talk("the sun is warm", "yes it is", "and the moon")
    tokenizer = Tokenizer.from_file(str(tiny_model_dirs[0] / "tokenizer.json"))
    expected = sum(len(tokenizer.encode(m["content"], add_special_tokens=False).ids) for m in conversation)
    assert expected == 10  # the tiny models split on whitespace: one token per word
    assert conversation_tokens(endpoint, conversation) == expected + 3 * MESSAGE_OVERHEAD
    assert context_window(endpoint) == 512  # n_positions in its config.json
    assert answer_fits(endpoint, conversation)
    assert not answer_fits(endpoint, _talk(" ".join(["sun"] * 500)))

    # An endpoint's own context setting narrows the window, never widens it past what the model was trained for.
    endpoint.context_tokens = 100
    assert context_window(endpoint) == 100
    assert not answer_fits(endpoint, _talk(" ".join(["sun"] * 80)))
    endpoint.context_tokens = 100_000
    assert context_window(endpoint) == 512


def test_a_remote_model_is_bounded_only_when_its_window_is_set(tiny_model_dirs):
    endpoint = ModelEndpoint.objects.create(
        name="remote", backend=ModelEndpoint.Backend.OPENAI, path="http://127.0.0.1:9/v1", api_model="m"
    )
    long = _talk("x" * 30_000)
    assert context_window(endpoint) is None and answer_fits(endpoint, long)
    endpoint.context_tokens = 4096
    endpoint.generation_params = {"max_new_tokens": 64}
    assert conversation_tokens(endpoint, long) == 30_000 // CHARS_PER_TOKEN + MESSAGE_OVERHEAD
    assert not answer_fits(endpoint, long)
    assert answer_fits(endpoint, _talk("x" * 3000))
