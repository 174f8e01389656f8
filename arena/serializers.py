from rest_framework import serializers

from .services import MAX_RATIONALE_CHARS, VOTES


class StartBattleSerializer(serializers.Serializer):
    prompt = serializers.CharField(trim_whitespace=True, allow_blank=False)
    # Not trimmed: " demo" is refused as the schema's slug pattern says, not quietly read as "demo".
    arena = serializers.SlugField(
        required=False, trim_whitespace=False, help_text="Arena slug; the first open arena if omitted."
    )


class VoteSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(
        choices=list(VOTES),
        required=False,
        help_text="Pairwise battles: a, b, tie or both_bad. Or send a ranking.",
    )
    ranking = serializers.JSONField(
        required=False,
        help_text="Tie groups of shown positions (0 = A), best first, every position once: "
        "[[2], [0, 3], [1]] is C, then A and D tied, then B. Required for K-wise battles.",
    )
    none_acceptable = serializers.BooleanField(
        required=False, default=False, help_text="Every answer is bad (alone: all tied at the bottom)."
    )
    rationale = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_RATIONALE_CHARS
    )


class MediaSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["image", "video"])
    url = serializers.CharField(
        help_text="Private URL under a random name; only you (and admins) may open it."
    )
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    format = serializers.CharField()
    alt = serializers.CharField(help_text="Neutral alt text (a letter, never the model).")


class SideSerializer(serializers.Serializer):
    position = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "running", "done", "failed"])
    text = serializers.CharField()
    message = serializers.CharField()
    retrying = serializers.BooleanField(
        help_text="The worker writing this answer stopped; it is being written again."
    )
    model = serializers.CharField(allow_null=True, help_text="Null until you have voted.")
    media = MediaSerializer(allow_null=True, help_text="An image or video answer; null for text.")


class TurnSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = serializers.CharField(help_text="What the voter sent on this turn.")
    sides = SideSerializer(many=True)
    ranking = serializers.JSONField(
        allow_null=True, help_text="Your per-turn vote, where the arena takes one."
    )


class FollowUpSerializer(serializers.Serializer):
    message = serializers.CharField(trim_whitespace=True, allow_blank=False)
    turn_ranking = serializers.JSONField(
        required=False,
        help_text="Arenas with per-turn votes: your ranking of the turn just answered (tie groups).",
    )


class BattleSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    arena = serializers.SlugField()
    display_mode = serializers.CharField(
        help_text="How the arena shows answers: plain, markdown or auto (per answer)."
    )
    prompt = serializers.CharField()
    k = serializers.IntegerField(help_text="Answers shown (positions A, B, ...).")
    prompt_images = MediaSerializer(many=True, help_text="The prompt's input images (image editing).")
    sides = SideSerializer(many=True, help_text="The latest turn's answers.")
    turns = TurnSerializer(many=True, help_text="Every turn, first first; the vote covers them all.")
    can_follow_up = serializers.BooleanField(
        help_text="You may send a follow-up (before your vote, within the turns left)."
    )
    turns_left = serializers.IntegerField()
    per_turn_vote = serializers.BooleanField()
    finished = serializers.BooleanField()
    failed = serializers.BooleanField()
    votable = serializers.BooleanField()
    vote = serializers.CharField(allow_null=True, help_text="Pairwise battles: your choice once voted.")
    ranking = serializers.JSONField(
        allow_null=True, help_text="Your ranking (tie groups of positions) once voted."
    )
    ranking_text = serializers.CharField(help_text='Your ranking in letters, e.g. "C > A = D > B".')
    none_acceptable = serializers.BooleanField()
    rationale = serializers.CharField()
    created_at = serializers.DateTimeField()


class LeaderboardRowSerializer(serializers.Serializer):
    model = serializers.CharField()
    rating = serializers.FloatField()
    ci_low = serializers.FloatField(
        help_text="Lower end of the 95% interval (its kind: the board's `interval`)."
    )
    ci_high = serializers.FloatField()
    rank_ub = serializers.IntegerField(help_text="1 + models whose lower bound is above this upper bound.")
    n = serializers.IntegerField(help_text="Judgments involving this model.")
    wins = serializers.IntegerField()
    ties = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True)
    preliminary = serializers.BooleanField(help_text="Fewer votes than the threshold.")


class LeaderboardQuerySerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=["bt", "pl", "bayes", "elo"], default="bt")
    style_control = serializers.BooleanField(default=False)
    category = serializers.CharField(
        default="",
        allow_blank=True,
        help_text="A board: a prompt category, hard (hard prompts), lang:<code> (a language, e.g. lang:fr); empty = all.",
    )


class LeaderboardSerializer(serializers.Serializer):
    method = serializers.CharField()
    style_control = serializers.BooleanField()
    category = serializers.CharField()
    categories = serializers.DictField(
        child=serializers.CharField(), help_text="Categories with a board of their own."
    )
    computed_at = serializers.DateTimeField(allow_null=True)
    judgment_count = serializers.IntegerField()
    bootstrap = serializers.IntegerField()
    interval = serializers.ChoiceField(
        choices=["bootstrap", "laplace", "sandwich", "posterior", "none"],
        help_text="The intervals' kind: bootstrap (`bootstrap` resamples, the periodic full refit); laplace "
        "(analytic, a live refit after votes); sandwich (style control on large data); posterior (Bayesian).",
    )
    rows = LeaderboardRowSerializer(many=True)
    style_coefficients = serializers.DictField(child=serializers.FloatField(), allow_null=True)
    diagnostics = serializers.JSONField(
        allow_null=True, help_text="Win-rate and battle matrices, cycles, flip votes."
    )


_CREATED_AT = serializers.DateTimeField()


def _text(value):
    return None if value is None else str(value)


def _media_data(tile):
    if tile is None:
        return None
    return {
        "kind": _text(tile["kind"]),
        "url": _text(tile["url"]),
        "width": None if tile["width"] is None else int(tile["width"]),
        "height": None if tile["height"] is None else int(tile["height"]),
        "format": _text(tile["format"]),
        "alt": _text(tile["alt"]),
    }


def _side_data(side):
    return {
        "position": _text(side["position"]),
        "status": _text(side["status"]),
        "text": _text(side["text"]),
        "message": _text(side["message"]),
        "retrying": bool(side["retrying"]),
        "model": _text(side["model"]),
        "media": _media_data(side.get("media")),
    }


def battle_data(payload):
    """BattleSerializer(payload).data, field for field, without DRF's per-field machinery: the vote
    answers with it many times a second (tests/test_vote_path.py checks the two agree)."""
    return {
        "id": _text(payload["id"]),
        "arena": _text(payload["arena"]),
        "display_mode": _text(payload["display_mode"]),
        "prompt": _text(payload["prompt"]),
        "prompt_images": [_media_data(tile) for tile in payload["prompt_images"]],
        "k": int(payload["k"]),
        "sides": [_side_data(side) for side in payload["sides"]],
        "turns": [
            {
                "index": int(turn["index"]),
                "message": _text(turn["message"]),
                "sides": [_side_data(side) for side in turn["sides"]],
                "ranking": turn["ranking"],
            }
            for turn in payload["turns"]
        ],
        "can_follow_up": bool(payload["can_follow_up"]),
        "turns_left": int(payload["turns_left"]),
        "per_turn_vote": bool(payload["per_turn_vote"]),
        "finished": bool(payload["finished"]),
        "failed": bool(payload["failed"]),
        "votable": bool(payload["votable"]),
        "vote": _text(payload["vote"]),
        "ranking": payload["ranking"],
        "ranking_text": _text(payload["ranking_text"]),
        "none_acceptable": bool(payload["none_acceptable"]),
        "rationale": _text(payload["rationale"]),
        "created_at": _CREATED_AT.to_representation(payload["created_at"]),
    }
