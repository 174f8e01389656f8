"""The record of truth: what was shown (Comparison) and what someone said about it (Judgment)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from inference.models import ModelEndpoint, Prompt, Response


class Comparison(models.Model):
    """K ≥ 2 responses to one prompt, in the order they were shown (position 0 is "A")."""

    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="comparisons")
    k = models.PositiveSmallIntegerField(help_text="How many responses were shown.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(name="comparison_k_at_least_2", condition=Q(k__gte=2))]

    def __str__(self):
        return f"Comparison {self.pk} (K={self.k})"


class ComparisonSlot(models.Model):
    """Which response stood at which position of a comparison."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveSmallIntegerField()
    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="slots")

    class Meta:
        ordering = ["comparison", "position"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "position"], name="slot_position_unique"),
            models.UniqueConstraint(fields=["comparison", "response"], name="slot_response_unique"),
        ]

    def __str__(self):
        return f"{self.comparison_id}:{self.position_label}"

    @property
    def position_label(self):
        return chr(ord("A") + self.position)


class Judgment(models.Model):
    """One verdict on one comparison, by a person or an AI judge.

    ``ranking`` is a list of tie groups of positions, best first: [[0], [1]] is
    "A better", [[0, 1]] a tie. Raw judgments are never overwritten by aggregates."""

    class Source(models.TextChoices):
        HUMAN = "human"
        AI = "ai"

    comparison = models.ForeignKey(Comparison, on_delete=models.PROTECT, related_name="judgments")
    ranking = models.JSONField(help_text="Tie groups of shown positions, best first.")
    none_acceptable = models.BooleanField(default=False, help_text="Every response was bad.")
    strength = models.SmallIntegerField(null=True, blank=True, help_text="Preference strength, e.g. 1 slight, 2 clear.")
    aspects = models.JSONField(default=dict, blank=True, help_text="Per-aspect rankings or ratings.")
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    reason_tags = models.JSONField(default=list, blank=True)
    rationale = models.TextField(blank=True)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)

    source = models.CharField(max_length=8, choices=Source.choices)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="judgments"
    )
    judge = models.ForeignKey(
        ModelEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="judgments_made"
    )
    judge_prompt_version = models.CharField(max_length=64, blank=True)
    identities_hidden = models.BooleanField(help_text="Model names were hidden when this was made.")
    rubric_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["comparison", "annotator"],
                condition=Q(annotator__isnull=False),
                name="one_judgment_per_annotator",
            ),
            models.UniqueConstraint(
                fields=["comparison", "judge", "judge_prompt_version"],
                condition=Q(judge__isnull=False),
                name="one_judgment_per_judge_version",
            ),
            models.CheckConstraint(
                name="judgment_source_matches_author",
                condition=(Q(source="human", annotator__isnull=False, judge__isnull=True))
                | Q(source="ai", judge__isnull=False, annotator__isnull=True),
            ),
        ]

    def __str__(self):
        return f"Judgment {self.pk} on comparison {self.comparison_id}: {self.ranking}"
