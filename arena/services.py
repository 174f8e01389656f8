"""The battle flow: start a battle, vote on it."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import ComparisonSlot
from annotation.services import create_comparison, record_judgment
from inference.models import Response
from inference.selectors import in_progress, pooled_answers_for
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


class BattleNotFound(LookupError):
    """No battle with this id is open to this user."""


class BattleNotReady(ValueError):
    """The answers are not all there (still generating, or one failed)."""


class TooManyOpenBattles(ValueError):
    """The voter already has as many battles generating as one person may."""


def draw_pair(arena):
    """Two enabled models of the arena, drawn by its matchmaking policy, in random side order."""
    entries = list(arena.entries.filter(endpoint__enabled=True).select_related("endpoint"))
    if len(entries) < 2:
        raise ValueError("This arena needs at least two enabled models to start a battle.")
    by_name = {entry.endpoint.name: entry.endpoint for entry in entries}
    weights = {entry.endpoint.name: entry.weight for entry in entries}
    if arena.matchmaking == arena.Matchmaking.WEIGHTED and sum(w > 0 for w in weights.values()) < 2:
        raise ValueError("This arena needs at least two models with a weight above 0 to start a battle.")
    names = choose_matchup(
        list(by_name),
        k=2,
        policy=arena.matchmaking,
        weights=weights,
        stats=matchmaking_stats() if arena.matchmaking == arena.Matchmaking.ADAPTIVE else None,
    )
    return [by_name[name] for name in names]


def start_battle(arena, voter, prompt_text):
    """Draw two models, randomise their sides and queue both answers."""
    if not arena.is_open:
        raise ValueError("This arena is closed to new battles.")
    pair = draw_pair(arena)
    text = (prompt_text or "").strip()
    # One person (or script) cannot flood the workers: a few battles generating at a time.
    # A battle stranded by a dead worker does not count (the sweeper queues it again).
    limit = settings.ARENA_MAX_OPEN_BATTLES
    generating = (
        Battle.objects.filter(in_progress("comparison__slots__response__"), voter=voter).distinct().count()
    )
    if generating >= limit:
        raise TooManyOpenBattles(
            f"You already have {generating} battles still being answered; wait for them to finish (limit {limit})."
        )
    # A prompt that a response pool already answered for both models is shown at once.
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
    """The battle if it was shown to this user, otherwise BattleNotFound (no hint whether it
    exists). One query reads the battle with its prompt, arena and slots' answers and models
    (``battle.shown_slots``, in position order): the vote and the page need nothing more."""
    try:
        slots = list(
            ComparisonSlot.objects.select_related("response__endpoint", "comparison__prompt", "comparison__battle__arena")
            .filter(comparison__battle__public_id=public_id, comparison__battle__voter=user)
            .order_by("position")
        )
    except ValidationError:  # a malformed id is just another unknown one
        slots = []
    if not slots:
        raise BattleNotFound("No battle with this id is open to you.")
    battle = slots[0].comparison.battle
    battle.comparison = slots[0].comparison
    battle.shown_slots = slots
    return battle


def cast_vote(battle, voter, choice, rationale=""):
    """Record the voter's verdict; returns (judgment, created). Retrying the same vote is safe."""
    if battle.voter_id != voter.pk:
        raise BattleNotFound("No battle with this id is open to you.")
    if choice not in VOTES:
        raise ValueError(f"Choose a vote: one of {', '.join(VOTES)} (got {choice!r}).")
    rationale = (rationale or "").strip()
    if len(rationale) > MAX_RATIONALE_CHARS:
        raise ValueError(f"The rationale is {len(rationale)} characters long; the limit is {MAX_RATIONALE_CHARS}.")
    responses = [slot.response for slot in shown_slots(battle)]
    statuses = {r.status for r in responses}
    if Response.Status.FAILED in statuses:
        raise BattleNotReady("A model failed to answer, so this battle cannot be voted on. Start a new battle.")
    if statuses != {Response.Status.DONE}:
        raise BattleNotReady("Both answers must finish before you vote; please wait a moment.")
    # One INSERT (autocommit): the rank update is queued once it is stored.
    judgment, created = record_judgment(
        battle.comparison,
        VOTES[choice]["ranking"],
        annotator=voter,
        # Names are revealed only after this vote, unless an answer gave its model away.
        identities_hidden=not answers_reveal_identity(responses),
        none_acceptable=VOTES[choice]["none_acceptable"],
        rationale=rationale,
    )
    if created:
        request_refit()
    return judgment, created


def shown_slots(battle):
    """The battle's slots in position order, with answers and models (loaded by get_battle)."""
    slots = getattr(battle, "shown_slots", None)
    if slots is None:
        slots = battle.shown_slots = list(
            battle.comparison.slots.select_related("response__endpoint").order_by("position"))
    return slots


def answers_reveal_identity(responses):
    """True when an answer names any model of the battle (e.g. "I am Gemma, made by Google").

    Such a vote was not blind; it is kept, marked so, and left out of the ratings
    (Chatbot Arena drops these after the fact with one global word list; here each
    model carries its own)."""
    markers = set().union(*(r.endpoint.identity_markers() for r in responses))
    return any(marker in r.text.lower() for r in responses for marker in markers)


def vote_choice(judgment):
    """The vote name a judgment corresponds to (the inverse of VOTES)."""
    for choice, vote in VOTES.items():
        if vote["ranking"] == judgment.ranking and vote["none_acceptable"] == judgment.none_acceptable:
            return choice
    return None
