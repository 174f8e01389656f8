"""Campaigns and rubrics: who may do what, and the writes researchers make."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q

from . import roles
from .errors import HasStatus
from .models import Campaign, Rubric
from .rubrics import validate_spec

RESERVED_SLUGS = {"new", "rubrics", "profile"}


class CampaignForbidden(HasStatus, PermissionError):
    """The user may not do this in this campaign; the message says why."""

    status_code = 403


# --- who may do what -------------------------------------------------------


def is_admin(user):
    return user.is_authenticated and (user.is_superuser or roles.has_role(user, roles.ADMIN))


def can_manage(user, campaign):
    """Admins, and researchers who created or were added to the campaign."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or _manages(user, campaign, set(user.groups.values_list("name", flat=True)))


def _manages(user, campaign, roles_held):
    """can_manage for a user in the groups named ``roles_held`` (read once by the caller)."""
    if roles.ADMIN in roles_held:
        return True
    if roles.RESEARCHER not in roles_held:
        return False
    return campaign.created_by_id == user.pk or campaign.researchers.filter(pk=user.pk).exists()


def managed_campaign(user, slug):
    """The campaign with this slug if the user may manage it, else None (no hint whether it exists)."""
    campaign = Campaign.objects.filter(slug=slug).first()
    return campaign if campaign is not None and can_manage(user, campaign) else None


def can_annotate(user, campaign):
    """Annotators in one of the campaign's groups (any annotator when it names none), and the campaign's own
    researchers and admins (they try their rubric as annotators will see it).

    One query (two for a researcher who did not create the campaign): it is asked on every queue request."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    mine = Exists(get_user_model().groups.through.objects.filter(user_id=user.pk, group_id=OuterRef("pk")))
    named = Exists(
        Campaign.annotator_groups.through.objects.filter(campaign_id=campaign.pk, group_id=OuterRef("pk"))
    )
    groups = list(
        Group.objects.annotate(mine=mine, named=named)
        .filter(Q(mine=True) | Q(named=True))
        .values_list("name", "mine", "named")
    )
    roles_held = {name for name, is_mine, _ in groups if is_mine}
    if _manages(user, campaign, roles_held):
        return True
    if roles.ANNOTATOR not in roles_held:
        return False
    wanted = [is_mine for _, is_mine, is_named in groups if is_named]
    return not wanted or any(wanted)


def can_create(user):
    return is_admin(user) or roles.has_role(user, roles.RESEARCHER)


def visible_campaigns(user):
    """Campaigns the user may see: managed ones, and open/paused ones they may annotate."""
    campaigns = Campaign.objects.select_related("rubric").prefetch_related("annotator_groups")
    if is_admin(user):
        return campaigns
    seen = Q(pk__in=[])
    if roles.has_role(user, roles.RESEARCHER):
        seen |= Q(created_by=user) | Q(researchers=user)
    if roles.has_role(user, roles.ANNOTATOR):
        seen |= Q(annotator_groups__isnull=True) | Q(annotator_groups__in=user.groups.all())
    return campaigns.filter(seen).distinct()


def require_manage(user, campaign):
    if not can_manage(user, campaign):
        raise CampaignForbidden("Only the campaign's researchers and admins can do this.")


def require_annotate(user, campaign):
    if not can_annotate(user, campaign):
        raise CampaignForbidden("You are not one of this campaign's annotators.")


# --- writes ----------------------------------------------------------------


@transaction.atomic
def create_rubric(family, spec, *, user=None, description=""):
    """A new rubric family at version 1, or the next version of an existing family."""
    spec = validate_spec(spec)
    latest = Rubric.objects.select_for_update().filter(family=family).aggregate(v=Max("version"))["v"] or 0
    return Rubric.objects.create(
        family=family, version=latest + 1, spec=spec, created_by=user, description=description
    )


@transaction.atomic
def revise_rubric(rubric, spec, *, user=None, description=None):
    """Rubrics are frozen: a change is a new version; campaigns on the old version move to the new one.

    Judgments already made keep the old version's label in Judgment.rubric_version."""
    spec = validate_spec(spec)
    latest = Rubric.objects.filter(family=rubric.family).order_by("-version").first()
    if spec == latest.spec and (description is None or description == latest.description):
        return latest
    new = create_rubric(
        rubric.family, spec, user=user, description=latest.description if description is None else description
    )
    Campaign.objects.filter(rubric__family=rubric.family).update(rubric=new)
    return new


def _check_campaign_numbers(k, overlap, gold_rate, warn, pause):
    if not 2 <= k <= 8:
        raise ValueError("K must be between 2 and 8 responses per item.")
    if overlap < 1:
        raise ValueError("Overlap must be at least 1 judgment per item.")
    if not 0 <= gold_rate <= 1:
        raise ValueError("The gold rate must be between 0 and 1.")
    if not 0 <= pause <= warn <= 1:
        raise ValueError("Gold thresholds must satisfy 0 ≤ pause ≤ warn ≤ 1.")


def _check_repeat_rate(rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError("The repeat rate must be between 0 and 1 (e.g. 0.1 re-shows one item in ten).")


@transaction.atomic
def create_campaign(*, user, name, slug, rubric, k=2, overlap=2, groups=(), researchers=(), **fields):
    if not can_create(user):
        raise CampaignForbidden("Only researchers and admins can create campaigns.")
    _check_campaign_numbers(
        k,
        overlap,
        fields.get("gold_rate", 0.0),
        fields.get("gold_warn_below", 0.8),
        fields.get("gold_pause_below", 0.6),
    )
    _check_repeat_rate(fields.get("repeat_rate", 0.0))
    if slug in RESERVED_SLUGS:
        raise ValueError(f"The address {slug!r} is reserved for a page; choose another.")
    if Campaign.objects.filter(slug=slug).exists():
        raise ValueError(f"A campaign with the address {slug!r} already exists; choose another.")
    campaign = Campaign.objects.create(
        name=name, slug=slug, rubric=rubric, k=k, overlap=overlap, created_by=user, **fields
    )
    campaign.annotator_groups.set(groups)
    campaign.researchers.set([user, *researchers] if roles.has_role(user, roles.RESEARCHER) else researchers)
    return campaign


@transaction.atomic
def update_campaign(campaign, *, user, groups=None, **fields):
    require_manage(user, campaign)
    if "k" in fields and fields["k"] != campaign.k and campaign.items.exists():
        raise ValueError("K cannot change once the campaign has items.")
    for name, value in fields.items():
        setattr(campaign, name, value)
    _check_campaign_numbers(
        campaign.k, campaign.overlap, campaign.gold_rate, campaign.gold_warn_below, campaign.gold_pause_below
    )
    _check_repeat_rate(campaign.repeat_rate)
    campaign.save()
    if groups is not None:
        campaign.annotator_groups.set(groups)
    return campaign


def set_status(campaign, status, *, user):
    require_manage(user, campaign)
    if status not in Campaign.Status.values:
        raise ValueError(f"A campaign is open, paused or closed, not {status!r}.")
    campaign.status = status
    campaign.save(update_fields=["status"])
    return campaign
