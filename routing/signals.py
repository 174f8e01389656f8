"""The hooks routing needs from below (annotation cannot import us): a new item of a routed campaign, and
a new verdict on a routed item."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from annotation.models import CampaignItem, CampaignRouting, Judgment

from . import services


@receiver(post_save, sender=Judgment, dispatch_uid="routing-judgment-saved")
def judgment_saved(sender, instance, created, **kwargs):
    if created:
        services.judgment_saved(instance)


@receiver(post_save, sender=CampaignItem, dispatch_uid="routing-item-saved")
def item_saved(sender, instance, created, **kwargs):
    """New items of a routed campaign: their AI labels are asked for at once (one pass per burst)."""
    if created and CampaignRouting.objects.filter(campaign_id=instance.campaign_id, enabled=True).exists():
        services.request_routing(instance.campaign_id)


@receiver(post_save, sender=CampaignRouting, dispatch_uid="routing-settings-saved")
@receiver(post_delete, sender=CampaignRouting, dispatch_uid="routing-settings-deleted")
def routing_settings_changed(sender, **kwargs):
    # Now (this transaction's next check reads the new setting) and again after commit (another
    # thread that checked in between read the old one and remembered it).
    services.routing_changed()
    transaction.on_commit(services.routing_changed)
