"""``stop`` in generation parameters ends an answer before the first stop string, on the
transformers backend (tiny real model; the llama.cpp backend's test is in test_llama_cpp_backend)."""

from inference.backends import get_backend
from inference.backends.base import cut_at_stop
from tests.conftest import TINY_PARAMS

CONVERSATION = [{"role": "user", "content": "the sun is warm"}]


def test_cut_at_stop_finds_the_earliest_stop_string():
    assert cut_at_stop("one. two, three", [",", "."]) == ("one", True)
    assert cut_at_stop("one two", ["."]) == ("one two", False)
    assert cut_at_stop("one two", None) == ("one two", False)


def test_transformers_answers_end_before_a_stop_string(tiny_model_dirs):
    backend = get_backend("transformers")
    params = {**TINY_PARAMS, "min_new_tokens": 0}
    full = backend.generate(str(tiny_model_dirs[0]), CONVERSATION, params).text
    words = full.split()
    assert len(words) >= 3
    stop = f" {words[2]}"
    cut = backend.generate(str(tiny_model_dirs[0]), CONVERSATION, {**params, "stop": [stop]})
    assert cut.text == full[: full.find(stop)].strip()
    batch = backend.generate_batch(str(tiny_model_dirs[0]), [CONVERSATION], {**params, "stop": [stop]})
    assert batch[0].text == cut.text
