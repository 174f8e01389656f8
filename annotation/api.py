"""Campaigns over REST: the same services and checks as the pages. Positions are screen slots (0 = "A")."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from inference import media

# Refusals from the queue and the services (CampaignForbidden 403, AssignmentGone 409, QueueBusy 503, a bad
# answer 400, ...) carry their HTTP status (annotation.errors); config.api_errors answers them.
from . import agreement, pool_items, queues
from . import campaigns as campaign_services
from . import items as item_import
from .models import Campaign


def _campaign(request, slug, manage=False):
    campaign = Campaign.objects.select_related("rubric").filter(slug=slug).first()
    # can_annotate includes can_manage: one permission read per request
    check = campaign_services.can_manage if manage else campaign_services.can_annotate
    allowed = campaign is not None and check(request.user, campaign)
    if not allowed:
        raise NotFound("There is no such campaign, or it is not shared with you.")
    return campaign


def assignment_payload(assignment, campaign, user):
    comparison = assignment.item.comparison
    slots = {s.position: s.response for s in comparison.slots.select_related("response")}
    kind = "repeat" if assignment.is_repeat else ""
    return {
        "assignment": assignment.pk,
        "submit_url": reverse(f"api-campaign-{kind}submit", args=[campaign.slug, assignment.pk]),
        "skip_url": reverse(f"api-campaign-{kind}skip", args=[campaign.slug, assignment.pk]),
        "expires_at": assignment.expires_at,
        "display_mode": campaign.display_mode,
        "prompt": comparison.prompt.conversation,
        "responses": [
            {
                "slot": i,
                "label": chr(65 + i),
                "text": slots[p].text,
                "media": media.tile(slots[p], f"Response {chr(65 + i)}"),
            }
            for i, p in enumerate(assignment.display_order)
        ],
        "rubric": {"version": campaign.rubric.label, **campaign.rubric.spec},
        "progress": queues.progress(campaign, user),
    }


MAX_TEXT_CHARS = 20_000  # a rationale or an edited answer; far above any real one, bounded for the database


def validated(serializer_class, request, **kwargs):
    """The request body checked by its serializer (a 400 naming the field otherwise); only the keys
    the client sent, plus the serializer's defaults."""
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class SubmissionSerializer(serializers.Serializer):
    """Types only; the rubric (annotation.rubrics.check_submission) checks what the campaign asks for."""

    ranking = serializers.ListField(
        child=serializers.ListField(
            child=serializers.IntegerField(min_value=0, max_value=63), allow_empty=False
        ),
        allow_empty=False,
        max_length=64,
        help_text="Tie groups of screen slots, best first, e.g. [[1], [0, 2]].",
    )
    strength = serializers.IntegerField(required=False, allow_null=True)
    confidence = serializers.IntegerField(required=False, allow_null=True)
    aspects = serializers.DictField(
        child=serializers.DictField(),
        required=False,
        help_text='Per aspect key: {"ranking": [[…]]} or {"ratings": [one per slot]}, with its follow-ups.',
    )
    reason_tags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )
    rationale = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=MAX_TEXT_CHARS
    )
    none_acceptable = serializers.BooleanField(required=False)
    edited_answer = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_CHARS)


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=300,
        help_text="Why you skip this item (e.g. \"I don't know the topic\").",
        error_messages={
            "required": "Say why you skip this item.",
            "blank": "Say why you skip this item.",
            "max_length": "Keep the skip reason under 300 characters.",
        },
    )


class ShownResponseSerializer(serializers.Serializer):
    slot = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # shadows Field.label by name only
    text = serializers.CharField(allow_blank=True)
    media = serializers.JSONField(
        allow_null=True,
        help_text="An image or video response: kind, private url, width, height, format, alt.",
    )


class AssignmentSerializer(serializers.Serializer):
    """What assignment_payload returns: one leased item, in screen order, with no model names."""

    assignment = serializers.IntegerField()
    submit_url = serializers.CharField()
    skip_url = serializers.CharField()
    expires_at = serializers.DateTimeField()
    display_mode = serializers.CharField(help_text="How to show the answers: plain, markdown or auto.")
    prompt = serializers.JSONField(help_text="The conversation: a list of {role, content} messages.")
    responses = ShownResponseSerializer(many=True)
    rubric = serializers.JSONField(help_text="The rubric's spec and its version.")
    progress = serializers.DictField(child=serializers.IntegerField())


class UndoneSerializer(AssignmentSerializer):
    undone = serializers.JSONField(
        help_text="What was taken back: a submission's answer (comparison positions) or a skip's reason."
    )


class SubmittedSerializer(serializers.Serializer):
    judgment = serializers.IntegerField(required=False, help_text="On the submit route.")
    repeat = serializers.IntegerField(required=False, help_text="On the repeats/… route.")
    ranking = serializers.JSONField(help_text="The stored ranking, in comparison positions.")
    rubric_version = serializers.CharField(required=False)


class SkippedSerializer(serializers.Serializer):
    skipped = serializers.IntegerField()


class NextView(APIView):
    error_statuses = (409, 503)  # 503: every item it could take is locked a moment longer than the wait

    @extend_schema(
        request=None,
        responses={200: AssignmentSerializer, 204: None},
        summary="Lease the next item (or get the one you hold); 204 when nothing is left for you",
    )
    def post(self, request, slug):
        campaign = _campaign(request, slug)
        try:
            assignment = queues.next_assignment(campaign, request.user)
        except queues.QueueEmpty:
            return Response(status=status.HTTP_204_NO_CONTENT)  # a 204 carries no body
        # QueueBusy (503, Retry-After) and other refusals answer through config.api_errors
        return Response(assignment_payload(assignment, campaign, request.user))


class SubmitView(APIView):
    repeat = False  # True on the repeats/… route: a self-consistency repeat, stored apart from judgments

    error_statuses = (409,)

    @extend_schema(
        request=SubmissionSerializer,
        responses={201: SubmittedSerializer},
        summary="Submit a judgment for a leased item (post to the submit_url the next call gave)",
    )
    def post(self, request, slug, assignment_id):
        campaign = _campaign(request, slug)
        submission = dict(validated(SubmissionSerializer, request))
        if self.repeat:
            repeat = queues.submit_repeat(campaign, request.user, assignment_id, submission)
            return Response({"repeat": repeat.pk, "ranking": repeat.ranking}, status=status.HTTP_201_CREATED)
        assignment = queues.submit(campaign, request.user, assignment_id, submission)
        return Response(
            {
                "judgment": assignment.judgment_id,
                "ranking": assignment.judgment.ranking,
                "rubric_version": assignment.judgment.rubric_version,
            },
            status=status.HTTP_201_CREATED,
        )


class SkipView(APIView):
    repeat = False
    error_statuses = (409,)

    @extend_schema(
        request=SkipSerializer,
        responses={200: SkippedSerializer},
        summary="Skip a leased item, with a reason",
    )
    def post(self, request, slug, assignment_id):
        campaign = _campaign(request, slug)
        reason = validated(SkipSerializer, request)["reason"]
        (queues.skip_repeat if self.repeat else queues.skip)(campaign, request.user, assignment_id, reason)
        return Response({"skipped": assignment_id})


class UndoView(APIView):
    error_statuses = (409,)

    @extend_schema(
        request=None,
        responses={200: UndoneSerializer},
        summary="Undo your last submission or skip within the campaign's undo window",
    )
    def post(self, request, slug):
        campaign = _campaign(request, slug)
        assignment = queues.undo_last(campaign, request.user)
        # "undone": what was taken back (a submission's answer, in comparison positions, or a skip's reason)
        return Response(
            {**assignment_payload(assignment, campaign, request.user), "undone": assignment.undone}
        )


class AgreementView(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT}, summary="Agreement per aspect (researchers of the campaign)"
    )
    def get(self, request, slug):
        campaign = _campaign(request, slug, manage=True)
        return Response(agreement.campaign_agreement(campaign))


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The items: JSONL (one object a line) or CSV with a header row.")
    format = serializers.ChoiceField(
        choices=["auto", "jsonl", "csv"], default="auto", help_text="auto: told apart by the file's content."
    )
    dry_run = serializers.BooleanField(default=False, help_text="Check and count only; write nothing.")


class ImportView(APIView):
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "imports"

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, "The dry run's report"),
            201: OpenApiResponse(OpenApiTypes.OBJECT, "What was created"),
        },
        summary="Import items from JSONL or CSV (multipart: file, format, dry_run)",
    )
    def post(self, request, slug):
        campaign = _campaign(request, slug, manage=True)
        data = validated(ImportSerializer, request)
        try:
            report = item_import.import_items(
                campaign, data["file"].read(), data["format"], dry_run=data["dry_run"], user=request.user
            )
        except item_import.ImportInvalid as exc:
            raise ValidationError({"detail": str(exc), "rows": exc.errors}) from exc
        return Response(
            report.as_dict(), status=status.HTTP_200_OK if data["dry_run"] else status.HTTP_201_CREATED
        )


class BuildItemsSerializer(serializers.Serializer):
    pool = serializers.CharField(required=False, max_length=200, help_text="A response pool's name.")
    prompts = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=pool_items.MAX_PROMPTS,
        help_text="Prompt ids (instead of a pool).",
    )
    models = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=1000,
        help_text="Model names (a pool: a subset).",
    )
    seed = serializers.IntegerField(required=False, default=0, min_value=-(2**63), max_value=2**63 - 1)
    dry_run = serializers.BooleanField(required=False, default=False)


class BuildItemsView(APIView):
    throttle_scope = "imports"

    @extend_schema(
        request=BuildItemsSerializer,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, "The dry run's plan"),
            201: OpenApiResponse(OpenApiTypes.OBJECT, "What was created"),
        },
        summary="Build items from a response pool or prompts × models "
        "(existing finished answers only; nothing is generated)",
    )
    def post(self, request, slug):
        campaign = _campaign(request, slug, manage=True)
        data = validated(BuildItemsSerializer, request)
        dry_run = data["dry_run"]
        report = pool_items.build_items(
            campaign,
            pool=data.get("pool"),
            prompts=data.get("prompts"),
            models=data.get("models"),
            seed=data["seed"],
            dry_run=dry_run,
            user=request.user,
        )
        return Response(report.as_dict(), status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED)
