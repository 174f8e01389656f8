"""Response pools (cached by model, prompt and parameters), batched worker tasks, usage figures."""

import pytest
from django.core.management import call_command

from inference.models import ModelEndpoint, Prompt, Response
from inference.selectors import endpoint_usage, pool_answers, pooled_answers
from inference.services import create_pool, fill_pool, pool_progress, queue_pool
from tests.conftest import TINY_PARAMS, wait_for


def _pool(tiny_model_dirs, name="p1", n_prompts=3):
    endpoints = [
        ModelEndpoint.objects.create(name=f"m{i}-{name}", path=str(p), generation_params=TINY_PARAMS)
        for i, p in enumerate(tiny_model_dirs)
    ]
    prompts = [
        Prompt.objects.create(conversation=[{"role": "user", "content": f"red sun {i}"}])
        for i in range(n_prompts)
    ]
    return create_pool(name, prompts, endpoints), endpoints, prompts


@pytest.mark.django_db
def test_a_pool_is_filled_once_and_never_generated_twice(tiny_model_dirs):
    pool, endpoints, prompts = _pool(tiny_model_dirs)
    assert pool_progress(pool) == (0, 0, 6)
    seen = []
    assert fill_pool(pool, chunk_size=2, on_progress=seen.append) == (6, 0, 6)
    assert sum(seen) == 6
    finished = dict(Response.objects.values_list("pk", "finished_at"))
    # Again, and a second pool over the same models, prompts and parameters: nothing new is generated.
    assert fill_pool(pool) == (6, 0, 6)
    twin = create_pool("twin", prompts[:2], endpoints)
    assert fill_pool(twin) == (4, 0, 4)
    assert dict(Response.objects.values_list("pk", "finished_at")) == finished
    assert Response.objects.count() == 6
    assert pooled_answers(prompts[0], endpoints).count() == 2
    # Different parameters are a different cache entry.
    other = create_pool("seeded", prompts[:1], endpoints[:1], params_override={"max_new_tokens": 5})
    assert fill_pool(other) == (1, 0, 1)
    assert Response.objects.count() == 7


@pytest.mark.django_db
def test_a_failing_model_in_a_pool_is_recorded_and_retried_on_request(tiny_model_dirs, tmp_path):
    import shutil

    pool, endpoints, _ = _pool(tiny_model_dirs, n_prompts=2)
    moved = tmp_path / "model"
    ModelEndpoint.objects.filter(pk=endpoints[1].pk).update(path=str(moved))  # not there (yet)
    assert fill_pool(pool) == (2, 2, 4)
    assert all("does not exist" in r.error for r in pool_answers(pool, status="failed"))
    shutil.copytree(tiny_model_dirs[1], moved)
    assert fill_pool(pool) == (2, 2, 4)  # failed answers stay failed until asked
    assert fill_pool(pool, retry_failed=True) == (4, 0, 4)
    # The path is part of the cache key: pointing a model at other weights makes new entries.
    ModelEndpoint.objects.filter(pk=endpoints[1].pk).update(path=str(tiny_model_dirs[1]))
    assert pool_progress(pool) == (2, 0, 4)


@pytest.mark.django_db
def test_the_management_command_fills_a_pool_with_a_progress_bar(tiny_model_dirs, capsys):
    pool, _, _ = _pool(tiny_model_dirs, n_prompts=2)
    call_command("fill_response_pool", pool.name, "--chunk-size", "3")
    out, err = capsys.readouterr()
    assert "4 of 4 answers done, 0 failed" in out
    assert "4/4" in err  # tqdm's bar
    with pytest.raises(Exception, match="No response pool is named 'nope'"):
        call_command("fill_response_pool", "nope")


@pytest.mark.django_db
def test_usage_and_latency_figures_come_from_the_responses(tiny_model_dirs):
    pool, endpoints, _ = _pool(tiny_model_dirs, n_prompts=2)
    fill_pool(pool)
    Response.objects.create(
        prompt=Prompt.objects.first(), endpoint=endpoints[0], status="failed", error="Boom."
    )
    usage = endpoint_usage(endpoints[0])
    assert (usage["answers"], usage["done"], usage["failed"]) == (3, 2, 1)
    assert usage["failure_rate"] == round(1 / 3, 4)
    assert usage["completion_tokens"] >= 6 and usage["p95_latency_ms"] is not None


@pytest.mark.django_db
def test_admin_shows_usage_progress_and_never_a_key(tiny_model_dirs, admin_client, monkeypatch):
    monkeypatch.setenv("SOME_PROVIDER_KEY", "sk-never-shown-42")
    pool, endpoints, _ = _pool(tiny_model_dirs, n_prompts=1)
    fill_pool(pool)
    remote = ModelEndpoint.objects.create(
        name="remote", backend="openai", path="http://127.0.0.1:9/v1", api_key_env="SOME_PROVIDER_KEY"
    )
    page = admin_client.get(f"/admin/inference/modelendpoint/{remote.pk}/change/").content.decode()
    assert "SOME_PROVIDER_KEY" in page and "sk-never-shown-42" not in page and ">set<" in page
    page = admin_client.get(f"/admin/inference/modelendpoint/{endpoints[0].pk}/change/").content.decode()
    assert "p95 latency ms" in page and "failure rate" in page
    page = admin_client.get("/admin/inference/responsepool/").content.decode()
    assert '<progress value="2" max="2">' in page
    bad = admin_client.post(
        "/admin/inference/modelendpoint/add/",
        {
            "name": "x",
            "backend": "openai",
            "path": "http://h/v1",
            "api_key_env": "sk-live-abc def",
            "generation_params": "{}",
            "identity_words": "[]",
            "judge_settings": "{}",
            "timeout_s": 5,
            "max_retries": 1,
            "max_concurrency": 1,
        },
    )
    assert "Give the name of an environment variable" in bad.content.decode()


@pytest.mark.django_db(transaction=True)
def test_pool_chunks_run_batched_on_the_inference_workers(tiny_model_dirs, celery_worker_process):
    pool, _, _ = _pool(tiny_model_dirs, name="queued", n_prompts=3)
    from django.db import transaction

    with transaction.atomic():
        assert queue_pool(pool, chunk_size=3) == 6
    wait_for(lambda: pool_progress(pool)[0] == 6, timeout=90, what="the pool's answers")
    assert pool_answers(pool).filter(latency_ms__isnull=False).count() == 6


@pytest.mark.django_db
def test_a_background_pool_queues_whole_prompts_in_growing_chunks_that_run_batched(
    tiny_model_dirs, monkeypatch, django_capture_on_commit_callbacks
):
    from inference import services
    from inference.backends.transformers_backend import TransformersBackend

    pool, endpoints, prompts = _pool(tiny_model_dirs, name="bg", n_prompts=7)
    queued = []
    monkeypatch.setattr(services, "enqueue", lambda task, ids, background=False: queued.append(ids))
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_pool(pool, chunk_size=8, background=True) == 14
    answers = dict(Response.objects.values_list("pk", "prompt_id"))
    # 1, 2, 4 prompts, then what is left; each chunk holds every model's answer to its prompts.
    assert [len({answers[pk] for pk in chunk}) for chunk in queued] == [1, 2, 4]
    assert [len(chunk) for chunk in queued] == [2, 4, 8]
    assert [answers[pk] for pk in queued[0]] == [prompts[0].pk] * 2  # the first prompt is ready first

    # A chunk of 4 prompts goes through each model in one batched call.
    batch_sizes = []
    real = TransformersBackend.generate_batch

    def spy(self, path, conversations, params=None, device="auto"):
        batch_sizes.append(len(conversations))
        return real(self, path, conversations, params, device)

    monkeypatch.setattr(TransformersBackend, "generate_batch", spy)
    assert services.generate_responses_together(queued[2]) == 8
    assert batch_sizes == [4, 4]

    # A model that answers a batch one by one (llama.cpp) keeps chunks of one prompt.
    ModelEndpoint.objects.filter(pk=endpoints[1].pk).update(backend="llama_cpp")
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        # the other backend is another cache entry: 7 new answers, and the 3 prompts left of the first model
        assert queue_pool(pool, chunk_size=8, background=True) == 10
    answers = dict(Response.objects.values_list("pk", "prompt_id"))
    assert [len({answers[pk] for pk in chunk}) for chunk in queued] == [1] * 7
