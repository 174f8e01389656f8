"""Log every change to matchmaking (policy, K, weights, entries, outages) for the sampling page."""

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from inference.models import ModelEndpoint

from .board import record_change
from .models import Arena, ArenaEntry

ARENA_FIELDS = ("matchmaking", "k", "is_open")


@receiver(pre_save, sender=Arena, dispatch_uid="arena-change-before")
@receiver(pre_save, sender=ArenaEntry, dispatch_uid="entry-change-before")
@receiver(pre_save, sender=ModelEndpoint, dispatch_uid="endpoint-change-before")
def _remember(sender, instance, **kwargs):
    instance._before = sender.objects.filter(pk=instance.pk).first() if instance.pk else None
    if sender is ModelEndpoint and instance._before and instance._before.private and not instance.private:
        instance.released_at = instance.released_at or timezone.now()  # a private variant goes public now


@receiver(post_save, sender=Arena, dispatch_uid="arena-change")
def _arena_saved(sender, instance, created, **kwargs):
    before = getattr(instance, "_before", None)
    if created or before is None:
        record_change(
            instance, "arena opened", after=", ".join(f"{f} {getattr(instance, f)}" for f in ARENA_FIELDS)
        )
        return
    for field in ARENA_FIELDS:
        old, new = getattr(before, field), getattr(instance, field)
        if old != new:
            record_change(instance, f"{field} changed", before=old, after=new)


@receiver(post_save, sender=ArenaEntry, dispatch_uid="entry-change")
def _entry_saved(sender, instance, created, **kwargs):
    before = getattr(instance, "_before", None)
    name = instance.endpoint.name
    if created or before is None:
        record_change(instance.arena, f"{name} entered with weight", after=instance.weight)
    elif before.weight != instance.weight:
        record_change(instance.arena, f"{name} weight changed", before=before.weight, after=instance.weight)


@receiver(m2m_changed, sender=Arena.endpoints.through, dispatch_uid="entries-added")
def _entries_added(sender, instance, action, pk_set, **kwargs):
    """arena.endpoints.add() writes entries without saving them one by one; log them too."""
    if action != "post_add" or not isinstance(instance, Arena):
        return
    for entry in ArenaEntry.objects.filter(arena=instance, endpoint_id__in=pk_set).select_related("endpoint"):
        record_change(instance, f"{entry.endpoint.name} entered with weight", after=entry.weight)


@receiver(post_delete, sender=ArenaEntry, dispatch_uid="entry-removed")
def _entry_removed(sender, instance, **kwargs):
    record_change(
        instance.arena, f"{instance.endpoint.name} left the arena; its weight was", before=instance.weight
    )


@receiver(post_save, sender=ModelEndpoint, dispatch_uid="endpoint-change")
def _endpoint_saved(sender, instance, created, **kwargs):
    before = getattr(instance, "_before", None)
    if created or before is None:
        return
    for field, label in (("enabled", "enabled"), ("private", "private variant"), ("provider", "provider")):
        old, new = getattr(before, field), getattr(instance, field)
        if old != new:
            for arena in Arena.objects.filter(entries__endpoint=instance):
                record_change(arena, f"{instance.name} {label} changed", before=old, after=new)
