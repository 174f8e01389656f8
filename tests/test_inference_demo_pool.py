"""The demo never makes a voter wait for the sample prompts: seeding queues their answers as a
background pool, the pool gives way to live battles on the real worker, and the arena page shows
its progress and draws "Random prompt" from the ready ones."""

import time

import pytest
from django.core.management import call_command
from django.db import transaction

from annotation.demo import JUDGE_NAME
from arena.demo import queue_sample_answers, sample_pool_name
from arena.models import Arena
from inference.models import ModelEndpoint, Prompt, Response, ResponsePool
from inference.selectors import pool_answers
from tests.conftest import TINY_PARAMS, wait_for


@pytest.mark.django_db
def test_the_demo_registers_its_models_on_llama_cpp_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFARENA_DEMO_BACKEND", "llama_cpp")
    call_command("seed_demo", models_dir=tmp_path)
    smol = ModelEndpoint.objects.get(name="smollm2-135m-instruct")
    assert smol.backend == "llama_cpp" and smol.path == str(tmp_path.resolve() / "smollm2-135m-instruct.gguf")
    judge = ModelEndpoint.objects.get(name=JUDGE_NAME)  # likelihood judging on the same GGUF: no torch
    assert (judge.backend, judge.path) == (smol.backend, smol.path)
    monkeypatch.setenv("PREFARENA_DEMO_BACKEND", "transformers")
    call_command("seed_demo", models_dir=tmp_path)  # back to the reference path
    smol.refresh_from_db()
    assert smol.backend == "transformers" and smol.path == str(tmp_path.resolve() / "smollm2-135m-instruct")
    judge.refresh_from_db()
    assert (judge.backend, judge.path) == (smol.backend, smol.path)


@pytest.mark.django_db
def test_seeding_queues_each_sample_prompt_for_each_model_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFARENA_DEMO_BACKEND", "transformers")
    call_command("seed_demo", models_dir=tmp_path)
    call_command("seed_demo", models_dir=tmp_path)  # twice: nothing doubles
    arena = Arena.objects.get(slug="demo")
    pool = ResponsePool.objects.get(name=sample_pool_name(arena))
    assert sorted(p.last_user_text for p in pool.prompts.all()) == sorted(arena.sample_prompts)
    answers = pool_answers(pool, status=None)
    assert answers.count() == len(arena.sample_prompts) * 2
    assert set(answers.values_list("status", flat=True)) == {"pending"}
    assert queue_sample_answers(arena) == answers.count()  # still missing: queued again, never duplicated
    assert pool_answers(pool, status=None).count() == answers.count()


def _arena_with_pool(tiny_model_dirs, prompts):
    endpoints = [
        ModelEndpoint.objects.create(name=f"tiny-{i}", path=str(path), generation_params=TINY_PARAMS)
        for i, path in enumerate(tiny_model_dirs)
    ]
    arena = Arena.objects.create(name="Demo arena", slug="demo", sample_prompts=prompts)
    arena.endpoints.add(*endpoints)
    return arena, endpoints


@pytest.mark.django_db(transaction=True)
def test_a_background_pool_waits_while_a_live_answer_is_waiting(tiny_model_dirs, celery_worker_process):
    arena, endpoints = _arena_with_pool(tiny_model_dirs, ["the sun is warm", "the moon is cold"])
    live = Response.objects.create(
        prompt=Prompt.objects.create(conversation=[{"role": "user", "content": "a typed prompt"}]),
        endpoint=endpoints[0],
        generation_params=TINY_PARAMS,
    )  # someone waits for it (its task is not queued here, so it stays pending)
    with transaction.atomic():
        queued = queue_sample_answers(arena)
    assert queued == 4
    pool = ResponsePool.objects.get(name=sample_pool_name(arena))
    time.sleep(6)  # three of the chunks' turns on the worker
    assert set(pool_answers(pool, status=None).values_list("status", flat=True)) == {"pending"}
    Response.objects.filter(pk=live.pk).update(status="done", text="done")
    wait_for(lambda: pool_answers(pool).count() == 4, timeout=90, what="the pool to fill once nobody waits")


@pytest.mark.django_db
def test_the_arena_page_shows_progress_and_draws_ready_prompts_first(tiny_model_dirs, client, make_user):
    arena, endpoints = _arena_with_pool(tiny_model_dirs, ["the sun is warm", "the moon is cold"])
    client.force_login(make_user("voter"))
    page = client.get("/arena/demo/").content.decode()
    assert 'id="sample-answers"' in page and "sample-answers/" not in page  # no pool: nothing to wait for
    queue_sample_answers(arena)
    pool = ResponsePool.objects.get(name=sample_pool_name(arena))
    moon = pool_answers(pool, status=None).filter(prompt__conversation__0__content="the moon is cold")
    moon.update(status="done", text="it is cold")
    page = client.get("/arena/demo/").content.decode()
    assert "1 of 2 ready" in page and 'hx-get="/arena/demo/sample-answers/"' in page
    assert '["the moon is cold"]' in page  # "Random prompt" draws from the ready one
    pool_answers(pool, status=None).update(status="done", text="done")
    partial = client.get("/arena/demo/sample-answers/").content.decode()
    assert "hx-get" not in partial and "2 of 2 sample prompts" in partial
