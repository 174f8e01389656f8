"""Reads of the record of truth that other rooms rely on."""

from .models import Judgment


def judged_rankings(source=Judgment.Source.HUMAN, identities_hidden_only=True):
    """Yield (judgment_id, ranking of model names as tie groups, none_acceptable), oldest first.

    Only votes made while identities were hidden count toward ratings by default
    (the Chatbot Arena rule: a voter who knew the names is not blind)."""
    judgments = Judgment.objects.filter(source=source).order_by("created_at", "id")
    if identities_hidden_only:
        judgments = judgments.filter(identities_hidden=True)
    judgments = judgments.prefetch_related("comparison__slots__response__endpoint")
    for judgment in judgments.iterator(chunk_size=2000):
        names = {slot.position: slot.response.endpoint.name for slot in judgment.comparison.slots.all()}
        yield judgment.pk, [[names[p] for p in group] for group in judgment.ranking], judgment.none_acceptable
