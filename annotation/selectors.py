"""Reads of the record of truth that other rooms rely on."""

from typing import NamedTuple

from .models import Judgment


class JudgedRanking(NamedTuple):
    judgment_id: int
    ranking: list  # tie groups of model names, best first
    none_acceptable: bool
    texts: dict  # model name -> the answer it gave in this comparison
    category: str  # the prompt's category ("" when unknown)


def rated_judgments(source=Judgment.Source.HUMAN, identities_hidden_only=True):
    """The judgments the model leaderboard rates: blind ones, outside campaigns
    (campaign items are often imported answers, judged under a campaign's own rubric)."""
    judgments = Judgment.objects.filter(source=source, comparison__campaign_items__isnull=True)
    return judgments.filter(identities_hidden=True) if identities_hidden_only else judgments


def judged_rankings(source=Judgment.Source.HUMAN, identities_hidden_only=True, after_id=None):
    """Yield a JudgedRanking per judgment, oldest first (only those with a larger id than after_id).

    Only votes made while identities were hidden count toward ratings by default
    (the Chatbot Arena rule: a voter who knew the names is not blind)."""
    judgments = rated_judgments(source, identities_hidden_only).order_by("id")
    if after_id is not None:
        judgments = judgments.filter(id__gt=after_id)
    judgments = judgments.select_related("comparison__prompt").prefetch_related("comparison__slots__response__endpoint")
    for judgment in judgments.iterator(chunk_size=2000):
        slots = {slot.position: slot.response for slot in judgment.comparison.slots.all()}
        names = {position: response.endpoint.name for position, response in slots.items()}
        yield JudgedRanking(
            judgment.pk,
            [[names[p] for p in group] for group in judgment.ranking],
            judgment.none_acceptable,
            {names[p]: response.text for p, response in slots.items()},
            judgment.comparison.prompt.category,
        )
