"""CPU settings of the transformers backend: threads per answer, int8 dynamic quantisation."""

import threading

import pytest
import torch

from inference.backends import GenerationError, get_backend
from inference.backends import transformers_backend as tb
from inference.backends.base import cpu_threads_per_answer
from tests.conftest import TINY_PARAMS

CONVERSATION = [{"role": "user", "content": "the sun is warm"}]


def test_threads_per_answer_share_the_cores(monkeypatch):
    monkeypatch.delenv("INFERENCE_THREADS", raising=False)
    monkeypatch.setenv("INFERENCE_PARALLEL_ANSWERS", "1")
    cores = cpu_threads_per_answer()
    monkeypatch.setenv("INFERENCE_PARALLEL_ANSWERS", "2")
    assert cpu_threads_per_answer() == max(1, cores // 2)
    monkeypatch.setenv("INFERENCE_THREADS", "3")
    assert cpu_threads_per_answer() == 3


def test_an_answer_runs_on_the_endpoints_threads(tiny_model_dirs):
    seen = []

    def answer():
        get_backend("transformers", threads=1).generate(str(tiny_model_dirs[0]), CONVERSATION, TINY_PARAMS)
        seen.append(torch.get_num_threads())

    worker = threading.Thread(target=answer)  # as a worker thread does
    worker.start()
    worker.join(timeout=60)
    assert seen == [1]


def test_int8_quantisation_is_a_separate_warm_model_that_still_answers(tiny_model_dirs, monkeypatch):
    path = str(tiny_model_dirs[0])
    plain = tb.load(path, "cpu")
    monkeypatch.setenv("INFERENCE_CPU_QUANTIZE", "int8")
    quantised = tb.load(path, "cpu")
    assert quantised is not plain
    model = quantised[0]
    assert isinstance(model.lm_head, torch.ao.nn.quantized.dynamic.Linear)
    result = get_backend("transformers").generate(path, CONVERSATION, TINY_PARAMS)
    assert result.completion_tokens >= TINY_PARAMS["min_new_tokens"]
    monkeypatch.setenv("INFERENCE_CPU_QUANTIZE", "int4")
    with pytest.raises(GenerationError, match="INFERENCE_CPU_QUANTIZE is 'int4'; use int8 or none"):
        tb.load(path, "cpu")
