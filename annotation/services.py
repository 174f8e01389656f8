"""Writes for the record of truth: comparisons and judgments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from .errors import HasStatus
from .models import Comparison, ComparisonSlot, Judgment
from .rankings import validate_ranking

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from inference.models import ModelEndpoint, Prompt, Response


class JudgmentConflict(HasStatus, ValueError):
    """This author already judged the comparison, differently."""

    status_code = 409


@transaction.atomic
def create_comparison(
    prompt: Prompt, responses: Iterable[Response], continues: Comparison | None = None, origin: str = ""
) -> Comparison:
    """A comparison of the given responses, in the given order (position 0 is shown first).

    ``origin`` says where it was made (Comparison.origin; a later turn keeps its conversation's).

    With ``continues`` (the previous turn's comparison), it is the next turn of that conversation:
    each response answers its own history, which must extend the history of the previous turn's
    response at the same position by that response, then a follow-up."""
    responses = list(responses)
    if len(responses) < 2:
        raise ValueError("A comparison needs at least two responses.")
    if len({r.pk for r in responses}) != len(responses):
        raise ValueError("A comparison cannot show the same response twice.")
    if continues is None and any(r.prompt_id != prompt.pk for r in responses):
        raise ValueError("Every response in a comparison must answer the same prompt.")
    if continues is not None:
        _check_continuation(continues, prompt, responses)
    if continues is not None and not origin:
        origin = continues.origin
    comparison = Comparison.objects.create(
        prompt=prompt, k=len(responses), continues=continues, origin=origin
    )
    ComparisonSlot.objects.bulk_create(
        ComparisonSlot(comparison=comparison, position=i, response=r) for i, r in enumerate(responses)
    )
    return comparison


def _check_continuation(previous: Comparison, prompt: Prompt, responses: Sequence[Response]) -> None:
    if previous.prompt_id != prompt.pk or previous.k != len(responses):
        raise ValueError(
            "A later turn keeps the conversation's opening prompt and the same number of responses."
        )
    before = {s.position: s.response for s in previous.slots.select_related("response__prompt")}
    for position, response in enumerate(responses):
        earlier = before[position]
        history = [*earlier.prompt.conversation, {"role": "assistant", "content": earlier.text}]
        conversation = response.prompt.conversation
        if conversation[: len(history)] != history or len(conversation) <= len(history):
            raise ValueError(
                f"The response at position {position} does not continue that position's conversation "
                "(its history must be the earlier answer and a follow-up)."
            )


# Fields that make two submissions "the same vote" for idempotent retries.
_VOTE_FIELDS = ("ranking", "none_acceptable", "strength", "rationale")


def record_judgment(
    comparison: Comparison,
    ranking: Any,
    *,
    annotator: User | None = None,
    judge: ModelEndpoint | None = None,
    identities_hidden: bool,
    **fields: Any,
) -> tuple[Judgment, bool]:
    """Store one judgment; returns (judgment, created).

    A retried identical submission returns the stored judgment (created=False);
    a different second vote by the same author raises JudgmentConflict."""
    if (annotator is None) == (judge is None):
        raise ValueError("A judgment has exactly one author: an annotator or an AI judge.")
    ranking = validate_ranking(ranking, comparison.k)
    source = Judgment.Source.HUMAN if annotator is not None else Judgment.Source.AI
    author = (
        {"annotator": annotator}
        if annotator is not None
        else {
            "judge": judge,
            "judge_prompt_version": fields.get("judge_prompt_version", ""),
        }
    )
    candidate = Judgment(
        comparison=comparison,
        ranking=ranking,
        source=source,
        identities_hidden=identities_hidden,
        annotator=annotator,
        judge=judge,
        **fields,
    )
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():  # a savepoint, so a duplicate leaves the caller's transaction usable
                candidate.save()
        else:
            candidate.save()  # one INSERT in autocommit: no BEGIN/COMMIT round trips on the vote path
        return candidate, True
    except IntegrityError:
        existing = Judgment.objects.filter(comparison=comparison, **author).first()
        if existing is None:
            raise
    if all(getattr(existing, f) == getattr(candidate, f) for f in _VOTE_FIELDS):
        return existing, False
    raise JudgmentConflict("You have already voted on this comparison, and votes cannot be changed.")
