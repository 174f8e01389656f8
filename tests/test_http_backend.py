"""The OpenAI-compatible HTTP backend against a real server on loopback, which serves a tiny
real model through our transformers backend (no mock of our client). Faults are injected by
the server, the way a flaky vLLM or a proxy would produce them."""

import threading
import time

import pytest

from inference.backends import GenerationError, get_backend, openai_http
from inference.models import ModelEndpoint, Prompt, Response
from inference.openai_server import ChatCompletionsHandler
from inference.services import generate_response
from tests.conftest import TINY_PARAMS

CONVERSATION = [{"role": "user", "content": "the sun is warm"}]


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(openai_http, "BACKOFF_BASE_S", 0.01)


def http(**options):
    return get_backend("openai", **{"api_model": "tiny", "timeout_s": 10, "max_retries": 2, **options})


def test_streams_the_same_answer_the_local_backend_gives(serve, tiny_model_dirs):
    server = serve()
    seen = []
    result = http().generate(server.base_url, CONVERSATION, TINY_PARAMS, on_text=seen.append)
    local = get_backend("transformers").generate(str(tiny_model_dirs[0]), CONVERSATION, TINY_PARAMS)
    assert result.text == local.text
    assert (result.prompt_tokens, result.completion_tokens) == (local.prompt_tokens, local.completion_tokens)
    assert seen and seen[-1].strip() == result.text
    assert all(b.startswith(a) for a, b in zip(seen, seen[1:]))


def test_without_streaming_too(serve, tiny_model_dirs):
    server = serve()
    result = http().generate(server.base_url, CONVERSATION, TINY_PARAMS)
    assert (
        result.text
        == get_backend("transformers").generate(str(tiny_model_dirs[0]), CONVERSATION, TINY_PARAMS).text
    )
    assert result.completion_tokens >= 3


def test_the_api_key_comes_from_the_named_environment_variable(serve, monkeypatch):
    server = serve(api_key="sk-test-secret-123")
    monkeypatch.delenv("TEST_ENDPOINT_KEY", raising=False)
    with pytest.raises(
        GenerationError, match="TEST_ENDPOINT_KEY, named as this endpoint's API key, is not set"
    ):
        http(api_key_env="TEST_ENDPOINT_KEY").generate(server.base_url, CONVERSATION, TINY_PARAMS)
    monkeypatch.setenv("TEST_ENDPOINT_KEY", "sk-wrong")
    with pytest.raises(GenerationError, match="HTTP 401: Incorrect API key") as wrong:
        http(api_key_env="TEST_ENDPOINT_KEY").generate(server.base_url, CONVERSATION, TINY_PARAMS)
    assert "sk-wrong" not in str(wrong.value)
    assert server.requests == 0  # refused before generating; and a 401 is not retried
    monkeypatch.setenv("TEST_ENDPOINT_KEY", "sk-test-secret-123")
    assert http(api_key_env="TEST_ENDPOINT_KEY").generate(server.base_url, CONVERSATION, TINY_PARAMS).text


class FlakyHandler(ChatCompletionsHandler):
    """Answers 503 (with Retry-After: 0) to the first `failures` requests."""

    failures = 2
    seen = 0

    def do_POST(self):
        type(self).seen += 1
        if type(self).seen <= type(self).failures:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_error_json(503, "Overloaded, try later.", {"Retry-After": "0"})
            return
        super().do_POST()


def test_retries_with_backoff_after_server_errors(serve):
    handler = type("Flaky", (FlakyHandler,), {"failures": 2, "seen": 0})
    server = serve(handler)
    assert http(max_retries=2).generate(server.base_url, CONVERSATION, TINY_PARAMS).text
    assert handler.seen == 3


def test_gives_up_after_the_retries_with_the_servers_words(serve):
    handler = type("Flaky", (FlakyHandler,), {"failures": 10, "seen": 0})
    server = serve(handler)
    with pytest.raises(
        GenerationError, match=r"HTTP 503: Overloaded, try later\. \(gave up after 2 attempts\)"
    ):
        http(max_retries=1).generate(server.base_url, CONVERSATION, TINY_PARAMS)
    assert handler.seen == 2


class SlowHandler(ChatCompletionsHandler):
    def do_POST(self):
        time.sleep(1.5)
        super().do_POST()


def test_a_slow_endpoint_times_out(serve):
    server = serve(SlowHandler)
    with pytest.raises(GenerationError, match=r"did not answer within 0\.3 s \(gave up after 2 attempts\)"):
        http(timeout_s=0.3, max_retries=1).generate(server.base_url, CONVERSATION, TINY_PARAMS)


class GarbageHandler(ChatCompletionsHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<html>gateway says hi</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_garbage_is_a_clear_error(serve):
    server = serve(GarbageHandler)
    with pytest.raises(GenerationError, match="not an OpenAI chat completion: '<html>gateway says hi"):
        http().generate(server.base_url, CONVERSATION, TINY_PARAMS)


def test_an_unreachable_endpoint_is_a_clear_error():
    with pytest.raises(
        GenerationError, match=r"Could not reach the endpoint at http://127\.0\.0\.1:9/v1/chat/completions"
    ):
        http(max_retries=1).generate("http://127.0.0.1:9/v1", CONVERSATION, TINY_PARAMS)


@pytest.mark.parametrize("limit", [1, 2])
def test_requests_in_flight_never_exceed_the_endpoints_limit(serve, limit):
    server = serve(SlowishHandler)
    results = http(max_concurrency=limit).generate_batch(server.base_url, [CONVERSATION] * 4, TINY_PARAMS)
    assert len(results) == 4 and all(r.text for r in results)
    assert server.max_in_flight <= limit
    assert server.requests == 4


class SlowishHandler(ChatCompletionsHandler):
    def complete(self, *args):
        time.sleep(0.2)  # long enough for parallel requests to overlap
        super().complete(*args)


def test_the_limit_is_shared_by_the_threads_of_a_worker(serve):
    server = serve(SlowishHandler)
    backend = http(max_concurrency=2)
    threads = [
        threading.Thread(target=backend.generate, args=(server.base_url, CONVERSATION, TINY_PARAMS))
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.requests == 5 and server.max_in_flight <= 2


@pytest.mark.django_db
def test_a_worker_answers_through_an_http_endpoint_and_records_failures(serve):
    server = serve()
    endpoint = ModelEndpoint.objects.create(
        name="remote-tiny",
        backend="openai",
        path=server.base_url,
        api_model="tiny",
        generation_params=TINY_PARAMS,
    )
    prompt = Prompt.objects.create(conversation=CONVERSATION)
    response = Response.objects.create(prompt=prompt, endpoint=endpoint, generation_params=TINY_PARAMS)
    generate_response(response.pk)
    response.refresh_from_db()
    assert response.status == "done" and response.text and response.first_token_ms is not None
    assert response.completion_tokens >= 3

    down = ModelEndpoint.objects.create(
        name="down", backend="openai", path="http://127.0.0.1:9/v1", max_retries=0
    )
    failed = Response.objects.create(prompt=prompt, endpoint=down, generation_params=TINY_PARAMS)
    generate_response(failed.pk)
    failed.refresh_from_db()
    assert (
        failed.status == "failed"
        and failed.error.startswith("Could not reach the endpoint")
        and failed.text == ""
    )


def test_the_server_rejects_unknown_models_with_a_sentence(serve):
    server = serve()
    with pytest.raises(GenerationError, match="HTTP 400: Send JSON with a known model"):
        get_backend("openai", api_model="nope").generate(server.base_url, CONVERSATION, TINY_PARAMS)
