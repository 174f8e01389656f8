import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class ExportJob(models.Model):
    """One export of judgments to a training dataset, started from the API or the page
    and run by a worker. Its files live in EXPORTS_DIR/<public_id>/."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="export_jobs"
    )
    format = models.CharField(max_length=16)
    options = models.JSONField(help_text="Every policy and filter, as parsed (export.options.ExportOptions).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    judgments_total = models.PositiveIntegerField(null=True, blank=True)
    judgments_read = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    files = models.JSONField(default=list, blank=True, help_text="Relative paths of the finished files.")
    summary = models.JSONField(
        default=dict, blank=True, help_text="Counts and statistics, as in the dataset card."
    )
    error = models.TextField(blank=True, help_text="Why the export failed, as a sentence.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Stamped while a worker runs the job; a stale stamp means its worker died.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="export_failed_has_error", condition=~Q(status="failed") | ~Q(error="")
            ),
        ]

    def __str__(self):
        return f"Export {self.public_id} ({self.format}, {self.status})"

    @property
    def progress_percent(self):
        if self.status == self.Status.DONE:
            return 100
        if not self.judgments_total:
            return 0
        return min(99, int(100 * self.judgments_read / self.judgments_total))

    @property
    def directory(self):
        return settings.EXPORTS_DIR / str(self.public_id)
