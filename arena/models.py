import uuid

from django.conf import settings
from django.db import models

from annotation.models import Comparison, DisplayMode
from inference.models import ModelEndpoint


class Arena(models.Model):
    """A public battle ground: which models fight, and how they are matched."""

    class Matchmaking(models.TextChoices):
        UNIFORM = "uniform", "Uniform: every enabled pair equally likely"
        WEIGHTED = "weighted", "Weighted: by each model's weight (0 = never)"
        ADAPTIVE = "adaptive", "Adaptive: close, uncertain, under-sampled pairs first; new models boosted"

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    endpoints = models.ManyToManyField(ModelEndpoint, through="ArenaEntry", related_name="arenas", verbose_name="models")
    matchmaking = models.CharField(max_length=16, choices=Matchmaking.choices, default=Matchmaking.UNIFORM)
    sample_prompts = models.JSONField(default=list, blank=True, help_text="Prompts a voter can draw instead of typing.")
    is_open = models.BooleanField(default=True)
    # auto by default: chat answers are mostly Markdown, and auto shows plain whenever it is unsure.
    display_mode = models.CharField(
        max_length=8, choices=DisplayMode.choices, default=DisplayMode.AUTO,
        help_text="How answers are shown; every answer also has a show-source toggle.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(name="arena_display_mode_known", condition=models.Q(display_mode__in=DisplayMode.values)),
        ]

    def __str__(self):
        return self.name


class ArenaEntry(models.Model):
    """A model's place in an arena, with its sampling weight for the weighted policy."""

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="entries")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.CASCADE, related_name="arena_entries")
    weight = models.FloatField(default=1.0, help_text="Relative chance of being drawn (weighted policy); 0 = never.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["arena", "endpoint"], name="arena_entry_unique"),
            models.CheckConstraint(name="arena_entry_weight_non_negative", condition=models.Q(weight__gte=0)),
        ]
        verbose_name_plural = "arena entries"

    def __str__(self):
        return f"{self.endpoint} in {self.arena} (weight {self.weight:g})"


class Battle(models.Model):
    """One voter's anonymous battle: a comparison shown to them in an arena.

    It is addressed by a random public id, so URLs say nothing about the models."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    arena = models.ForeignKey(Arena, on_delete=models.PROTECT, related_name="battles")
    comparison = models.OneToOneField(Comparison, on_delete=models.PROTECT, related_name="battle")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="battles")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Battle {self.public_id}"
