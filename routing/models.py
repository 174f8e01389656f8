"""What routing's glue stores for itself: the features of each comparison, computed once.
(Its settings and decisions live in annotation's tables: see annotation.models.CampaignRouting.)"""

from django.db import models

from annotation.models import Comparison


class ComparisonFeatures(models.Model):
    """Prompt tags and pair features of one comparison (see routing.features)."""

    comparison = models.OneToOneField(Comparison, on_delete=models.CASCADE, related_name="routing_features")
    features = models.JSONField(help_text="Feature name -> number, string or boolean.")
    version = models.CharField(
        max_length=200, help_text="Feature code version, tagger and reward judge used."
    )
    tagger_version = models.CharField(max_length=200, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "comparison features"

    def __str__(self):
        return f"Features of comparison {self.comparison_id}"
