"""Reads for exports: which judgments an export reads (query-level filters, on annotation's
models through the ORM), and the export jobs and campaigns a person sees. The judgments
themselves are read a page at a time by annotation.judgment_pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q

from annotation.campaigns import is_admin
from annotation.models import Assignment, Campaign, CampaignItem, Comparison, Judgment
from annotation.roles import ADMIN, GUEST, has_role
from annotation.routing_records import routed_mix

from .models import ExportJob

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

    from .options import ExportOptions


def campaign_membership(campaign_ids: Iterable[int]) -> Q:
    """A Q that keeps judgments of these campaigns: submitted through one of their items'
    assignments, or (with no assignment, e.g. an AI judge's verdict) made on a comparison
    that is one of their items."""
    campaign_ids = list(campaign_ids)
    through_assignment = Exists(
        Assignment.objects.filter(judgment=OuterRef("pk"), item__campaign_id__in=campaign_ids)
    )
    no_assignment = ~Exists(Assignment.objects.filter(judgment=OuterRef("pk")))
    on_item = Exists(
        CampaignItem.objects.filter(comparison=OuterRef("comparison_id"), campaign_id__in=campaign_ids)
    )
    return Q(through_assignment) | (Q(no_assignment) & Q(on_item))


def outside_every_campaign() -> Q:
    """A Q that keeps judgments that belong to no campaign (arena battles and other votes)."""
    return Q(~Exists(Assignment.objects.filter(judgment=OuterRef("pk")))) & Q(
        ~Exists(CampaignItem.objects.filter(comparison=OuterRef("comparison_id")))
    )


def filtered_judgments(options: ExportOptions, scope: Q | None = None) -> QuerySet[Judgment]:
    """The judgments an export reads, before any policy (query-level filters only).

    ``scope`` (a Q, or None for everything) is what the person exporting may read; see
    export.permissions.export_scope."""
    judgments = Judgment.objects.all()
    if scope is not None:
        judgments = judgments.filter(scope)
    if options.campaigns:
        ids = list(Campaign.objects.filter(slug__in=options.campaigns).values_list("id", flat=True))
        judgments = judgments.filter(campaign_membership(ids))
    if options.source == "routed":
        judgments = judgments.filter(routed_mix())
    elif options.source != "both":
        judgments = judgments.filter(source=options.source)
    if options.since:
        judgments = judgments.filter(created_at__gte=options.since)
    if options.until:
        judgments = judgments.filter(created_at__lte=options.until)
    if options.min_confidence is not None:
        judgments = judgments.filter(confidence__gte=options.min_confidence)
    if options.blind_only:
        judgments = judgments.filter(identities_hidden=True)
    if options.arena:
        # The comparison's origin, which the arena sets: export never reads arena.
        judgments = judgments.filter(comparison__origin=Comparison.arena_origin(options.arena))
    if options.exclude_guests:
        guests = Judgment.annotator.field.related_model.groups.through.objects.filter(  # type: ignore[attr-defined]
            user_id=OuterRef("annotator_id"), group__name=GUEST
        )
        judgments = judgments.exclude(Exists(guests))
    return judgments


def count_judgments(options: ExportOptions, scope: Q | None = None) -> int:
    return filtered_judgments(options, scope).count()


def jobs_visible_to(user: User) -> QuerySet[ExportJob]:
    """Export jobs a user may see: their own; admins see everyone's."""
    jobs = ExportJob.objects.select_related("created_by")
    return jobs if has_role(user, ADMIN) else jobs.filter(created_by=user)


def exportable_campaigns(user: User) -> list[tuple[str, str]]:
    """Campaigns a user may export (slug, name): every one for an admin, the ones a researcher
    manages (created or was added to) otherwise."""
    campaigns = Campaign.objects.order_by("slug")
    if not is_admin(user):
        campaigns = campaigns.filter(Q(created_by=user) | Q(researchers=user)).distinct()
    return list(campaigns.values_list("slug", "name"))
