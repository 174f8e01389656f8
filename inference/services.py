"""Writes for inference: queue answers, and produce them (in a worker only)."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import Prompt, Response

log = logging.getLogger(__name__)

# How often a streaming answer is saved for the page to pick up.
STREAM_SAVE_INTERVAL_S = 0.3
GENERATION_TIME_LIMIT_S = 600
# A response "running" longer than the task's hard time limit lost its worker; it may be claimed again.
STALE_RUNNING_AFTER = timedelta(seconds=GENERATION_TIME_LIMIT_S + 60)


def validate_conversation(conversation, max_chars):
    """A list of {role, content} turns ending with a non-empty user turn; ValueError says what is wrong."""
    if not isinstance(conversation, list) or not conversation:
        raise ValueError("The conversation must be a non-empty list of turns.")
    total = 0
    for i, turn in enumerate(conversation):
        if not isinstance(turn, dict) or set(turn) - {"role", "content"} or not isinstance(turn.get("content"), str):
            raise ValueError(f"Turn {i + 1} must be an object with a role and a text content.")
        if turn.get("role") not in ("system", "user", "assistant"):
            raise ValueError(f"Turn {i + 1} has role {turn.get('role')!r}; use system, user or assistant.")
        total += len(turn["content"])
    if conversation[-1]["role"] != "user" or not conversation[-1]["content"].strip():
        raise ValueError("The conversation must end with a non-empty user turn.")
    if total > max_chars:
        raise ValueError(f"The prompt is {total} characters long; the limit is {max_chars}.")
    return conversation


def create_prompt(text, user=None, max_chars=None):
    """A single-turn prompt from text, stripped and checked."""
    text = (text or "").strip()
    if not text:
        raise ValueError("Type a prompt first: it is empty.")
    max_chars = max_chars or settings.ARENA_MAX_PROMPT_CHARS
    conversation = validate_conversation([{"role": "user", "content": text}], max_chars)
    return Prompt.objects.create(conversation=conversation, created_by=user)


def request_responses(prompt, endpoints):
    """Pending responses for each endpoint; generation is queued once the transaction commits."""
    from .tasks import generate_response

    responses = [
        Response.objects.create(prompt=prompt, endpoint=endpoint, generation_params=dict(endpoint.generation_params))
        for endpoint in endpoints
    ]
    for response in responses:
        transaction.on_commit(lambda pk=response.pk: generate_response.delay(pk))
    return responses


def generate_response(response_id):
    """Produce one answer. Idempotent: a finished, failed or running response is left as it is,
    except one whose worker died mid-answer (acks_late redelivers its task)."""
    now = timezone.now()
    claimable = Q(status=Response.Status.PENDING) | Q(
        status=Response.Status.RUNNING, started_at__lt=now - STALE_RUNNING_AFTER
    )
    claimed = Response.objects.filter(claimable, pk=response_id).update(
        status=Response.Status.RUNNING, started_at=now, text=""
    )
    if not claimed:
        return  # running elsewhere, finished, or gone
    # Imported only now (torch is heavy), after the claim, so the page says "thinking" at once.
    from .backends import GenerationError, get_backend

    response = Response.objects.select_related("endpoint", "prompt").get(pk=response_id)
    endpoint = response.endpoint
    started = time.monotonic()
    last_save = [0.0]

    def save_partial(text):
        now = time.monotonic()
        if now - last_save[0] >= STREAM_SAVE_INTERVAL_S:
            last_save[0] = now
            Response.objects.filter(pk=response_id, status=Response.Status.RUNNING).update(text=text)

    try:
        result = get_backend(endpoint.backend).generate(
            endpoint.path,
            response.prompt.conversation,
            response.generation_params,
            on_text=save_partial,
            device=settings.INFERENCE_DEVICE,
        )
        if not result.text:
            raise GenerationError("The model returned an empty answer.")
    except Exception as exc:  # any failure is recorded for admins, never half-shown to voters
        log.exception("generation failed for response %s (%s)", response_id, endpoint.name)
        Response.objects.filter(pk=response_id).update(
            status=Response.Status.FAILED,
            text="",
            error=f"{type(exc).__name__}: {exc}"[:5000],
            finished_at=timezone.now(),
        )
        return
    Response.objects.filter(pk=response_id).update(
        status=Response.Status.DONE,
        text=result.text,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        latency_ms=int((time.monotonic() - started) * 1000),
        finished_at=timezone.now(),
    )

