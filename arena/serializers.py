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
    model = serializers.CharField(allow_null=True, help_text="Null until you have voted.")


class BattleSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    arena = serializers.SlugField()
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
    battles = serializers.IntegerField()
    wins = serializers.IntegerField()
    ties = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True)


class LeaderboardSerializer(serializers.Serializer):
    method = serializers.CharField()
    computed_at = serializers.DateTimeField(allow_null=True)
    judgment_count = serializers.IntegerField()
    rows = LeaderboardRowSerializer(many=True)
