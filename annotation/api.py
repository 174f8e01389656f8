"""Campaigns over REST: the same services and checks as the pages. Positions are screen slots (0 = "A")."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from . import agreement, queues
from . import campaigns as campaign_services
from . import items as item_import
from .campaigns import CampaignForbidden
from .models import Campaign
from .services import JudgmentConflict


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _raise(exc):
    if isinstance(exc, (CampaignForbidden, queues.NotAssigned)):
        raise PermissionDenied(str(exc)) from exc
    if isinstance(exc, (queues.AssignmentGone, queues.CampaignNotOpen, JudgmentConflict)):
        raise Conflict(str(exc)) from exc
    raise ValidationError({"detail": str(exc)}) from exc


def _campaign(request, slug, manage=False):
    campaign = Campaign.objects.select_related("rubric").filter(slug=slug).first()
    allowed = campaign is not None and (
        campaign_services.can_manage(request.user, campaign)
        or (not manage and campaign_services.can_annotate(request.user, campaign))
    )
    if not allowed:
        raise NotFound("There is no such campaign, or it is not shared with you.")
    return campaign


def assignment_payload(assignment, campaign, user):
    comparison = assignment.item.comparison
    texts = {s.position: s.response.text for s in comparison.slots.select_related("response")}
    return {
        "assignment": assignment.pk,
        "expires_at": assignment.expires_at,
        "prompt": comparison.prompt.conversation,
        "responses": [{"slot": i, "label": chr(65 + i), "text": texts[p]} for i, p in enumerate(assignment.display_order)],
        "rubric": {"version": campaign.rubric.label, **campaign.rubric.spec},
        "progress": queues.progress(campaign, user),
    }


class SubmissionSerializer(serializers.Serializer):
    ranking = serializers.JSONField(help_text="Tie groups of screen slots, best first, e.g. [[1], [0, 2]].")
    strength = serializers.IntegerField(required=False, allow_null=True)
    confidence = serializers.IntegerField(required=False, allow_null=True)
    aspects = serializers.DictField(required=False)
    reason_tags = serializers.ListField(child=serializers.CharField(), required=False)
    rationale = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    none_acceptable = serializers.BooleanField(required=False)
    edited_answer = serializers.CharField(required=False, allow_blank=True)


class NextView(APIView):
    @extend_schema(request=None, summary="Lease the next item (or get the one you hold)")
    def post(self, request, slug):
        campaign = _campaign(request, slug)
        try:
            assignment = queues.next_assignment(campaign, request.user)
        except queues.QueueEmpty as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_204_NO_CONTENT)
        except (ValueError, CampaignForbidden) as exc:
            _raise(exc)
        return Response(assignment_payload(assignment, campaign, request.user))


class SubmitView(APIView):
    @extend_schema(request=SubmissionSerializer, summary="Submit a judgment for a leased item")
    def post(self, request, slug, assignment_id):
        campaign = _campaign(request, slug)
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "Send the submission as a JSON object."})
        try:
            assignment = queues.submit(campaign, request.user, assignment_id, dict(request.data))
        except (ValueError, CampaignForbidden, LookupError) as exc:
            _raise(exc)
        return Response({"judgment": assignment.judgment_id, "ranking": assignment.judgment.ranking,
                         "rubric_version": assignment.judgment.rubric_version}, status=status.HTTP_201_CREATED)


class SkipView(APIView):
    @extend_schema(summary="Skip a leased item, with a reason")
    def post(self, request, slug, assignment_id):
        campaign = _campaign(request, slug)
        try:
            queues.skip(campaign, request.user, assignment_id, str(request.data.get("reason", "")))
        except (ValueError, CampaignForbidden, LookupError) as exc:
            _raise(exc)
        return Response({"skipped": assignment_id})


class UndoView(APIView):
    @extend_schema(request=None, summary="Undo your last submission within the campaign's undo window")
    def post(self, request, slug):
        campaign = _campaign(request, slug)
        try:
            assignment = queues.undo_last(campaign, request.user)
        except (ValueError, CampaignForbidden) as exc:
            _raise(exc)
        return Response(assignment_payload(assignment, campaign, request.user))


class AgreementView(APIView):
    @extend_schema(summary="Agreement per aspect (researchers of the campaign)")
    def get(self, request, slug):
        campaign = _campaign(request, slug, manage=True)
        return Response(agreement.campaign_agreement(campaign))


class ImportView(APIView):
    @extend_schema(summary="Import items from JSONL or CSV (multipart: file, format, dry_run)")
    def post(self, request, slug):
        campaign = _campaign(request, slug, manage=True)
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"detail": "Attach the file to import as 'file'."})
        dry_run = str(request.data.get("dry_run", "")).lower() in ("1", "true", "on", "yes")
        try:
            report = item_import.import_items(campaign, upload.read(), request.data.get("format", "jsonl"),
                                              dry_run=dry_run, user=request.user)
        except item_import.ImportInvalid as exc:
            raise ValidationError({"detail": str(exc), "rows": exc.errors}) from exc
        return Response(report.as_dict(), status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED)
