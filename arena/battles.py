"""What a battle is made of, read by both the writes (`arena.services`) and the reads (`arena.selectors`):
the four pairwise votes and the battle's turns. Neutral ground, so the read module never imports the write one."""

from typing import Any

from annotation.models import Judgment
from inference.models import Response

from .models import Battle, BattleAnswer, BattleTurn

# The four votes of a pairwise battle, as rankings over the shown positions.
VOTES: dict[str, dict[str, Any]] = {
    "a": {"ranking": [[0], [1]], "none_acceptable": False},
    "b": {"ranking": [[1], [0]], "none_acceptable": False},
    "tie": {"ranking": [[0, 1]], "none_acceptable": False},
    "both_bad": {"ranking": [[0, 1]], "none_acceptable": True},
}


def battle_turns(battle: Battle, lock: bool = False) -> list[tuple[BattleTurn | None, list[Response]]]:
    """[(turn or None, [response per position])], first turn first, in one query. A battle from before
    multi-turn has no turn rows: its comparison is its one turn. ``lock``: the same read also locks
    the battle (inside a transaction), so no follow-up comes in until it ends."""
    answers = BattleAnswer.objects.filter(turn__battle=battle).select_related(
        "turn", "response__endpoint", "response__prompt"
    )
    if lock:
        answers = answers.select_related("turn__battle").select_for_update(of=("turn__battle",))
    turns: dict[int, tuple[BattleTurn, list[Response]]] = {}
    for answer in answers.order_by("turn__index", "position"):
        turns.setdefault(answer.turn_id, (answer.turn, []))[1].append(answer.response)
    if turns:
        return list(turns.values())
    if lock:
        Battle.objects.select_for_update().filter(pk=battle.pk).values_list("pk").first()
    slots = battle.comparison.slots.select_related("response__endpoint", "response__prompt").order_by(
        "position"
    )
    return [(None, [slot.response for slot in slots])]


def vote_choice(judgment: Judgment) -> str | None:
    """The vote name a pairwise judgment corresponds to (the inverse of VOTES); None for a K-wise ranking."""
    if judgment.comparison.k != 2:
        return None
    for choice, vote in VOTES.items():
        if vote["ranking"] == judgment.ranking and vote["none_acceptable"] == judgment.none_acceptable:
            return choice
    return None
