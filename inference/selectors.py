"""Reads for inference: usage and latency per model, pooled answers to draw from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils import timezone

from .heartbeat import stale_before
from .models import Response

if TYPE_CHECKING:
    from .models import ModelEndpoint, Prompt, ResponsePool


def in_progress(prefix: str = "") -> Q:
    """A Q for answers some worker is producing or will produce: running ones whose worker still
    stamps them, and pending ones with a recent sign of life (queued, or re-queued by the sweeper).
    An answer stranded by a dead worker is neither. ``prefix`` reaches it through a relation."""
    pending_since = timezone.now() - timedelta(seconds=2 * settings.INFERENCE_REQUEUE_PENDING_SECONDS)

    def q(**lookups: Any) -> Q:
        return Q(**{prefix + key: value for key, value in lookups.items()})

    alive = q(heartbeat_at__gte=pending_since) | q(heartbeat_at__isnull=True, created_at__gte=pending_since)
    return (q(status=Response.Status.PENDING) & alive) | (
        q(status=Response.Status.RUNNING)
        & (q(heartbeat_at__gte=stale_before()) | q(heartbeat_at__isnull=True))
    )


def retrying(response: Response) -> bool:
    """True for an answer that a worker started and lost, now queued or running again."""
    if response.status == Response.Status.PENDING:
        return response.attempts > 0
    if response.status == Response.Status.RUNNING:
        return response.attempts > 1 or bool(response.heartbeat_at and response.heartbeat_at < stale_before())
    return False


def pool_answers(pool: ResponsePool, status: str | None = Response.Status.DONE) -> QuerySet[Response]:
    """The pool's pooled responses (done ones by default), without creating any."""
    match = Q(pk__in=[])
    for endpoint in pool.endpoints.all():
        match |= Q(endpoint=endpoint, cache_key=endpoint.cache_key(pool.params_for(endpoint)))
    answers = Response.objects.filter(match, pooled=True, prompt__in=pool.prompts.all())
    return answers.filter(status=status) if status else answers


def pooled_answers(prompt: Prompt, endpoints: Iterable[ModelEndpoint]) -> QuerySet[Response]:
    """Finished pooled answers to this prompt by these models, newest first: battles and campaigns
    can show them at once instead of waiting for live generation."""
    return (
        Response.objects.filter(
            prompt=prompt, endpoint__in=endpoints, pooled=True, status=Response.Status.DONE
        )
        .select_related("endpoint")
        .order_by("-finished_at")
    )


def pooled_answers_for(
    conversation: list[dict[str, Any]], endpoints: Iterable[ModelEndpoint]
) -> dict[int, Response]:
    """{endpoint id: a finished pooled answer} for the newest prompt with exactly this conversation
    that has one from every endpoint; {} when no pool covers it."""
    wanted = {endpoint.pk for endpoint in endpoints}
    prompts = (
        Response.objects.filter(prompt__conversation=conversation, pooled=True, status=Response.Status.DONE)
        .order_by("-prompt_id")
        .values_list("prompt_id", flat=True)
        .distinct()
    )
    for prompt_id in prompts[:20]:
        answers: dict[int, Response] = {}
        for answer in Response.objects.filter(
            prompt_id=prompt_id, endpoint_id__in=wanted, pooled=True, status=Response.Status.DONE
        ).order_by("-finished_at"):
            answers.setdefault(answer.endpoint_id, answer)
        if set(answers) == wanted:
            return answers
    return {}


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]


def endpoint_usage(endpoint: ModelEndpoint, recent: int = 1000) -> dict[str, Any]:
    """Usage and latency figures of one model, computed from its responses."""
    responses = Response.objects.filter(endpoint=endpoint)
    totals = responses.aggregate(
        answers=Count("pk"),
        done=Count("pk", filter=Q(status=Response.Status.DONE)),
        failed=Count("pk", filter=Q(status=Response.Status.FAILED)),
        pending=Count("pk", filter=Q(status__in=[Response.Status.PENDING, Response.Status.RUNNING])),
        prompt_tokens=Sum("prompt_tokens", filter=Q(status=Response.Status.DONE)),
        completion_tokens=Sum("completion_tokens", filter=Q(status=Response.Status.DONE)),
        mean_latency_ms=Avg("latency_ms", filter=Q(status=Response.Status.DONE)),
        mean_first_token_ms=Avg("first_token_ms", filter=Q(status=Response.Status.DONE)),
    )
    latencies = list(
        responses.filter(status=Response.Status.DONE, latency_ms__isnull=False)
        .order_by("-finished_at")
        .values_list("latency_ms", "completion_tokens")[:recent]
    )
    ms: list[int] = [m for m, _ in latencies]  # type: ignore[misc]  # latency_ms__isnull=False above
    tokens = sum(t or 0 for _, t in latencies)
    settled = totals["done"] + totals["failed"]
    return {
        **totals,
        "failure_rate": round(totals["failed"] / settled, 4) if settled else None,
        "p50_latency_ms": _percentile(ms, 0.5),
        "p95_latency_ms": _percentile(ms, 0.95),
        "tokens_per_s": round(tokens / (sum(ms) / 1000), 2) if ms and sum(ms) else None,
        "mean_latency_ms": round(totals["mean_latency_ms"])
        if totals["mean_latency_ms"] is not None
        else None,
        "mean_first_token_ms": round(totals["mean_first_token_ms"])
        if totals["mean_first_token_ms"] is not None
        else None,
    }
