from rest_framework import serializers

from .services import MAX_RATIONALE_CHARS, VOTES


class StartBattleSerializer(serializers.Serializer):
    prompt = serializers.CharField(trim_whitespace=True, allow_blank=False)
    arena = serializers.SlugField(required=False, help_text="Arena slug; the first open arena if omitted.")


class VoteSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(choices=list(VOTES), help_text="a, b, tie or both_bad.")
    rationale = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_RATIONALE_CHARS)


class SideSerializer(serializers.Serializer):
    position = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "running", "done", "failed"])
    text = serializers.CharField()
    message = serializers.CharField()
    retrying = serializers.BooleanField(help_text="The worker writing this answer stopped; it is being written again.")
    model = serializers.CharField(allow_null=True, help_text="Null until you have voted.")


class BattleSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    arena = serializers.SlugField()
    display_mode = serializers.CharField(help_text="How the arena shows answers: plain, markdown or auto (per answer).")
    prompt = serializers.CharField()
    sides = SideSerializer(many=True)
    finished = serializers.BooleanField()
    failed = serializers.BooleanField()
    votable = serializers.BooleanField()
    vote = serializers.CharField(allow_null=True)
    rationale = serializers.CharField()
    created_at = serializers.DateTimeField()


class LeaderboardRowSerializer(serializers.Serializer):
    model = serializers.CharField()
    rating = serializers.FloatField()
    ci_low = serializers.FloatField(help_text="Lower end of the 95% interval (its kind: the board's `interval`).")
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
    category = serializers.CharField(default="", allow_blank=True, help_text="Prompt category; empty = all prompts.")


class LeaderboardSerializer(serializers.Serializer):
    method = serializers.CharField()
    style_control = serializers.BooleanField()
    category = serializers.CharField()
    categories = serializers.DictField(child=serializers.CharField(), help_text="Categories with a board of their own.")
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
    diagnostics = serializers.JSONField(allow_null=True, help_text="Win-rate and battle matrices, cycles, flip votes.")
