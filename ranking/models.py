from django.db import models


class RatingSnapshot(models.Model):
    """A leaderboard as computed at one moment, for one view (method × style control).

    Derived from the judgments, so it can always be rebuilt; the history of
    snapshots shows how the board moved."""

    class Method(models.TextChoices):
        ELO = "elo", "Online Elo"
        BT = "bt", "Bradley–Terry"
        PL = "pl", "Plackett–Luce"
        BAYES = "bayes", "Bayesian (Weng–Lin)"

    method = models.CharField(max_length=16, choices=Method.choices)
    style_control = models.BooleanField(default=False, help_text="Controlled for answer length and markdown.")
    category = models.CharField(max_length=32, blank=True, help_text="Prompt category; blank = all prompts.")
    bootstrap = models.PositiveIntegerField(default=0, help_text="Bootstrap resamples behind the intervals.")
    computed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    judgment_count = models.PositiveIntegerField()
    last_judgment_id = models.BigIntegerField(null=True)
    rows = models.JSONField(help_text="Leaderboard rows, best first.")
    style_coefficients = models.JSONField(null=True, blank=True)
    diagnostics = models.JSONField(
        null=True, blank=True, help_text="Win-rate and battle matrices, cycles, flip votes."
    )
    params = models.JSONField(default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-computed_at", "-id"]
        get_latest_by = ["computed_at", "id"]
        indexes = [
            models.Index(
                fields=["method", "style_control", "category", "-computed_at"], name="snapshot_view_latest"
            )
        ]

    def __str__(self):
        style = " (style-controlled)" if self.style_control else ""
        category = f" [{self.category}]" if self.category else ""
        return f"{self.get_method_display()}{style}{category} over {self.judgment_count} judgments ({self.computed_at:%Y-%m-%d %H:%M})"


class ResponseStyle(models.Model):
    """Style-control features of one finished answer, computed once from its text: the periodic
    full refit then reads four numbers per answer instead of every answer's text.

    Keyed by the response's id without a foreign key: ranking's glue reads the record of truth
    only through annotation (DESIGN.md), and a finished answer's text no longer changes."""

    response_id = models.BigIntegerField(primary_key=True)
    tokens = models.PositiveIntegerField()
    headers = models.PositiveIntegerField()
    lists = models.PositiveIntegerField()
    bold = models.PositiveIntegerField()

    def __str__(self):
        return f"style of response {self.response_id}"
