"""The life of an export job: queued by a person (the API or the page), run by the export
worker, started again by the sweeper when its worker died, and its finished files served."""

import logging
import os
import uuid
import zipfile
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inference.heartbeat import Heartbeat, stale_before
from inference.services import enqueue

from .models import ExportJob
from .options import ExportOptionsError, parse_options
from .permissions import ExportNotAllowed, can_export, export_scope
from .services import ExportPathError, export_preferences

log = logging.getLogger(__name__)


def start_export_job(user, data):
    """Validate the options and the user's right to them, record an ExportJob and queue it
    for the export worker (which checks the right again when it runs)."""
    if not can_export(user):
        raise ExportNotAllowed("Only researchers and admins may export datasets.")
    options = parse_options(data)
    export_scope(user, options)
    job = ExportJob.objects.create(created_by=user, format=options.format, options=options.as_dict())
    transaction.on_commit(lambda: enqueue("export.run_export_job", job.pk))  # by name: no tasks import
    return job


def _running_alive():
    """Jobs a live worker is running (it stamps them); a stale stamp means the worker died."""
    return Q(status=ExportJob.Status.RUNNING, heartbeat_at__gte=stale_before())


def run_export_job(job_id):
    """Run one queued export job; safe to run twice (a finished job is left alone, one a live
    worker is running is left to it, an interrupted one starts again from scratch)."""
    now = timezone.now()
    claimed = (
        ExportJob.objects.filter(pk=job_id)
        .exclude(status=ExportJob.Status.DONE)
        .exclude(_running_alive())
        .update(
            status=ExportJob.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            judgments_read=0,
            rows_written=0,
            error="",
        )
    )
    job = ExportJob.objects.filter(pk=job_id).first()
    if not claimed:
        return job

    def progress(read, written, total):
        ExportJob.objects.filter(pk=job.pk).update(
            judgments_read=read, rows_written=written, judgments_total=total
        )

    def stamp():
        ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
            heartbeat_at=timezone.now()
        )

    try:
        options = parse_options(job.options)
        with Heartbeat(stamp):
            result = export_preferences(
                options, job.directory, overwrite=True, progress=progress, user=job.created_by
            )
    except (ExportOptionsError, ExportPathError, ExportNotAllowed) as exc:
        _fail(job, str(exc))
        return job
    except Exception as exc:
        log.exception("Export job %s failed", job.public_id)
        _fail(job, f"The export failed unexpectedly ({type(exc).__name__}); an admin can see the worker log.")
        return job
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        files=result["files"],
        summary=result["summary"],
        rows_written=result["summary"]["rows_total"],
        judgments_read=result["summary"]["judgments_read"],
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def requeue_stranded_jobs():
    """The sweeper's part for exports (beat): a running job whose worker stopped stamping it, or a
    queued one with no sign of life for INFERENCE_REQUEUE_PENDING_SECONDS (a lost message), is
    queued again. Returns the job ids queued."""
    now = timezone.now()
    lost = ExportJob.objects.filter(
        Q(status=ExportJob.Status.RUNNING, heartbeat_at__lt=stale_before())
        | Q(
            status=ExportJob.Status.QUEUED,
            created_at__lt=now - timedelta(seconds=settings.INFERENCE_REQUEUE_PENDING_SECONDS),
        )
        & (
            Q(heartbeat_at__isnull=True)
            | Q(heartbeat_at__lt=now - timedelta(seconds=settings.INFERENCE_REQUEUE_PENDING_SECONDS))
        )
    )
    ids = list(lost.values_list("pk", flat=True)[:100])
    ExportJob.objects.filter(pk__in=ids).update(status=ExportJob.Status.QUEUED, heartbeat_at=now)
    for pk in ids:
        enqueue("export.run_export_job", pk)
    return ids


def _fail(job, message):
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.FAILED, error=message, finished_at=timezone.now()
    )
    job.refresh_from_db()


def job_zip_path(job):
    """A zip of every finished file of a job (written next to them the first time; the files never change
    once the job is done), or None while the job has no files."""
    if job.status != ExportJob.Status.DONE or not job.files:
        return None
    target = job.directory.parent / f"{job.public_id}.zip"
    if not target.exists():
        partial = target.with_suffix(f".{uuid.uuid4().hex}.partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in job.files:
                archive.write(job.directory / name, arcname=f"{job.public_id}/{name}")
        os.replace(partial, target)  # whole or absent, even if two requests race
    return target


def job_file_path(job, name):
    """The absolute path of one finished file of a job, or None if it is not one of its files."""
    if job.status != ExportJob.Status.DONE or name not in (job.files or []):
        return None
    path = job.directory / name
    return path if path.is_file() else None
