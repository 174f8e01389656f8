from django.db import models


class RatingSnapshot(models.Model):
    """A leaderboard as computed at one moment; derived, so it can always be rebuilt."""

    class Method(models.TextChoices):
        ELO = "elo", "Online Elo"

    method = models.CharField(max_length=16, choices=Method.choices)
    computed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    judgment_count = models.PositiveIntegerField()
    last_judgment_id = models.BigIntegerField(null=True)
    rows = models.JSONField(help_text="Leaderboard rows, best first.")
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-computed_at", "-id"]
        get_latest_by = ["computed_at", "id"]

    def __str__(self):
        return f"{self.get_method_display()} over {self.judgment_count} judgments ({self.computed_at:%Y-%m-%d %H:%M})"
