"""Campaigns over REST: the same services and checks as the pages. Positions are screen slots (0 = "A")."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from . import agreement, pool_items, queues
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
    kind = "repeat" if assignment.is_repeat else ""
    return {
        "assignment": assignment.pk,
        "submit_url": reverse(f"api-campaign-{kind}submit", args=[campaign.slug, assignment.pk]),
        "skip_url": reverse(f"api-campaign-{kind}skip", args=[campaign.slug, assignment.pk]),
        "expires_at": assignment.expires_at,
        "display_mode": campaign.display_mode,
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
        except queues.QueueBusy as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": str(exc.retry_after)})
        except (ValueError, CampaignForbidden) as exc:
            _raise(exc)
        return Response(assignment_payload(assignment, campaign, request.user))


class SubmitView(APIView):
    repeat = False  # True on the repeats/… route: a self-consistency repeat, stored apart from judgments

    @extend_schema(request=SubmissionSerializer, summary="Submit a judgment for a leased item (post to the "
                   "submit_url the next call gave)")
    def post(self, request, slug, assignment_id):
        campaign = _campaign(request, slug)
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "Send the submission as a JSON object."})
        try:
            if self.repeat:
                repeat = queues.submit_repeat(campaign, request.user, assignment_id, dict(request.data))
                return Response({"repeat": repeat.pk, "ranking": repeat.ranking}, status=status.HTTP_201_CREATED)
            assignment = queues.submit(campaign, request.user, assignment_id, dict(request.data))
        except (ValueError, CampaignForbidden, LookupError) as exc:
            _raise(exc)
        return Response({"judgment": assignment.judgment_id, "ranking": assignment.judgment.ranking,
                         "rubric_version": assignment.judgment.rubric_version}, status=status.HTTP_201_CREATED)


class SkipView(APIView):
    repeat = False

    @extend_schema(summary="Skip a leased item, with a reason")
    def post(self, request, slug, assignment_id):
        campaign = _campaign(request, slug)
        try:
            (queues.skip_repeat if self.repeat else queues.skip)(campaign, request.user, assignment_id, str(request.data.get("reason", "")))
        except (ValueError, CampaignForbidden, LookupError) as exc:
            _raise(exc)
        return Response({"skipped": assignment_id})


class UndoView(APIView):
    @extend_schema(request=None, summary="Undo your last submission or skip within the campaign's undo window")
    def post(self, request, slug):
        campaign = _campaign(request, slug)
        try:
            assignment = queues.undo_last(campaign, request.user)
        except (ValueError, CampaignForbidden) as exc:
            _raise(exc)
        # "undone": what was taken back (a submission's answer, in comparison positions, or a skip's reason)
        return Response({**assignment_payload(assignment, campaign, request.user), "undone": assignment.undone})


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
            report = item_import.import_items(campaign, upload.read(), request.data.get("format", "auto"),
                                              dry_run=dry_run, user=request.user)
        except item_import.ImportInvalid as exc:
            raise ValidationError({"detail": str(exc), "rows": exc.errors}) from exc
        return Response(report.as_dict(), status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED)


class BuildItemsSerializer(serializers.Serializer):
    pool = serializers.CharField(required=False, help_text="A response pool's name.")
    prompts = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="Prompt ids (instead of a pool).")
    models = serializers.ListField(child=serializers.CharField(), required=False, help_text="Model names (a pool: a subset).")
    seed = serializers.IntegerField(required=False, default=0)
    dry_run = serializers.BooleanField(required=False, default=False)


class BuildItemsView(APIView):
    @extend_schema(request=BuildItemsSerializer, summary="Build items from a response pool or prompts × models "
                   "(existing finished answers only; nothing is generated)")
    def post(self, request, slug):
        campaign = _campaign(request, slug, manage=True)
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "Send the request as a JSON object."})
        data = request.data
        dry_run = data.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise ValidationError({"detail": "dry_run must be true or false."})
        try:
            report = pool_items.build_items(
                campaign, pool=data.get("pool"), prompts=data.get("prompts"), models=data.get("models"),
                seed=data.get("seed", 0), dry_run=dry_run, user=request.user,
            )
        except (ValueError, CampaignForbidden) as exc:
            _raise(exc)
        return Response(report.as_dict(), status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED)
