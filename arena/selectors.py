"""What a voter may see of a battle. The one place that decides anonymity:
the HTML pages and the API both render this payload, so a name cannot leak
through one and not the other."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

from annotation.models import Judgment
from annotation.selectors import judged_rankings, rated_judgments
from inference import media
from inference.categories import CATEGORIES
from inference.languages import language_name
from inference.models import Response, ResponsePool
from inference.selectors import pool_answers, retrying
from ranking.leaderboard import METHODS as RATING_METHODS
from ranking.leaderboard import fit_leaderboard
from ranking.models import RatingSnapshot
from ranking.selectors import latest_snapshot, rated_categories

from .battles import battle_turns, vote_choice
from .demo import sample_pool_name
from .models import Arena, Battle
from .transparency import mark_rows, retired_rows

if TYPE_CHECKING:
    from django.contrib.auth.models import User

FAILED_MESSAGE = "This model failed to answer. This battle cannot be voted on; start a new battle."
RETRY_MESSAGE = "The worker writing this answer stopped; the answer is being written again."


_UNKNOWN = object()


def _side(position: int, response: Response, revealed: bool) -> dict[str, Any]:
    failed = response.status == Response.Status.FAILED
    retried = retrying(response)
    return {
        "position": chr(ord("A") + position),
        "status": response.status,
        "text": "" if failed else response.text,
        "message": FAILED_MESSAGE if failed else RETRY_MESSAGE if retried else "",
        "retrying": retried,
        # Revealed only once this voter has voted.
        "model": str(response.endpoint) if revealed else None,
        # An image or video answer: a private URL under a random name, alt text by letter only.
        "media": None if failed else media.tile(response, f"Answer {chr(ord('A') + position)}"),
    }


def battle_payload(battle: Battle, user: User, judgment: Any = _UNKNOWN) -> dict[str, Any]:
    """``judgment``: this user's judgment when the caller has it (the vote just stored), else read."""
    if judgment is _UNKNOWN:
        judgment = Judgment.objects.filter(comparison=battle.comparison, annotator=user).first()
    turns: list[dict[str, Any]] = [
        {
            "index": index,
            "message": turn.message if turn else battle.comparison.prompt.last_user_text,
            "sides": [_side(i, response, judgment is not None) for i, response in enumerate(responses)],
            "ranking": turn.ranking if turn else None,
        }
        # A vote just cast left the turns it read on the battle (a voted battle takes no more).
        for index, (turn, responses) in enumerate(
            getattr(battle, "turns_at_vote", None) or battle_turns(battle)
        )
    ]
    sides = turns[-1]["sides"]  # the turn being answered (or the last one); earlier turns are done
    statuses = {side["status"] for side in sides}
    failed = any(side["status"] == Response.Status.FAILED for turn in turns for side in turn["sides"])
    finished = statuses <= {Response.Status.DONE, Response.Status.FAILED}
    k = len(sides)
    arena = battle.arena
    return {
        "id": str(battle.public_id),
        "arena": arena.slug,
        "display_mode": arena.display_mode,
        "prompt": turns[0]["message"],
        # Input images of the prompt (image editing, vision prompts), shown beside the answers.
        "prompt_images": [
            media.tile(image, f"Input image {i + 1}")
            for i, image in enumerate(
                battle.comparison.prompt.images.all() if getattr(battle, "has_prompt_images", True) else ()
            )
        ],
        "k": k,
        "sides": sides,
        "turns": turns,
        "earlier_turns": turns[:-1],
        "last_message": turns[-1]["message"],
        # What the rank widget needs: one chip per shown position (letters only), ties allowed.
        "shown": [{"slot": i, "letter": side["position"]} for i, side in enumerate(sides)],
        "rank_spec": {"ties_allowed": True},
        "finished": finished,
        "failed": failed,
        "votable": statuses == {Response.Status.DONE} and not failed and judgment is None,
        "can_follow_up": judgment is None and not failed and len(turns) < arena.max_turns,
        "turns_left": max(arena.max_turns - len(turns), 0),
        "per_turn_vote": arena.per_turn_vote,
        "turn_choices": turn_choices(k) if arena.per_turn_vote else [],
        "vote": vote_choice(judgment) if judgment else None,
        "ranking": judgment.ranking if judgment else None,
        "ranking_text": ranking_text(judgment.ranking) if judgment else "",
        "none_acceptable": judgment.none_acceptable if judgment else False,
        "rationale": judgment.rationale if judgment else "",
        "created_at": battle.created_at,
    }


def turn_choices(k: int) -> list[dict[str, Any]]:
    """The optional per-turn vote, at any K: which answer was best this turn (the rest tie below it), or all
    the same. Each choice carries its tie-group ranking as JSON for the form."""
    choices = [
        {
            "label": f"{chr(ord('A') + i)} was {'better' if k == 2 else 'best'}",
            "ranking": [[i], [j for j in range(k) if j != i]],
        }
        for i in range(k)
    ]
    choices.append({"label": "Tie" if k == 2 else "All the same", "ranking": [list(range(k))]})
    return [{**choice, "ranking": json.dumps(choice["ranking"])} for choice in choices]


def ranking_text(ranking: list) -> str:
    """Tie groups of positions as the voter saw them: [[2], [0, 3], [1]] -> "C > A = D > B"."""
    return " > ".join(" = ".join(chr(ord("A") + p) for p in group) for group in ranking)


# Display names, in the board's order; the methods themselves are ranking.leaderboard.METHODS.
METHOD_NAMES = {
    "bt": "Bradley–Terry",
    "pl": "Plackett–Luce",
    "bayes": "Bayesian (Weng–Lin)",
    "elo": "Online Elo",
}
METHODS = {
    method: METHOD_NAMES.get(method, method)
    for method in sorted(
        RATING_METHODS, key=lambda m: list(METHOD_NAMES).index(m) if m in METHOD_NAMES else 99
    )
}


def parse_view(method: str | None, style_control: object, category: str | None = "") -> tuple[str, bool, str]:
    """The leaderboard view asked for, as (method, style control, category); ValueError with a sentence for a bad one."""
    method = method or "bt"
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of: {', '.join(METHODS)}.")
    style = str(style_control).lower() in ("1", "true", "yes", "on")
    if style and method != "bt":
        raise ValueError("Style control is available with the Bradley–Terry method (method=bt) only.")
    category = (category or "").strip()
    if (
        category
        and category not in CATEGORIES
        and category != HARD
        and not LANGUAGE_BOARD.fullmatch(category)
    ):
        raise ValueError(
            f"Unknown category {category!r}; choose one of: {', '.join(CATEGORIES)}, {HARD}, "
            "lang:<code> (e.g. lang:fr), or none for all."
        )
    return method, style, category


HARD = "hard"
LANGUAGE_BOARD = re.compile(r"lang:[a-z]{2,3}(-[a-z]{2,4})?")


def board_label(key: str) -> str:
    """What a board key reads as in the picker: a category, "Hard prompts", or a language."""
    if key == HARD:
        return "Hard prompts (long or complex)"
    if key.startswith("lang:"):
        return f"Language: {language_name(key[5:])}"
    return CATEGORIES.get(key, key)


INTERVALS = {  # bootstrap and laplace: see _interval_label
    "sandwich": "sandwich (robust analytic) intervals, the large-sample limit of the bootstrap",
    "posterior": "the Bayesian posterior (credible intervals under a N(0, 1)-logit prior)",
    "none": "no intervals",
}


def _full_refit_resamples(method: str) -> int:
    """The resamples a periodic full refit of this method takes (Elo takes fewer; see ranking.services)."""
    full = settings.RANKING_FULL_BOOTSTRAP
    return min(full, settings.RANKING_ELO_BOOTSTRAP) if method == "elo" else full


def _interval_label(snapshot: RatingSnapshot | None, method: str, style_control: bool, category: str) -> str:
    """What the intervals are, and, before a full refit's intervals, when that refit will run."""
    kind = _interval(snapshot)
    if kind not in ("bootstrap", "laplace"):
        return INTERVALS[kind]
    full = _full_refit_resamples(method)
    # A bootstrap or laplace kind means a snapshot (see _interval).
    if kind == "bootstrap" and snapshot.bootstrap >= full:  # type: ignore[union-attr]
        return f"{snapshot.bootstrap:,} bootstrap resamples (full refit), never narrower than the Laplace interval"  # type: ignore[union-attr]
    period: float = settings.CELERY_BEAT_SCHEDULE["ranking-full-refit"]["schedule"]  # type: ignore[assignment]
    last_full = (
        RatingSnapshot.objects.filter(
            method=method,
            style_control=style_control,
            category=category,
            bootstrap__gte=full,
        )
        .values_list("computed_at", flat=True)
        .first()
    )
    when = f"every {period / 60:g} minutes"
    if last_full is not None:
        when += f", next around {timezone.localtime(last_full + timedelta(seconds=period)):%H:%M}"
    now = (
        f"{snapshot.bootstrap} bootstrap resamples of a live refit"  # type: ignore[union-attr]
        if kind == "bootstrap"
        else "Laplace (analytic) intervals of a live refit"
    )
    return f"{now}; the full refit with {full:,} resamples runs {when}"


def _interval(snapshot: RatingSnapshot | None) -> str:
    """Which intervals the snapshot holds: bootstrap, laplace, sandwich, posterior or none."""
    if snapshot is None:
        return "none"
    return snapshot.params.get("interval") or ("bootstrap" if snapshot.bootstrap else "none")


def leaderboard(method: str = "bt", style_control: bool = False, category: str = "") -> dict:
    """The latest leaderboard of one view: rows best first (empty before any vote)."""
    snapshot = latest_snapshot(method, style_control, category)
    return {
        "method": method,
        "method_name": METHODS[method],
        "style_control": style_control,
        "category": category,
        "categories": {key: board_label(key) for key in rated_categories()},
        # For the sentence under the table: "math prompts", "hard prompts", "French prompts".
        "category_label": (
            "hard prompts"
            if category == HARD
            else f"{language_name(category[5:])} prompts"
            if category.startswith("lang:")
            else f"{category} prompts"
        ),
        # The view as a query string, for polling and image URLs.
        "query": urlencode({"method": method, "style_control": int(style_control), "category": category}),
        "snapshot_id": snapshot.pk if snapshot else None,
        "computed_at": snapshot.computed_at if snapshot else None,
        "judgment_count": snapshot.judgment_count if snapshot else 0,
        "bootstrap": snapshot.bootstrap if snapshot else 0,
        "interval": _interval(snapshot),
        "interval_label": _interval_label(snapshot, method, style_control, category),
        # Retired models leave the live rows for the retired tab; the rest say if they are provisional.
        "rows": mark_rows(snapshot.rows if snapshot else [], snapshot)[0],
        "retired": retired_rows(method),
        "provisional_votes": settings.ARENA_PROVISIONAL_VOTES,
        "style_coefficients": snapshot.style_coefficients if snapshot else None,
        "diagnostics": snapshot.diagnostics if snapshot else None,
    }


PERSONAL_BOOTSTRAP = 200


def personal_board(user: User) -> dict[str, Any]:
    """The voter's own counted votes fitted with the board's engine (Bradley–Terry, bootstrap
    intervals), beside the public rank and rating of each model; empty rows until they have
    ARENA_PERSONAL_BOARD_MIN_VOTES votes."""
    ids = list(rated_judgments().filter(annotator=user).values_list("id", flat=True))
    needed = max(settings.ARENA_PERSONAL_BOARD_MIN_VOTES - len(ids), 0)
    board: dict[str, Any] = {"votes": len(ids), "needed": needed, "rows": [], "bootstrap": PERSONAL_BOOTSTRAP}
    if needed or not ids:
        return board
    rankings = [judged.ranking for judged in judged_rankings(ids=ids)]
    result = fit_leaderboard(rankings, method="bt", bootstrap=PERSONAL_BOOTSTRAP, min_votes=1, seed=0)
    snapshot = latest_snapshot("bt")
    public = {
        row["model"]: (place, row) for place, row in enumerate(snapshot.rows if snapshot else [], start=1)
    }
    for place, row in enumerate(result.rows, start=1):
        public_place, public_row = public.get(row["model"], (None, None))
        board["rows"].append(
            {
                "place": place,
                "model": row["model"],
                "rating": row["rating"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
                "n": row["n"],
                "public_place": public_place,
                "public_rating": public_row["rating"] if public_row else None,
            }
        )
    return board


def sample_answers(arena: Arena) -> dict:
    """The arena's sample prompts for "Random prompt": those whose answers are ready first.

    {"prompts": texts to draw from (the ready ones, or all while none is), "ready", "total",
    "filling": whether a pool is still answering them on the worker}."""
    texts = list(arena.sample_prompts or [])
    pool = ResponsePool.objects.filter(name=sample_pool_name(arena)).first()
    if pool is None or not texts:
        return {"prompts": texts, "ready": 0, "total": len(texts), "filling": False}
    wanted = set(pool.endpoints.values_list("pk", flat=True))
    answered: dict[str, set[int]] = {}
    for conversation, endpoint_id in pool_answers(pool).values_list("prompt__conversation", "endpoint_id"):
        answered.setdefault(conversation[-1]["content"], set()).add(endpoint_id)
    ready = [text for text in texts if answered.get(text, set()) >= wanted]
    unsettled = pool_answers(pool, status=None).filter(status__in=["pending", "running"]).exists()
    return {"prompts": ready or texts, "ready": len(ready), "total": len(texts), "filling": unsettled}
