"""Who may export what: researchers and admins export; a researcher reads the campaigns they
manage and the judgments outside every campaign. The command line (user None) reads everything."""

from django.db.models import Q

from annotation.campaigns import is_admin
from annotation.models import Campaign
from annotation.roles import ADMIN, RESEARCHER, has_role

from .options import ExportOptionsError
from .selectors import campaign_membership, outside_every_campaign


class ExportNotAllowed(PermissionError):
    """Only researchers and admins export."""


def can_export(user):
    return has_role(user, RESEARCHER) or has_role(user, ADMIN)


COMMAND_LINE_SCOPE = "every judgment (run by an operator from the command line)"
ADMIN_SCOPE = "every judgment (an admin's export)"
RESEARCHER_SCOPE = (
    "the campaigns the exporting researcher manages (created or was added to), and judgments "
    "outside every campaign (arena battles and other votes, which any researcher may export)"
)


def export_scope(user, options):
    """What ``user`` may export with ``options``: (a Q on Judgment or None for everything,
    a sentence for the dataset card).

    Only researchers and admins export. An admin (and the command line, user None) reads every
    judgment. A researcher reads the campaigns they manage (created, or listed in the campaign's
    researchers) and the judgments that belong to no campaign (arena votes): those carry no
    campaign owner, and researchers have always been able to export them. Asking for a campaign
    that does not exist is a bad option; asking for one they do not manage is refused."""
    if options.campaigns:
        found = set(Campaign.objects.filter(slug__in=options.campaigns).values_list("slug", flat=True))
        missing = [slug for slug in options.campaigns if slug not in found]
        if missing:
            raise ExportOptionsError(
                f"No campaign with the address {', '.join(repr(m) for m in missing)}; check the campaign slug."
            )
    if user is None:
        return None, COMMAND_LINE_SCOPE
    if not can_export(user):
        raise ExportNotAllowed("Only researchers and admins may export datasets.")
    if is_admin(user):
        return None, ADMIN_SCOPE
    owned = dict(
        Campaign.objects.filter(Q(created_by=user) | Q(researchers=user)).distinct().values_list("slug", "id")
    )
    refused = [slug for slug in options.campaigns if slug not in owned]
    if refused:
        raise ExportNotAllowed(
            f"You may export only campaigns you manage, and you are not a researcher of "
            f"{', '.join(repr(r) for r in refused)}; ask its creator or an admin to add you."
        )
    return campaign_membership(owned.values()) | outside_every_campaign(), RESEARCHER_SCOPE
