"""The battle flow: start a battle (K models), send follow-ups, vote on the whole conversation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef

from annotation.errors import HasStatus
from annotation.models import Comparison, Judgment
from annotation.rankings import validate_ranking
from annotation.services import create_comparison, record_judgment
from inference.context import answer_fits
from inference.models import Prompt, PromptImage, Response
from inference.selectors import in_progress, pooled_answers_for
from inference.services import create_prompt, request_responses
from ranking.matchmaking import choose_matchup
from ranking.selectors import matchmaking_stats
from ranking.services import request_refit

from .battles import VOTES, battle_turns
from .guests import GUEST_UNKNOWN, GuestLimit, check_guest_vote  # noqa: F401 - GuestLimit is part of this service's errors
from .models import Battle, BattleAnswer, BattleTurn

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from inference.models import ModelEndpoint

    from .models import Arena

MAX_RATIONALE_CHARS = 5000
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


class BattleNotFound(HasStatus, LookupError):
    """No battle with this id is open to this user."""

    status_code = 404


class BattleNotReady(HasStatus, ValueError):
    """The answers are not all there (still generating, or one failed)."""

    status_code = 409


class TooManyOpenBattles(HasStatus, ValueError):
    """The voter already has as many battles generating as one person may."""

    status_code = 429
    retry_after = 10  # battles free up as their answers finish: seconds, usually


class BattleClosed(HasStatus, ValueError):
    """The battle was voted on (or has used its turns): it takes no more messages."""

    status_code = 409


TOO_LONG = (
    "This conversation has grown too long for one of the models in this battle; "
    "vote on it now, or start a new battle."
)


def draw_models(arena: Arena) -> list[ModelEndpoint]:
    """The arena's K enabled models, drawn by its matchmaking policy, in random screen order.

    The draw is ranking's matchmaking (the function OnlineRanker.next_matchup calls), fed with
    the live board's estimates for the adaptive policy."""
    k = arena.k
    entries = list(arena.entries.filter(endpoint__enabled=True).select_related("endpoint"))
    if len(entries) < k:
        raise ValueError(
            f"This arena needs at least {NUMBER_WORDS[k]} enabled models to start a battle; it has {len(entries)}."
        )
    by_name = {entry.endpoint.name: entry.endpoint for entry in entries}
    weights = {entry.endpoint.name: entry.weight for entry in entries}
    if arena.matchmaking != arena.Matchmaking.UNIFORM and sum(w > 0 for w in weights.values()) < k:
        raise ValueError(
            f"This arena needs at least {NUMBER_WORDS[k]} models with a weight above 0 to start a battle."
        )
    names = choose_matchup(
        list(by_name),
        k=k,
        policy=arena.matchmaking,
        weights=weights,
        stats=matchmaking_stats() if arena.matchmaking == arena.Matchmaking.ADAPTIVE else None,
    )
    return [by_name[name] for name in names]


def draw_pair(arena: Arena) -> list[ModelEndpoint]:
    """Kept for callers of the pairwise arena: the draw of a K=2 arena."""
    return draw_models(arena)


def start_battle(arena: Arena, voter: User, prompt_text: str | None) -> Battle:
    """Draw the arena's K models, randomise their places and queue every answer."""
    if not arena.is_open:
        raise ValueError("This arena is closed to new battles.")
    pair = draw_models(arena)
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
    # A prompt that a response pool already answered for every drawn model is shown at once.
    pooled = pooled_answers_for([{"role": "user", "content": text}], pair) if text else {}
    with transaction.atomic():
        if pooled:
            responses = [pooled[endpoint.pk] for endpoint in pair]
            prompt = responses[0].prompt
        else:
            prompt = create_prompt(prompt_text, user=voter)
            responses = request_responses(prompt, pair)
        comparison = create_comparison(prompt, responses, origin=Comparison.arena_origin(arena.slug))
        battle = Battle.objects.create(arena=arena, comparison=comparison, voter=voter)
        turn = BattleTurn.objects.create(battle=battle, index=0, message=prompt.last_user_text)
        BattleAnswer.objects.bulk_create(
            BattleAnswer(turn=turn, position=i, response=response) for i, response in enumerate(responses)
        )
        return battle


def send_follow_up(battle: Battle, voter: User, message: str | None, turn_ranking: Any = None) -> BattleTurn:
    """The voter's next message, answered by every contestant with its own history; returns the new turn.

    Refused with a sentence when the battle was voted on, has used the arena's turns, is still
    answering, or would grow past a model's context bound. With the arena's per-turn vote on, a
    ranking of the turn just answered may come along (kept on the turn, not rated)."""
    if battle.voter_id != voter.pk:
        raise BattleNotFound("No battle with this id is open to you.")
    arena = battle.arena
    text = (message or "").strip()
    if not text:
        raise ValueError("Type a follow-up first: it is empty.")
    if len(text) > settings.ARENA_MAX_PROMPT_CHARS:
        raise ValueError(
            f"The follow-up is {len(text)} characters long; the limit is {settings.ARENA_MAX_PROMPT_CHARS}."
        )
    if turn_ranking is not None and not arena.per_turn_vote:
        raise ValueError("This arena takes one vote on the whole conversation, not a vote per turn.")
    with transaction.atomic():
        battle = Battle.objects.select_for_update().select_related("arena", "comparison").get(pk=battle.pk)
        if Judgment.objects.filter(comparison=battle.comparison, annotator=voter).exists():
            raise BattleClosed("You have voted on this battle; start a new battle to keep talking.")
        turns = battle_turns(battle)
        if len(turns) >= arena.max_turns:
            raise BattleClosed(
                f"This arena allows {arena.max_turns} message{'s' if arena.max_turns != 1 else ''} per battle; "
                "vote on it now, or start a new battle."
            )
        last_turn, responses = turns[-1]
        _check_answered(responses, "send a follow-up")
        if turn_ranking is not None:
            if last_turn is None:
                raise BattleClosed(
                    "This battle was started before per-turn votes; vote on the whole conversation."
                )
            last_turn.ranking = validate_ranking(turn_ranking, len(responses))
            last_turn.save(update_fields=["ranking"])
        limits = {e.endpoint_id: e.max_context_chars for e in arena.entries.all()}
        conversations = []
        for response in responses:
            conversation = [
                *response.prompt.conversation,
                {"role": "assistant", "content": response.text},
                {"role": "user", "content": text},
            ]
            limit = limits.get(response.endpoint_id) or settings.ARENA_MAX_CONVERSATION_CHARS
            too_long = sum(len(t["content"]) for t in conversation) > limit
            if too_long or not answer_fits(response.endpoint, conversation):
                raise ValueError(TOO_LONG)  # blind: it does not say which model ran out of room
            conversations.append(conversation)
        turn = BattleTurn.objects.create(battle=battle, index=len(turns), message=text)
        opening = (
            battle.comparison.prompt
        )  # its category, language and hardness name the conversation's boards
        answers = []
        for position, (response, conversation) in enumerate(zip(responses, conversations)):
            prompt = Prompt.objects.create(
                conversation=conversation,
                category=opening.category,
                language=opening.language,
                hard=opening.hard,
                created_by=voter,
            )
            [answer] = request_responses(prompt, [response.endpoint])
            BattleAnswer.objects.create(turn=turn, position=position, response=answer)
            answers.append(answer)
        # The turn as a comparison that continues the previous one: the export follows the chain
        # from the voted (first) comparison to write the whole conversation.
        create_comparison(opening, answers, continues=_latest_comparison(battle))
    return turn


def _latest_comparison(battle: Battle) -> Comparison:
    comparison = battle.comparison
    while hasattr(comparison, "continuation"):
        comparison = comparison.continuation
    return comparison


def _check_answered(responses: Sequence[Response], action: str) -> None:
    """BattleNotReady with a sentence unless every answer of the turn is done."""
    if any(r.status == Response.Status.FAILED for r in responses):
        raise BattleNotReady(
            "A model failed to answer, so this battle cannot be voted on. Start a new battle."
        )
    if any(r.status != Response.Status.DONE for r in responses):
        every = "Both answers" if len(responses) == 2 else f"All {len(responses)} answers"
        raise BattleNotReady(f"{every} must finish before you {action}; please wait a moment.")


def get_battle(public_id: str | UUID, user: User) -> Battle:
    """The battle if it was shown to this user; otherwise BattleNotFound (no hint whether it exists)."""
    try:
        # The voter's guest row comes along, so the vote's guest check costs no query; and whether the
        # prompt has input images, so a text battle's answer reads none.
        images = PromptImage.objects.filter(prompt=OuterRef("comparison__prompt"))
        return (
            Battle.objects.select_related("comparison__prompt", "arena", "voter__guest")
            .annotate(has_prompt_images=Exists(images))
            .get(public_id=public_id, voter=user)
        )
    except (Battle.DoesNotExist, ValidationError):  # a malformed id is just another unknown one
        raise BattleNotFound("No battle with this id is open to you.") from None


def vote_ranking(
    k: int, choice: str | None = None, ranking: Any = None, none_acceptable: bool = False
) -> tuple[list[list[int]], bool]:
    """(ranking, none_acceptable) of a vote on K shown answers; ValueError with a sentence for a bad one.

    A pairwise battle takes a `choice` (a, b, tie, both_bad); any battle takes a `ranking` of tie
    groups of positions, best first ([[2], [0, 3], [1]]); "all bad" alone ranks them all tied."""
    if choice and ranking is not None:
        raise ValueError("Send either a choice or a ranking, not both.")
    if choice:
        if k != 2:
            raise ValueError(
                f"This battle shows {k} answers: send a ranking of all of them (e.g. [[0], [1, 2], [3]]), not a choice."
            )
        if choice not in VOTES:
            raise ValueError(f"Choose a vote: one of {', '.join(VOTES)} (got {choice!r}).")
        return VOTES[choice]["ranking"], VOTES[choice]["none_acceptable"]
    if ranking is not None:
        return validate_ranking(ranking, k), bool(none_acceptable)
    if none_acceptable:
        return [list(range(k))], True
    if k == 2:
        raise ValueError(f"Choose a vote: one of {', '.join(VOTES)}, or send a ranking.")
    raise ValueError(
        f"Rank the {k} answers first: every answer needs a place (ties allowed), or mark them all bad."
    )


def cast_vote(
    battle: Battle,
    voter: User,
    choice: str | None = None,
    rationale: str | None = "",
    *,
    ranking: Any = None,
    none_acceptable: bool = False,
) -> tuple[Judgment, bool]:
    """Record the voter's verdict on the whole battle; returns (judgment, created). Retrying the same vote is safe."""
    if battle.voter_id != voter.pk:
        raise BattleNotFound("No battle with this id is open to you.")
    ranking, none_acceptable = vote_ranking(battle.comparison.k, choice, ranking, none_acceptable)
    rationale = (rationale or "").strip()
    if len(rationale) > MAX_RATIONALE_CHARS:
        raise ValueError(
            f"The rationale is {len(rationale)} characters long; the limit is {MAX_RATIONALE_CHARS}."
        )
    check_guest_vote(voter, _voter_guest(battle))
    if battle.arena.max_turns <= 1:
        # One turn: no follow-up can come between reading the answers and the vote, so no lock and
        # no transaction (the judgment is one INSERT in autocommit; a retry finds it).
        return _record_vote(battle, voter, ranking, none_acceptable, rationale)
    with transaction.atomic():
        # One lock per battle, taken by the read of its answers: a vote and a follow-up never interleave.
        return _record_vote(battle, voter, ranking, none_acceptable, rationale, lock=True)


def _voter_guest(battle: Battle) -> Any:
    """The voter's GuestVoter row (None for a member) when get_battle read it along, else GUEST_UNKNOWN."""
    if not Battle.voter.field.is_cached(battle):
        return GUEST_UNKNOWN
    voter = battle.voter
    if not type(voter).guest.related.is_cached(voter):
        return GUEST_UNKNOWN
    return getattr(voter, "guest", None)


def _record_vote(
    battle: Battle,
    voter: User,
    ranking: list[list[int]],
    none_acceptable: bool,
    rationale: str,
    lock: bool = False,
) -> tuple[Judgment, bool]:
    turns = battle_turns(battle, lock=lock)
    _check_answered(turns[-1][1], "vote")  # earlier turns were all answered before the follow-up
    judgment, created = record_judgment(
        battle.comparison,
        ranking,
        annotator=voter,
        # Names are revealed only after this vote, unless an answer on any turn gave its model away.
        identities_hidden=not answers_reveal_identity([r for _, responses in turns for r in responses]),
        none_acceptable=none_acceptable,
        rationale=rationale,
    )
    if created:
        request_refit()
    # A voted battle takes no more turns: the answer's payload reuses what was read here.
    battle.turns_at_vote = turns  # type: ignore[attr-defined]  # read back by battle_payload
    return judgment, created


def answers_reveal_identity(responses: Sequence[Response]) -> bool:
    """True when an answer names any model of the battle (e.g. "I am Gemma, made by Google").

    Such a vote was not blind; it is kept, marked so, and left out of the ratings
    (Chatbot Arena drops these after the fact with one global word list; here each
    model carries its own)."""
    markers = set().union(*(r.endpoint.identity_markers() for r in responses))
    return any(marker in r.text.lower() for r in responses for marker in markers)
