"""The judge scorecard through the API (admins only)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from .scorecard import judge_scorecard


class ScorecardMetricsSerializer(serializers.Serializer):
    compared = serializers.IntegerField(help_text="Comparisons judged by this judge and by a human majority.")
    accuracy = serializers.FloatField(allow_null=True, help_text="Share agreeing with the human majority.")
    cohen_kappa = serializers.FloatField(
        allow_null=True, help_text="Agreement beyond chance with the human majority."
    )
    judged = serializers.IntegerField(help_text="All comparisons this judge judged.")
    position_flip_rate = serializers.FloatField(
        allow_null=True, help_text="Share of verdicts that changed with the order shown."
    )
    length_pairs = serializers.IntegerField(
        help_text="Pairs of unequal length where both judge and people picked a winner."
    )
    judge_picks_longer = serializers.FloatField(allow_null=True)
    people_pick_longer = serializers.FloatField(allow_null=True)


class ScorecardRowSerializer(ScorecardMetricsSerializer):
    judge = serializers.CharField()
    judge_id = serializers.IntegerField()
    method = serializers.CharField()
    judge_prompt_version = serializers.CharField()
    per_category = serializers.DictField(
        child=ScorecardMetricsSerializer(), help_text="Category → the same figures."
    )


class ScorecardQuerySerializer(serializers.Serializer):
    judge = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=1000,
        help_text="Only these judge endpoint ids.",
    )


class JudgeScorecardView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        summary="AI judge scorecard",
        description="Each AI judge's agreement with the human majority (accuracy, Cohen's kappa), "
        "position-flip rate and length bias against people, overall and per category.",
        parameters=[ScorecardQuerySerializer],
        responses=ScorecardRowSerializer(many=True),
    )
    def get(self, request):
        query = ScorecardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        ids = query.validated_data.get("judge", [])
        return Response(ScorecardRowSerializer(judge_scorecard(ids or None), many=True).data)
