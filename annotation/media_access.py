"""Who may see a stored media file (an image or video answer, a prompt's input image).

The one home of that rule. A file is shown to someone allowed to see a comparison it belongs to:
- admins;
- the voter of the arena battle whose comparison holds it (``battle`` is the reverse name of
  ``arena.Battle.comparison``: an ORM lookup, no import of arena);
- an annotator who was served a campaign item of that comparison, and the campaign's managers;
- for a prompt's input image, also the person who wrote the prompt.
Anyone else gets the same 404 as for a name that does not exist: the answer says nothing."""

from django.db.models import Q

from inference.models import PromptImage, Response

from .campaigns import can_manage, is_admin
from .models import Campaign, Comparison


def _may_see_comparisons(user, comparisons):
    if comparisons.filter(Q(battle__voter=user) | Q(campaign_items__assignments__annotator=user)).exists():
        return True
    campaigns = Campaign.objects.filter(items__comparison__in=comparisons).distinct()
    return any(can_manage(user, campaign) for campaign in campaigns)


def may_see_response(user, response):
    if not user.is_authenticated:
        return False
    if is_admin(user):
        return True
    return _may_see_comparisons(user, Comparison.objects.filter(slots__response=response))


def may_see_prompt_image(user, image):
    if not user.is_authenticated:
        return False
    if is_admin(user) or image.prompt.created_by_id == user.pk:
        return True
    return _may_see_comparisons(user, Comparison.objects.filter(prompt_id=image.prompt_id))


def visible_media(user, name):
    """(storage name, kind) when this user may see the file called ``name``, else None."""
    response = Response.objects.filter(media_name=name, status=Response.Status.DONE).first()
    if response is not None:
        return (name, response.kind) if may_see_response(user, response) else None
    image = PromptImage.objects.select_related("prompt").filter(media_name=name).first()
    if image is not None and may_see_prompt_image(user, image):
        return (name, "image")
    return None
