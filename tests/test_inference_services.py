"""Generation as the worker runs it: claiming, idempotency, failure records."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inference.models import ModelEndpoint, Prompt, Response
from inference.services import create_prompt, generate_response, validate_conversation
from tests.conftest import TINY_PARAMS

pytestmark = pytest.mark.django_db


@pytest.fixture
def response(tiny_model_dirs):
    endpoint = ModelEndpoint.objects.create(
        name="tiny", path=str(tiny_model_dirs[0]), generation_params=TINY_PARAMS
    )
    prompt = Prompt.objects.create(conversation=[{"role": "user", "content": "red sun"}])
    return Response.objects.create(prompt=prompt, endpoint=endpoint, generation_params=TINY_PARAMS)


def test_generation_fills_the_answer_and_its_figures(response):
    generate_response(response.pk)
    response.refresh_from_db()
    assert response.status == "done" and response.text
    assert response.completion_tokens >= 3 and response.prompt_tokens > 0 and response.latency_ms >= 0
    assert response.started_at <= response.finished_at


def test_running_twice_generates_once(response):
    generate_response(response.pk)
    response.refresh_from_db()
    finished_at = response.finished_at
    generate_response(response.pk)
    response.refresh_from_db()
    assert response.finished_at == finished_at


def test_a_response_running_on_a_live_worker_is_left_alone(response):
    Response.objects.filter(pk=response.pk).update(status="running", started_at=timezone.now(), text="so far")
    generate_response(response.pk)
    response.refresh_from_db()
    assert (response.status, response.text) == ("running", "so far")


def test_a_response_whose_worker_died_is_claimed_again(response):
    long_ago = timezone.now() - timedelta(hours=1)
    Response.objects.filter(pk=response.pk).update(status="running", started_at=long_ago, text="half")
    generate_response(response.pk)
    response.refresh_from_db()
    assert response.status == "done" and response.text != "half"


def test_a_failure_is_recorded_with_its_error(response):
    ModelEndpoint.objects.filter(pk=response.endpoint_id).update(path="/no/such/model")
    generate_response(response.pk)
    response.refresh_from_db()
    assert response.status == "failed" and "does not exist" in response.error and response.text == ""


@pytest.mark.parametrize(
    "conversation, message",
    [
        ([], "non-empty list"),
        ([{"role": "user"}], "Turn 1 must be an object"),
        ([{"role": "robot", "content": "x"}], "role 'robot'"),
        (
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
            "end with a non-empty user turn",
        ),
        ([{"role": "user", "content": "x" * 11}], "limit is 10"),
    ],
)
def test_conversations_are_checked(conversation, message):
    with pytest.raises(ValueError, match=message):
        validate_conversation(conversation, max_chars=10)


def test_create_prompt_strips_and_refuses_empty():
    assert create_prompt("  hello  ").conversation == [{"role": "user", "content": "hello"}]
    with pytest.raises(ValueError, match="empty"):
        create_prompt("  ")
