"""What a battle is made of, read by both the writes (`arena.services`) and the reads (`arena.selectors`):
the four pairwise votes and the battle's turns. Neutral ground, so the read module never imports the write one."""

from annotation.models import Judgment
from inference.models import Response

from .models import Battle, BattleTurn

# The four votes of a pairwise battle, as rankings over the shown positions.
VOTES = {
    "a": {"ranking": [[0], [1]], "none_acceptable": False},
    "b": {"ranking": [[1], [0]], "none_acceptable": False},
    "tie": {"ranking": [[0, 1]], "none_acceptable": False},
    "both_bad": {"ranking": [[0, 1]], "none_acceptable": True},
}


def battle_turns(battle: Battle) -> list[tuple[BattleTurn | None, list[Response]]]:
    """[(turn or None, [response per position])], first turn first. A battle from before
    multi-turn has no turn rows: its comparison is its one turn."""
    turns = list(battle.turns.prefetch_related("answers__response__endpoint", "answers__response__prompt"))
    if not turns:
        slots = battle.comparison.slots.select_related("response__endpoint", "response__prompt").order_by(
            "position"
        )
        return [(None, [slot.response for slot in slots])]
    return [
        (turn, [a.response for a in sorted(turn.answers.all(), key=lambda a: a.position)]) for turn in turns
    ]


def vote_choice(judgment: Judgment) -> str | None:
    """The vote name a pairwise judgment corresponds to (the inverse of VOTES); None for a K-wise ranking."""
    if judgment.comparison.k != 2:
        return None
    for choice, vote in VOTES.items():
        if vote["ranking"] == judgment.ranking and vote["none_acceptable"] == judgment.none_acceptable:
            return choice
    return None
