"""Fused q/k/v and gate/up projections (the CPU default of the transformers backend): the same
numbers as the model's own layers, on a real (tiny, random) Llama model, with and without int8."""

import threading
import warnings

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from inference.backends import GenerationError
from inference.backends import transformers_backend as tb
from inference.backends.fused_projections import fuse


def _tiny_llama(seed=0):
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=100,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval()


IDS = torch.tensor([[5, 17, 42, 8, 99, 3, 61]])


def test_fused_projections_give_the_same_logits_and_greedy_tokens():
    model = _tiny_llama()
    with torch.inference_mode():
        logits = model(IDS).logits
        greedy = model.generate(IDS, max_new_tokens=8, do_sample=False)
    assert fuse(model) == 4  # 2 layers x (q/k/v, gate/up)
    layer = model.model.layers[0]
    assert (
        layer.self_attn.fused_projections.linear.out_features == 32 + 2 * 16
    )  # q, then k and v (2 KV heads)
    with torch.inference_mode():
        assert torch.equal(model(IDS).logits, logits)
        assert torch.equal(model.generate(IDS, max_new_tokens=8, do_sample=False), greedy)


def test_int8_quantises_each_fused_linear_once():
    reference = _tiny_llama()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = torch.ao.quantization.quantize_dynamic(reference, {torch.nn.Linear}, dtype=torch.qint8)
        fused_model = _tiny_llama()
        fuse(fused_model)
        fused = torch.ao.quantization.quantize_dynamic(fused_model, {torch.nn.Linear}, dtype=torch.qint8)
    attention = fused.model.layers[0].self_attn
    assert isinstance(attention.fused_projections.linear, torch.ao.nn.quantized.dynamic.Linear)
    assert attention.k_proj._fused[0] is attention.fused_projections  # the copy kept one shared product
    with torch.inference_mode():
        a, b = plain(IDS).logits, fused(IDS).logits
    # Per-tensor int8 scales differ for the concatenated weights; the logits stay close.
    assert torch.allclose(a, b, atol=0.05)


def test_two_threads_on_one_fused_model_get_their_own_answers():
    model = _tiny_llama()
    fuse(model)
    inputs = [torch.tensor([[i, i + 1, i + 2, i + 3]]) for i in (1, 50)]
    with torch.inference_mode():
        expected = [model(x).logits for x in inputs]
    results, errors = {}, []

    def run(i):
        try:
            with torch.inference_mode():
                for _ in range(20):
                    assert torch.equal(model(inputs[i]).logits, expected[i])
            results[i] = True
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and results == {0: True, 1: True}


def test_the_backend_fuses_on_cpu_unless_turned_off(tmp_path, tiny_model_dirs, monkeypatch):
    directory = tmp_path / "tiny-llama"
    _tiny_llama().save_pretrained(directory)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        source = tiny_model_dirs[0] / name
        if source.is_file():
            (directory / name).write_bytes(source.read_bytes())
    fused_model, _ = tb.load(str(directory), "cpu")
    assert hasattr(fused_model.model.layers[0].self_attn, "fused_projections")
    monkeypatch.setenv("INFERENCE_CPU_FUSE", "0")
    plain_model, _ = tb.load(str(directory), "cpu")
    assert plain_model is not fused_model  # another warm model: the setting is part of the key
    assert not hasattr(plain_model.model.layers[0].self_attn, "fused_projections")
    monkeypatch.setenv("INFERENCE_CPU_FUSE", "yes")
    with pytest.raises(GenerationError, match="INFERENCE_CPU_FUSE is 'yes'; use 1 or 0"):
        tb.load(str(directory), "cpu")
