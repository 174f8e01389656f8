"""Reads of the record of truth that other rooms rely on."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from inference.models import Response

from . import roles
from .models import CampaignItem, Judgment


class JudgedRanking(NamedTuple):
    judgment_id: int
    ranking: tuple  # tie groups (tuples) of model names, best first; identical votes share one tuple
    category: str  # the prompt's category ("" when unknown)
    models: tuple  # model name per shown position
    response_ids: tuple  # response id per shown position
    language: str = ""  # the prompt's detected language ("" when unknown)
    hard: bool = False  # a hard prompt (long, or complex)


# "Campaign votes are not rated": campaign items are often imported answers, judged under a campaign's own
# rubric (and undone often). The rule's one home: the two functions below, for a queryset and for one row.
NOT_A_CAMPAIGN_VOTE = Q(comparison__campaign_items__isnull=True)


def is_campaign_vote(judgment: Judgment) -> bool:
    """True when the judgment is on a campaign item: the leaderboard never rates it."""
    return CampaignItem.objects.filter(comparison_id=judgment.comparison_id).exists()


def rated_judgments(
    source: str = Judgment.Source.HUMAN, identities_hidden_only: bool = True
) -> QuerySet[Judgment]:
    """The judgments the model leaderboard rates: blind ones, outside campaigns
    (campaign items are often imported answers, judged under a campaign's own rubric), less the
    voters an admin excluded (their votes are kept) and, with RANKING_EXCLUDE_GUESTS, guests."""
    judgments = Judgment.objects.filter(NOT_A_CAMPAIGN_VOTE, source=source)
    left_out = [roles.BOARD_EXCLUDED, *([roles.GUEST] if settings.RANKING_EXCLUDE_GUESTS else [])]
    judgments = judgments.exclude(annotator__groups__name__in=left_out)
    return judgments.filter(identities_hidden=True) if identities_hidden_only else judgments


def judged_rankings(
    source: str = Judgment.Source.HUMAN,
    identities_hidden_only: bool = True,
    after_id: int | None = None,
    ids: Iterable[int] | None = None,
) -> Iterator[JudgedRanking]:
    """Yield a JudgedRanking per rated judgment, oldest first (only ids above after_id, or only
    those in ids).

    Only votes made while identities were hidden count toward ratings by default
    (the Chatbot Arena rule: a voter who knew the names is not blind). One streamed query
    joins judgments to slots, responses and endpoints and reads plain columns (no model
    instances, no texts), so a full read of a million votes takes seconds: the leaderboard's
    periodic full refit reads them all."""
    judgments = rated_judgments(source, identities_hidden_only)
    if after_id is not None:
        judgments = judgments.filter(id__gt=after_id)
    if ids is not None:
        judgments = judgments.filter(id__in=list(ids))
    rows = (
        judgments.annotate(ranking_text=Cast("ranking", TextField()))
        .order_by("id", "comparison__slots__position")
        .values_list(
            "id",
            "ranking_text",
            "comparison__prompt__category",
            "comparison__slots__position",
            "comparison__slots__response_id",
            "comparison__slots__response__endpoint__name",
            "comparison__prompt__language",
            "comparison__prompt__hard",
        )
    )
    shared: dict[tuple, tuple] = {}  # identical (names, positions) and (ranking, names) share one tuple
    current: Any = None
    # A full read streams through a server-side cursor; a few ids are cheaper fetched at once.
    for judgment_id, ranking_text, category, position, response_id, name, language, hard in (
        rows if ids is not None else rows.iterator(chunk_size=5000)
    ):
        if current is None or judgment_id != current[0]:
            if current is not None and (judged := _judged(current, shared)) is not None:
                yield judged
            current = (judgment_id, ranking_text, category or "", [], [], [], language or "", bool(hard))
        current[3].append(position)
        current[4].append(name)
        current[5].append(response_id)
    if current is not None and (judged := _judged(current, shared)) is not None:
        yield judged


def _judged(row: tuple[Any, ...], shared: dict[Any, Any]) -> JudgedRanking | None:
    """The JudgedRanking of one judgment, or None when its ranking does not name each shown
    position exactly once (a row written around the services): it rates nothing."""
    judgment_id, ranking_text, category, positions, names, response_ids, language, hard = row
    names = tuple(names)
    names = shared.setdefault(names, names)
    key = (ranking_text, names, tuple(positions))
    ranking = shared.get(key, False)
    if ranking is False:
        ranking = shared[key] = _named_ranking(json.loads(ranking_text), dict(zip(positions, names)))
    return (
        None
        if ranking is None
        else JudgedRanking(judgment_id, ranking, category, names, tuple(response_ids), language, hard)
    )


def _named_ranking(ranking: Any, by_position: Mapping[int, str]) -> tuple[tuple[str, ...], ...] | None:
    groups = ranking if isinstance(ranking, list) and all(isinstance(g, list) for g in ranking) else None
    named = [p for g in groups or () for p in g]
    if (
        not groups
        or sorted(named, key=repr) != sorted(by_position, key=repr)
        or any(type(p) is not int for p in named)
    ):
        return None
    return tuple(tuple(by_position[p] for p in group) for group in groups)


def response_texts(response_ids: Iterable[int]) -> dict[int, tuple[str, bool]]:
    """{response id: (text, final)} for the given responses; final once the answer is done (it no
    longer grows)."""
    rows = Response.objects.filter(id__in=list(response_ids)).values_list("id", "text", "status")
    return {
        rid: (text, status == Response.Status.DONE) for rid, text, status in rows.iterator(chunk_size=2000)
    }
