"""The real consumer: TRL's DPOTrainer, RewardTrainer and KTOTrainer train a couple of
steps on a tiny randomly initialised model, straight from each exported folder
(`datasets.load_dataset(folder)`), with no conversion code here."""

import random

import pytest

from annotation.services import create_comparison, record_judgment
from export.services import export_preferences
from inference.models import ModelEndpoint, Prompt, Response
from tests.tiny_models import VOCAB_WORDS, build_tiny_chat_model

pytestmark = pytest.mark.django_db

WORDS = [w for w in VOCAB_WORDS if w not in {"user", "assistant", "system", ":", "."}]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_chat_model(tmp_path_factory.mktemp("trl") / "tiny", seed=3)


@pytest.fixture
def judged(make_user):
    rng = random.Random(0)
    models = [ModelEndpoint.objects.create(name=f"m-{i}", path="/unused") for i in range(3)]
    people = [make_user(f"rater{i}") for i in range(2)]
    for i in range(12):
        prompt = Prompt.objects.create(
            conversation=[{"role": "user", "content": " ".join(rng.choices(WORDS, k=5))}]
        )
        k = 3 if i % 4 == 0 else 2
        responses = [
            Response.objects.create(
                prompt=prompt,
                endpoint=models[p],
                status="done",
                text=" ".join(rng.choices(WORDS, k=rng.randint(3, 9))),
            )
            for p in range(k)
        ]
        comparison = create_comparison(prompt, responses)
        ranking = [[p] for p in rng.sample(range(k), k)]
        record_judgment(
            comparison, ranking, annotator=people[0], identities_hidden=True, strength=rng.choice([1, 2])
        )
        if i % 3 == 0:
            record_judgment(comparison, [list(range(k))], annotator=people[1], identities_hidden=True)


def _load(folder):
    from datasets import load_dataset

    # A cache of its own: the datasets cache is keyed by folder name, and every test's folder is "data".
    return load_dataset(str(folder), split="train", cache_dir=str(folder.parent / "hf-cache"))


def _common(tmp_path):
    return dict(
        output_dir=str(tmp_path / "run"),
        max_steps=2,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        use_cpu=True,
        dataloader_num_workers=0,
    )


def _trained(trainer):
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    result = trainer.train()
    assert result.global_step == 2
    changed = any(not p.detach().equal(before[n]) for n, p in trainer.model.named_parameters() if n in before)
    assert changed, "two optimiser steps changed no weight"
    return result


@pytest.mark.parametrize("fmt, file_format", [("dpo", "jsonl"), ("dpo-chat", "parquet")])
def test_dpo_trainer_trains_on_the_export(judged, tiny_model, tmp_path, fmt, file_format):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    export_preferences({"format": fmt, "file_format": file_format}, tmp_path / "data")
    dataset = _load(tmp_path / "data")
    assert len(dataset) >= 10
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        args=DPOConfig(**_common(tmp_path), max_length=64),
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(tiny_model),
    )
    _trained(trainer)


def test_reward_trainer_trains_on_the_export_with_margins(judged, tiny_model, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    export_preferences(
        {"format": "reward", "file_format": "both", "margin": "strength", "ties": "margin-zero"},
        tmp_path / "data",
    )
    dataset = _load(tmp_path / "data")
    assert "margin" in dataset.column_names and "prompt" not in dataset.column_names  # implicit prompt
    assert 0.0 in dataset["margin"]  # the tie votes, kept with margin 0
    trainer = RewardTrainer(
        model=AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1),
        args=RewardConfig(**_common(tmp_path), max_length=64),
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(tiny_model),
    )
    _trained(trainer)


def test_kto_trainer_trains_on_the_export(judged, tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import KTOConfig, KTOTrainer

    export_preferences({"format": "kto", "file_format": "parquet", "ties": "kto-negative"}, tmp_path / "data")
    dataset = _load(tmp_path / "data")
    assert set(dataset["label"]) == {True, False}
    trainer = KTOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        args=KTOConfig(**{**_common(tmp_path), "per_device_train_batch_size": 4}, max_length=64),
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(tiny_model),
    )
    _trained(trainer)


def test_every_format_loads_offline_with_a_test_split(judged, tmp_path):
    from datasets import load_dataset

    for fmt in ("dpo", "dpo-chat", "reward", "kto", "listwise", "ratings"):
        for file_format in ("jsonl", "parquet"):
            out = tmp_path / f"{fmt}-{file_format}"
            result = export_preferences(
                {"format": fmt, "file_format": file_format, "test_fraction": 0.3, "seed": 1}, out
            )
            loaded = load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))
            assert {s: len(d) for s, d in loaded.items()} == result["summary"]["rows"], (fmt, file_format)
