"""The battle flow: start a battle, vote on it."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.services import create_comparison, record_judgment, validate_ranking
from inference.models import Response
from inference.selectors import pooled_answers_for
from inference.services import create_prompt, request_responses
from ranking.matchmaking import choose_matchup
from ranking.selectors import matchmaking_stats
from ranking.services import request_refit

from .models import Battle

# The four votes of a pairwise battle, as rankings over the shown positions.
VOTES = {
    "a": {"ranking": [[0], [1]], "none_acceptable": False},
    "b": {"ranking": [[1], [0]], "none_acceptable": False},
    "tie": {"ranking": [[0, 1]], "none_acceptable": False},
    "both_bad": {"ranking": [[0, 1]], "none_acceptable": True},
}
MAX_RATIONALE_CHARS = 5000
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


class BattleNotFound(LookupError):
    """No battle with this id is open to this user."""


class BattleNotReady(ValueError):
    """The answers are not all there (still generating, or one failed)."""


class TooManyOpenBattles(ValueError):
    """The voter already has as many battles generating as one person may."""


def draw_models(arena):
    """The arena's K enabled models, drawn by its matchmaking policy, in random screen order.

    The draw is ranking's matchmaking (the function OnlineRanker.next_matchup calls), fed with
    the live board's estimates for the adaptive policy."""
    k = arena.k
    entries = list(arena.entries.filter(endpoint__enabled=True).select_related("endpoint"))
    if len(entries) < k:
        raise ValueError(f"This arena needs at least {NUMBER_WORDS[k]} enabled models to start a battle; it has {len(entries)}.")
    by_name = {entry.endpoint.name: entry.endpoint for entry in entries}
    weights = {entry.endpoint.name: entry.weight for entry in entries}
    if arena.matchmaking != arena.Matchmaking.UNIFORM and sum(w > 0 for w in weights.values()) < k:
        raise ValueError(f"This arena needs at least {NUMBER_WORDS[k]} models with a weight above 0 to start a battle.")
    names = choose_matchup(
        list(by_name),
        k=k,
        policy=arena.matchmaking,
        weights=weights,
        stats=matchmaking_stats() if arena.matchmaking == arena.Matchmaking.ADAPTIVE else None,
    )
    return [by_name[name] for name in names]


def draw_pair(arena):
    """Kept for callers of the pairwise arena: the draw of a K=2 arena."""
    return draw_models(arena)


def start_battle(arena, voter, prompt_text):
    """Draw the arena's K models, randomise their places and queue every answer."""
    if not arena.is_open:
        raise ValueError("This arena is closed to new battles.")
    pair = draw_models(arena)
    text = (prompt_text or "").strip()
    # One person (or script) cannot flood the workers: a few battles generating at a time.
    limit = settings.ARENA_MAX_OPEN_BATTLES
    generating = (
        Battle.objects.filter(
            voter=voter,
            comparison__slots__response__status__in=[Response.Status.PENDING, Response.Status.RUNNING],
        )
        .distinct()
        .count()
    )
    if generating >= limit:
        raise TooManyOpenBattles(
            f"You already have {generating} battles still being answered; wait for them to finish (limit {limit})."
        )
    # A prompt that a response pool already answered for every drawn model is shown at once.
    pooled = pooled_answers_for([{"role": "user", "content": text}], pair) if text else {}
    with transaction.atomic():
        if pooled:
            responses = [pooled[endpoint.pk] for endpoint in pair]
            prompt = responses[0].prompt
        else:
            prompt = create_prompt(prompt_text, user=voter)
            responses = request_responses(prompt, pair)
        comparison = create_comparison(prompt, responses)
        return Battle.objects.create(arena=arena, comparison=comparison, voter=voter)


def get_battle(public_id, user):
    """The battle if it was shown to this user; otherwise BattleNotFound (no hint whether it exists)."""
    try:
        return Battle.objects.select_related("comparison", "arena").get(public_id=public_id, voter=user)
    except (Battle.DoesNotExist, ValidationError):  # a malformed id is just another unknown one
        raise BattleNotFound("No battle with this id is open to you.") from None


def vote_ranking(k, choice=None, ranking=None, none_acceptable=False):
    """(ranking, none_acceptable) of a vote on K shown answers; ValueError with a sentence for a bad one.

    A pairwise battle takes a `choice` (a, b, tie, both_bad); any battle takes a `ranking` of tie
    groups of positions, best first ([[2], [0, 3], [1]]); "all bad" alone ranks them all tied."""
    if choice and ranking is not None:
        raise ValueError("Send either a choice or a ranking, not both.")
    if choice:
        if k != 2:
            raise ValueError(f"This battle shows {k} answers: send a ranking of all of them (e.g. [[0], [1, 2], [3]]), not a choice.")
        if choice not in VOTES:
            raise ValueError(f"Choose a vote: one of {', '.join(VOTES)} (got {choice!r}).")
        return VOTES[choice]["ranking"], VOTES[choice]["none_acceptable"]
    if ranking is not None:
        return validate_ranking(ranking, k), bool(none_acceptable)
    if none_acceptable:
        return [list(range(k))], True
    if k == 2:
        raise ValueError(f"Choose a vote: one of {', '.join(VOTES)}, or send a ranking.")
    raise ValueError(f"Rank the {k} answers first: every answer needs a place (ties allowed), or mark them all bad.")


def cast_vote(battle, voter, choice=None, rationale="", *, ranking=None, none_acceptable=False):
    """Record the voter's verdict on the whole battle; returns (judgment, created). Retrying the same vote is safe."""
    if battle.voter_id != voter.pk:
        raise BattleNotFound("No battle with this id is open to you.")
    ranking, none_acceptable = vote_ranking(battle.comparison.k, choice, ranking, none_acceptable)
    rationale = (rationale or "").strip()
    if len(rationale) > MAX_RATIONALE_CHARS:
        raise ValueError(f"The rationale is {len(rationale)} characters long; the limit is {MAX_RATIONALE_CHARS}.")
    responses = list(Response.objects.filter(slots__comparison=battle.comparison).select_related("endpoint"))
    statuses = {r.status for r in responses}
    if Response.Status.FAILED in statuses:
        raise BattleNotReady("A model failed to answer, so this battle cannot be voted on. Start a new battle.")
    if statuses != {Response.Status.DONE}:
        every = "Both answers" if len(responses) == 2 else f"All {len(responses)} answers"
        raise BattleNotReady(f"{every} must finish before you vote; please wait a moment.")
    with transaction.atomic():
        judgment, created = record_judgment(
            battle.comparison,
            ranking,
            annotator=voter,
            # Names are revealed only after this vote, unless an answer gave its model away.
            identities_hidden=not answers_reveal_identity(responses),
            none_acceptable=none_acceptable,
            rationale=rationale,
        )
        if created:
            request_refit()
    return judgment, created


def answers_reveal_identity(responses):
    """True when an answer names any model of the battle (e.g. "I am Gemma, made by Google").

    Such a vote was not blind; it is kept, marked so, and left out of the ratings
    (Chatbot Arena drops these after the fact with one global word list; here each
    model carries its own)."""
    markers = set().union(*(r.endpoint.identity_markers() for r in responses))
    return any(marker in r.text.lower() for r in responses for marker in markers)


def vote_choice(judgment):
    """The vote name a pairwise judgment corresponds to (the inverse of VOTES); None for a K-wise ranking."""
    if judgment.comparison.k != 2:
        return None
    for choice, vote in VOTES.items():
        if vote["ranking"] == judgment.ranking and vote["none_acceptable"] == judgment.none_acceptable:
            return choice
    return None
