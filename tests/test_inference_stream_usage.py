"""Usage in streamed answers from OpenAI-compatible servers: asked for with
``stream_options.include_usage`` (llama.cpp's server sends none otherwise), and still an answer
from servers that ignore the option or refuse it. Real servers on loopback, tiny real model."""

import pytest

from inference.backends import get_backend
from inference.openai_server import ChatCompletionsHandler
from tests.conftest import TINY_PARAMS

CONVERSATION = [{"role": "user", "content": "the sun is warm"}]


class RecordingHandler(ChatCompletionsHandler):
    """Remembers each request body (to see what the client asked for)."""

    bodies = []

    def complete(self, body, path, messages):
        type(self).bodies.append(body)
        super().complete(body, path, messages)


class IgnoresStreamOptions(RecordingHandler):
    """A server that never sends usage in a stream, whatever it is asked."""

    bodies = []

    def complete(self, body, path, messages):
        type(self).bodies.append(body)
        ChatCompletionsHandler.complete(
            self, {k: v for k, v in body.items() if k != "stream_options"}, path, messages
        )


class RefusesStreamOptions(RecordingHandler):
    """A strict server: an unknown field is a 400 that names it."""

    bodies = []

    def complete(self, body, path, messages):
        type(self).bodies.append(body)
        if "stream_options" in body:
            self.send_error_json(400, "Unrecognized request argument supplied: stream_options")
            return
        ChatCompletionsHandler.complete(self, body, path, messages)


@pytest.fixture
def serve_with(serve):
    """The loopback server of test_http_backend with one of these handlers, its record emptied."""

    def start(handler):
        handler.bodies.clear()
        return serve(handler=handler)

    return start


def stream(server):
    seen = []
    backend = get_backend("openai", api_model="tiny", timeout_s=10, max_retries=0)
    result = backend.generate(server.base_url, CONVERSATION, TINY_PARAMS, on_text=seen.append)
    return result, seen


def test_a_stream_asks_for_usage_and_records_the_prompt_tokens(serve_with, tiny_model_dirs):
    server = serve_with(RecordingHandler)
    result, seen = stream(server)
    assert RecordingHandler.bodies[0]["stream_options"] == {"include_usage": True}
    local = get_backend("transformers").generate(str(tiny_model_dirs[0]), CONVERSATION, TINY_PARAMS)
    assert result.prompt_tokens == local.prompt_tokens > 0
    assert seen and seen[-1].strip() == result.text


def test_a_request_without_streaming_does_not_send_stream_options(serve_with):
    server = serve_with(RecordingHandler)
    result = get_backend("openai", api_model="tiny", timeout_s=10).generate(
        server.base_url, CONVERSATION, TINY_PARAMS
    )
    assert "stream_options" not in RecordingHandler.bodies[0]
    assert result.prompt_tokens > 0


def test_a_server_that_ignores_it_still_streams_and_the_prompt_tokens_are_unknown(serve_with):
    result, seen = stream(serve_with(IgnoresStreamOptions))
    assert result.text and seen[-1].strip() == result.text
    assert result.prompt_tokens is None  # unknown, not a false 0
    assert result.completion_tokens > 0


def test_a_server_that_refuses_it_is_asked_again_without_it(serve_with):
    server = serve_with(RefusesStreamOptions)
    result, seen = stream(server)
    assert [("stream_options" in body) for body in RefusesStreamOptions.bodies] == [True, False]
    assert result.text and seen[-1].strip() == result.text
    assert result.prompt_tokens is None


def test_unknown_prompt_tokens_are_stored_as_unknown(serve_with, db):
    from inference.models import ModelEndpoint, Prompt, Response
    from inference.services import generate_response

    server = serve_with(IgnoresStreamOptions)
    endpoint = ModelEndpoint.objects.create(
        name="ignores-usage",
        backend="openai",
        path=server.base_url,
        api_model="tiny",
        generation_params=TINY_PARAMS,
    )
    prompt = Prompt.objects.create(conversation=CONVERSATION)
    response = Response.objects.create(prompt=prompt, endpoint=endpoint, generation_params=TINY_PARAMS)
    generate_response(response.pk)
    response.refresh_from_db()
    assert response.status == "done", response.error
    assert response.prompt_tokens is None and response.completion_tokens > 0
