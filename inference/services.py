"""Writes for inference: queue answers, and produce them (in a worker only)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from .categories import categorize
from .heartbeat import Heartbeat, stale_before
from .languages import detect_language, is_hard
from .models import ModelEndpoint, Prompt, Response, ResponsePool

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from .backends.base import Backend, Generation

log = logging.getLogger(__name__)

# How often a streaming answer is saved for the page to pick up.
STREAM_SAVE_INTERVAL_S = 0.3
GENERATION_TIME_LIMIT_S = 600
# Services send tasks by name (inference/tasks.py registers them): nothing imports tasks back.
GENERATE_RESPONSE = "inference.generate_response"
GENERATE_RESPONSES_TOGETHER = "inference.generate_responses_together"
# How long a background chunk (a pool, an AI judge) waits before it looks again for live answers in progress.
BACKGROUND_RETRY_S = 2
# When the sweeper last ran: beat, the broker and a worker on the default queue all work.
LAST_SWEEP_KEY = "ops:last-sweep"


def validate_conversation(conversation: Any, max_chars: int) -> list[dict[str, Any]]:
    """A list of {role, content} turns ending with a non-empty user turn; ValueError says what is wrong."""
    if not isinstance(conversation, list) or not conversation:
        raise ValueError("The conversation must be a non-empty list of turns.")
    total = 0
    for i, turn in enumerate(conversation):
        if (
            not isinstance(turn, dict)
            or set(turn) - {"role", "content"}
            or not isinstance(turn.get("content"), str)
        ):
            raise ValueError(f"Turn {i + 1} must be an object with a role and a text content.")
        if turn.get("role") not in ("system", "user", "assistant"):
            raise ValueError(f"Turn {i + 1} has role {turn.get('role')!r}; use system, user or assistant.")
        total += len(turn["content"])
    if conversation[-1]["role"] != "user" or not conversation[-1]["content"].strip():
        raise ValueError("The conversation must end with a non-empty user turn.")
    if total > max_chars:
        raise ValueError(f"The prompt is {total} characters long; the limit is {max_chars}.")
    return conversation


def create_prompt(text: str | None, user: User | None = None, max_chars: int | None = None) -> Prompt:
    """A single-turn prompt from text, stripped and checked."""
    text = (text or "").strip()
    if not text:
        raise ValueError("Type a prompt first: it is empty.")
    max_chars = max_chars or settings.ARENA_MAX_PROMPT_CHARS
    conversation = validate_conversation([{"role": "user", "content": text}], max_chars)
    return Prompt.objects.create(
        conversation=conversation,
        category=categorize(text),
        language=detect_language(text),
        hard=is_hard(text),
        created_by=user,
    )


def request_responses(prompt: Prompt, endpoints: Iterable[ModelEndpoint]) -> list[Response]:
    """Pending responses for each endpoint; generation is queued once the transaction commits."""
    responses = [
        Response.objects.create(
            prompt=prompt,
            endpoint=endpoint,
            generation_params=dict(endpoint.generation_params),
            cache_key=endpoint.cache_key(endpoint.generation_params),
        )
        for endpoint in endpoints
    ]
    for response in responses:
        transaction.on_commit(functools.partial(enqueue, GENERATE_RESPONSE, response.pk))
    return responses


def enqueue(task: object, *args: Any, **kwargs: Any) -> bool:
    """Send a task by its name (a registered task object works too), tolerating a broker that is down:
    the caller's rows are already committed, and the sweeper (beat) re-queues what a lost message left
    pending. Returns whether it was sent. Sending by name keeps services from importing tasks.py."""
    name = getattr(task, "name", task)
    try:
        current_app.send_task(name, args=args, kwargs=kwargs)
    except (OperationalError, RedisError, OSError) as exc:
        log.warning("could not queue %s%r (the sweeper will re-queue it): %s", name, args, exc)
        return False
    return True


def retry_failed(response_ids: Iterable[int]) -> int:
    """Failed answers back to pending and queued again after commit (the admin's "try again"); only those
    that failed. Returns how many."""
    ids = list(
        Response.objects.filter(pk__in=list(response_ids), status=Response.Status.FAILED).values_list(
            "pk", flat=True
        )
    )
    Response.objects.filter(pk__in=ids).update(status=Response.Status.PENDING, error="", text="")
    for pk in ids:
        transaction.on_commit(functools.partial(enqueue, GENERATE_RESPONSE, pk))
    return len(ids)


def _stale_running() -> Q:
    """Running answers whose worker stopped stamping them: it died mid-answer."""
    cutoff = stale_before()
    return Q(status=Response.Status.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


def _claim(response_ids: Iterable[int], skip_locked: bool = False) -> dict[int, int]:
    """Claim pending (or abandoned) answers for this worker: {id: attempt}. Only the holder of the
    latest attempt may write an answer, so a slow worker taken for dead never writes over a retry."""
    now = timezone.now()
    with transaction.atomic():
        rows = dict(
            Response.objects.select_for_update(skip_locked=skip_locked)
            .filter(Q(status=Response.Status.PENDING) | _stale_running(), pk__in=list(response_ids))
            .values_list("pk", "attempts")
        )
        Response.objects.filter(pk__in=list(rows)).update(
            status=Response.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            text="",
            attempts=F("attempts") + 1,
        )
    return {pk: attempts + 1 for pk, attempts in rows.items()}


def _claimed(claims: Mapping[int, int]) -> QuerySet[Response]:
    """The rows still held by these claims (pk and attempt both match)."""
    match = Q(pk__in=[])
    for pk, attempt in claims.items():
        match |= Q(pk=pk, attempts=attempt)
    return Response.objects.filter(match, status=Response.Status.RUNNING)


def _stamp(claims: Mapping[int, int]) -> Callable[[], int]:
    return lambda: _claimed(claims).update(heartbeat_at=timezone.now())


def generate_response(response_id: int) -> None:
    """Produce one answer. Idempotent: a finished, failed or running response is left as it is,
    except one whose worker died mid-answer (its heartbeat went stale)."""
    claims = _claim([response_id])
    if not claims:
        return  # running elsewhere, finished, or gone
    # Imported only now (torch is heavy), after the claim, so the page says "thinking" at once.

    response = Response.objects.select_related("endpoint", "prompt").get(pk=response_id)
    endpoint = response.endpoint
    started = time.monotonic()
    last_save = [0.0]

    def save_partial(text: str) -> None:
        now = time.monotonic()
        if now - last_save[0] >= STREAM_SAVE_INTERVAL_S:
            extra = {} if last_save[0] else {"first_token_ms": int((now - started) * 1000)}
            last_save[0] = now
            _claimed(claims).update(text=text, **extra)

    try:
        with Heartbeat(_stamp(claims)):
            result = backend_for(endpoint).generate(
                endpoint.path,
                conversation_for(response.prompt, endpoint),
                response.generation_params,
                on_text=save_partial,
                device=settings.INFERENCE_DEVICE,
            )
        fields = answer_fields(result)
    except Exception as exc:  # any failure is recorded for admins, never half-shown to voters
        log.exception("generation failed for response %s (%s)", response_id, endpoint.name)
        _claimed(claims).update(
            status=Response.Status.FAILED, text="", error=error_sentence(exc), finished_at=timezone.now()
        )
        return
    written = _claimed(claims).update(
        status=Response.Status.DONE,
        latency_ms=int((time.monotonic() - started) * 1000),
        finished_at=timezone.now(),
        **fields,
    )
    _drop_unwritten_media(written, fields)


# Backends that read input images (``image_url`` parts): OpenAI-compatible vision chat and image edits.
# Local text backends read text only; diffusers refuses them with a sentence (text-to-image only so far).
IMAGE_INPUT_BACKENDS = {"openai", "diffusers"}


def conversation_for(prompt: Prompt, endpoint: ModelEndpoint) -> list[dict[str, Any]]:
    """The turns a backend reads: the stored conversation, with the prompt's input images (if any)
    as OpenAI-style ``image_url`` parts (base64 data URLs) on the last user turn."""
    from . import media
    from .backends import GenerationError

    images = list(prompt.images.all())
    if not images:
        return prompt.conversation
    if endpoint.backend not in IMAGE_INPUT_BACKENDS:
        raise GenerationError(
            f"The prompt carries {len(images)} input image(s) and the {endpoint.backend} backend reads text only; "
            "use an OpenAI-compatible vision or image-editing endpoint."
        )
    return media.with_images(prompt.conversation, images)


def answer_fields(result: Generation) -> dict[str, Any]:
    """The columns a finished answer writes: its text and token counts, or its image, checked,
    stripped of metadata and stored under a random name (``inference.media``)."""
    from .backends import GenerationError

    if result.image is not None:
        from . import media

        try:
            stored = media.store_image(result.image)
        except ValueError as exc:
            raise GenerationError(f"The model's image could not be stored: {exc}") from exc
        return dict(
            kind=Response.Kind.IMAGE,
            text=result.text or "",
            media_name=stored.name,
            media_sha256=stored.sha256,
            media_width=stored.width,
            media_height=stored.height,
            media_format=stored.format,
            seed=result.seed,
        )
    if not result.text:
        raise GenerationError("The model returned an empty answer.")
    fields = dict(
        text=result.text, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens
    )
    if result.seed is not None:
        fields["seed"] = result.seed
    return fields


def _drop_unwritten_media(written: int, fields: Mapping[str, Any]) -> None:
    """A stored file whose answer lost its claim (a retry owns it now) is removed: nothing half-stored."""
    if not written and fields.get("media_name"):
        from . import media

        media.delete_quietly(fields["media_name"])


def backend_for(endpoint: ModelEndpoint) -> Backend:
    """The endpoint's backend, set up with its timeouts, limits and key name."""
    from .backends import get_backend

    return get_backend(endpoint.backend, **endpoint.backend_options())


def error_sentence(exc: BaseException) -> str:
    """What admins see for a failed answer: our own errors as they are, others with their type."""
    from .backends import GenerationError

    if isinstance(exc, GenerationError):
        return str(exc)[:5000] or "The model failed without saying why."
    return f"{type(exc).__name__}: {exc}"[:5000]


def generate_responses_together(response_ids: Iterable[int]) -> int:
    """Answer several pending responses with batched generation: those that share a model and
    parameters go through the model together (the K answers of a comparison, a pool chunk).

    Idempotent like ``generate_response``: only pending (or abandoned) responses are claimed.
    Returns how many were answered."""
    claims = _claim(response_ids, skip_locked=True)
    groups: dict[tuple[int, str], list[Response]] = {}
    for response in (
        Response.objects.select_related("endpoint", "prompt")
        .prefetch_related("prompt__images")
        .filter(pk__in=list(claims))
        .order_by("pk")
    ):
        groups.setdefault((response.endpoint_id, response.cache_key), []).append(response)
    done = 0
    with Heartbeat(_stamp(claims)):
        for group in groups.values():
            done += _generate_group(group, claims)
    return done


def _generate_group(responses: Sequence[Response], claims: Mapping[int, int]) -> int:
    from .backends import GenerationError

    endpoint = responses[0].endpoint
    mine = {r.pk: claims[r.pk] for r in responses}
    started = time.monotonic()
    try:
        results = backend_for(endpoint).generate_batch(
            endpoint.path,
            [conversation_for(r.prompt, endpoint) for r in responses],
            responses[0].generation_params,
            device=settings.INFERENCE_DEVICE,
        )
    except Exception as exc:  # recorded on every answer of the group, for admins
        log.exception("batched generation failed for %s", endpoint.name)
        _claimed(mine).update(
            status=Response.Status.FAILED, text="", error=error_sentence(exc), finished_at=timezone.now()
        )
        return 0
    latency_ms = int((time.monotonic() - started) * 1000)
    finished = timezone.now()
    done = 0
    for response, result in zip(responses, results):
        try:
            fields = dict(status=Response.Status.DONE, **answer_fields(result))
            done += 1
        except (GenerationError, OSError) as exc:  # an empty answer, an image the storage refused
            fields = dict(status=Response.Status.FAILED, text="", error=error_sentence(exc))
        # Batched answers finish together: each carries the batch's latency.
        written = _claimed({response.pk: mine[response.pk]}).update(
            latency_ms=latency_ms, finished_at=finished, **fields
        )
        _drop_unwritten_media(written, fields)
    return done


def requeue_stranded_responses() -> list[int]:
    """The sweeper's part for answers (beat, every SWEEP_STRANDED_SECONDS). A running answer whose
    worker stopped stamping it goes back to pending and is queued again (any pooled or battle
    answer); a pending battle answer with no sign of life for INFERENCE_REQUEUE_PENDING_SECONDS
    (its message lost with a worker or a broker restart) is queued again. A queued copy that
    arrives late finds the answer claimed or done and does nothing. Returns the ids queued."""
    now = timezone.now()
    stale = list(Response.objects.filter(_stale_running()).values_list("pk", "attempts"))
    requeued = [
        pk
        for pk, attempt in stale
        if _claimed({pk: attempt}).update(status=Response.Status.PENDING, heartbeat_at=now)
    ]
    forgotten = Response.objects.annotate(alive_at=Coalesce("heartbeat_at", "created_at")).filter(
        status=Response.Status.PENDING,
        pooled=False,
        alive_at__lt=now - timedelta(seconds=settings.INFERENCE_REQUEUE_PENDING_SECONDS),
    )
    waiting = list(forgotten.values_list("pk", flat=True)[:1000])
    Response.objects.filter(pk__in=waiting).update(heartbeat_at=now)
    if requeued:
        log.warning("re-queued %d answers whose worker died: %s", len(requeued), requeued)
    for pk in [*requeued, *waiting]:
        enqueue(GENERATE_RESPONSE, pk)
    return [*requeued, *waiting]


# -- response pools -------------------------------------------------------------------------------


def pool_responses(pool: ResponsePool) -> QuerySet[Response]:
    """The pooled responses a pool needs (one per prompt × model × parameters), created where missing.

    Shared with every other pool that asks for the same (model, prompt, parameters)."""
    wanted = []
    prompts = list(pool.prompts.all())
    for endpoint in pool.endpoints.all():
        params = pool.params_for(endpoint)
        key = endpoint.cache_key(params)
        wanted.append((endpoint.pk, key))
        Response.objects.bulk_create(
            [
                Response(prompt=p, endpoint=endpoint, generation_params=params, cache_key=key, pooled=True)
                for p in prompts
            ],
            ignore_conflicts=True,  # the unique (model, prompt, parameters) constraint keeps one
        )
    match = Q(pk__in=[])
    for endpoint_id, key in wanted:
        match |= Q(endpoint_id=endpoint_id, cache_key=key)
    return Response.objects.filter(match, pooled=True, prompt__in=prompts)


def _pending_chunks(
    pool: ResponsePool, chunk_size: int, retry_failed: bool, by_prompt: bool = False
) -> list[list[int]]:
    """The pool's unanswered response ids in chunks that batch well (same model and parameters together),
    or with ``by_prompt`` whole prompts (all their models) per chunk, so prompts are ready early
    (see ``_prompt_chunks``)."""
    responses = pool_responses(pool)
    if retry_failed:
        responses.filter(status=Response.Status.FAILED).update(status=Response.Status.PENDING, error="")
    pending: Any = responses.filter(status=Response.Status.PENDING)  # a queryset, then its ids
    if by_prompt:
        return _prompt_chunks(pool, pending, chunk_size)
    pending = list(pending.order_by("endpoint_id", "cache_key", "pk").values_list("pk", flat=True))
    return [pending[start : start + chunk_size] for start in range(0, len(pending), chunk_size)]


def _prompt_chunks(pool: ResponsePool, pending: QuerySet[Response], chunk_size: int) -> list[list[int]]:
    """Whole prompts per chunk, 1, 2, 4, … prompts up to ``chunk_size`` answers: the first prompt is
    ready after one answer per model, and later chunks go through each model batched (several
    prompts per call). Where a pool's model does not batch (llama.cpp, HTTP) a chunk stays one
    prompt: a bigger one would only hold a worker thread longer while a battle may be waiting."""
    from .backends import batches

    by_prompt: dict[int, list[int]] = {}
    for pk, prompt_id in pending.order_by("prompt_id", "endpoint_id", "pk").values_list("pk", "prompt_id"):
        by_prompt.setdefault(prompt_id, []).append(pk)
    backends = list(pool.endpoints.values_list("backend", flat=True))
    most = max(1, chunk_size // max(1, len(backends))) if all(batches(b) for b in backends) else 1
    return [
        [pk for group in chunk for pk in group] for chunk in growing_chunks(list(by_prompt.values()), most)
    ]


def growing_chunks(items: list[Any], most: int) -> list[list[Any]]:
    """items in chunks of 1, 2, 4, … up to ``most`` items (bench/inference_batching.py measures it)."""
    chunks, size = [], 1
    while items:
        chunks.append(items[:size])
        items, size = items[size:], min(size * 2, most)
    return chunks


def fill_pool(
    pool: ResponsePool,
    chunk_size: int = 8,
    retry_failed: bool = False,
    on_progress: Callable[[int], object] | None = None,
) -> tuple[int, int, int]:
    """Generate the pool's missing answers here, in batches; returns (done, failed, total).

    ``on_progress(n)`` is called after each chunk with the number of answers it settled."""
    for chunk in _pending_chunks(pool, chunk_size, retry_failed):
        generate_responses_together(chunk)
        if on_progress:
            on_progress(len(chunk))
    return pool_progress(pool)


def queue_pool(
    pool: ResponsePool, chunk_size: int = 8, retry_failed: bool = False, background: bool = False
) -> int:
    """Queue the pool's missing answers on the inference workers, a chunk per task; returns how many.

    ``background``: whole prompts per chunk, growing (see ``_prompt_chunks``), and each chunk waits
    while people wait for live answers (see ``live_answers_waiting``), so filling a pool never delays
    a battle on a typed prompt."""
    chunks = _pending_chunks(pool, chunk_size, retry_failed, by_prompt=background)
    for chunk in chunks:
        transaction.on_commit(
            functools.partial(enqueue, GENERATE_RESPONSES_TOGETHER, chunk, background=background)
        )
    return sum(len(chunk) for chunk in chunks)


# A live answer older than this no longer holds back background work (its task may be lost).
LIVE_ANSWER_PRIORITY_WINDOW = timedelta(minutes=2)


def live_answers_waiting() -> bool:
    """Whether an answer someone is waiting for (not pooled) is queued or being written right now."""
    return Response.objects.filter(
        pooled=False,
        status__in=[Response.Status.PENDING, Response.Status.RUNNING],
        created_at__gte=timezone.now() - LIVE_ANSWER_PRIORITY_WINDOW,
    ).exists()


def pool_progress(pool: ResponsePool) -> tuple[int, int, int]:
    """(done, failed, total) over the answers the pool needs (without creating any)."""
    from .selectors import pool_answers

    counts = {"done": 0, "failed": 0, "total": 0}
    for status in pool_answers(pool, status=None).values_list("status", flat=True):
        counts["total"] += 1
        if status in counts:
            counts[status] += 1
    expected = pool.prompts.count() * pool.endpoints.count()
    return counts["done"], counts["failed"], max(expected, counts["total"])


def create_pool(
    name: str,
    prompts: Iterable[Prompt],
    endpoints: Iterable[ModelEndpoint],
    params_override: Mapping[str, Any] | None = None,
    description: str = "",
) -> ResponsePool:
    with transaction.atomic():
        pool = ResponsePool.objects.create(
            name=name, description=description, params_override=params_override or {}
        )
        pool.prompts.set(prompts)
        pool.endpoints.set(endpoints)
    return pool
