"""Routing over REST: read and change a campaign's routing settings, and read each item's decision."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import campaigns as campaign_services
from annotation.models import CampaignRouting
from annotation.routing_records import RoutingInvalid, decisions_of, routing_of

from . import services
from .dashboard import routing_report


def _managed(request, slug):
    campaign = campaign_services.managed_campaign(request.user, slug)
    if campaign is None:
        raise NotFound("There is no such campaign, or it is not shared with you.")
    return campaign


class RoutingSettingsSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    policy = serializers.ChoiceField(choices=CampaignRouting.Policy.values, required=False)
    budget_share = serializers.FloatField(
        required=False, allow_null=True, help_text="Share of items people label, 0–1."
    )
    budget_count = serializers.IntegerField(
        required=False, allow_null=True, help_text="Or a number of items."
    )
    audit = serializers.FloatField(
        required=False, help_text="Share of the human budget drawn at random (0–1)."
    )
    judges = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Judge endpoint names."
    )
    tagger = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    refit_every = serializers.IntegerField(required=False, min_value=1)
    seed = serializers.IntegerField(required=False)


class DecisionSerializer(serializers.Serializer):
    item = serializers.IntegerField(source="item_id")
    external_id = serializers.CharField(source="item.external_id")
    comparison = serializers.IntegerField(source="item.comparison_id")
    destination = serializers.CharField()
    policy = serializers.CharField()
    predicted_gain = serializers.FloatField(allow_null=True)
    audit = serializers.BooleanField()
    slice = serializers.CharField()
    ai_label = serializers.CharField()
    ai_confidence = serializers.FloatField(allow_null=True)
    model_version = serializers.CharField()
    reason = serializers.CharField()
    decided_at = serializers.DateTimeField()


class DecisionPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DecisionSerializer(many=True)


class RoutingStateSerializer(RoutingSettingsSerializer):
    """The settings (``configured`` false and nothing else before routing is set up), the router's current
    model, and where the items stand."""

    configured = serializers.BooleanField()
    model_version = serializers.CharField(required=False)
    fitted_at = serializers.DateTimeField(required=False, allow_null=True)
    budget = serializers.IntegerField(required=False, help_text="Items people may label.")
    budget_used = serializers.IntegerField(required=False)
    budget_left = serializers.IntegerField(required=False)
    to_people = serializers.IntegerField(required=False)
    to_ai = serializers.IntegerField(required=False)
    undecided = serializers.IntegerField(required=False, help_text="Items still waiting for their AI labels.")
    estimates = serializers.DictField(
        required=False, help_text="AI–human agreement per slice (audit share), gains."
    )


NOT_FOUND_RESPONSE = OpenApiResponse(
    description='{"detail": "There is no such campaign, or it is not shared with you."}'
)


def settings_payload(campaign):
    routing = routing_of(campaign)
    report = routing_report(campaign)
    if routing is None:
        return {"enabled": False, "configured": False}
    return {
        "configured": True,
        "enabled": routing.enabled,
        "policy": routing.policy,
        "budget_share": routing.budget_share,
        "budget_count": routing.budget_count,
        "audit": routing.audit,
        "judges": [j.name for j in routing.judges.all()],
        "tagger": routing.tagger.name if routing.tagger else None,
        "refit_every": routing.refit_every,
        "seed": routing.seed,
        "model_version": routing.model_version,
        "fitted_at": routing.fitted_at,
        "budget": report["budget"],
        "budget_used": report["budget_used"],
        "budget_left": report["budget_left"],
        "to_people": report["to_people"],
        "to_ai": report["to_ai"],
        "undecided": report["undecided"],
        "estimates": routing.estimates,
    }


class RoutingSettingsView(APIView):
    @extend_schema(
        summary="A campaign's routing settings and where its items stand",
        responses={200: RoutingStateSerializer, 404: NOT_FOUND_RESPONSE},
    )
    def get(self, request, slug):
        return Response(settings_payload(_managed(request, slug)))

    @extend_schema(
        request=RoutingSettingsSerializer,
        summary="Change the routing settings (fields left out keep their value)",
        responses={
            200: RoutingStateSerializer,
            400: OpenApiResponse(description='{"detail": "<what to fix>"}'),
            404: NOT_FOUND_RESPONSE,
        },
    )
    def put(self, request, slug):
        campaign = _managed(request, slug)
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "Send the routing settings as a JSON object."})
        serializer = RoutingSettingsSerializer(data=request.data)
        unknown = sorted(set(request.data) - set(serializer.fields))
        if unknown:
            raise ValidationError({"detail": f"Unknown routing setting(s): {', '.join(unknown)}."})
        serializer.is_valid(raise_exception=True)
        try:
            services.configure(campaign, dict(serializer.validated_data))
        except RoutingInvalid as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(settings_payload(campaign))

    patch = put


class RoutingDecisionsView(APIView):
    @extend_schema(
        summary="Each item's routing decision: where it went, the predicted gain, and why",
        parameters=[
            OpenApiParameter("limit", int, description="Page size (default 500)."),
            OpenApiParameter("offset", int),
        ],
        responses={200: DecisionPageSerializer, 404: NOT_FOUND_RESPONSE},
    )
    def get(self, request, slug):
        campaign = _managed(request, slug)
        paginator = LimitOffsetPagination()
        paginator.default_limit = 500
        page = paginator.paginate_queryset(decisions_of(campaign).order_by("item_id"), request, view=self)
        return paginator.get_paginated_response(DecisionSerializer(page, many=True).data)
